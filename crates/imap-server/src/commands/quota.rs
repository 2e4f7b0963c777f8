//! QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA, with the STORAGE
//! (units of 1024 octets) and MESSAGE resources of store-core's per-account
//! limits.
//!
//! Quota roots: each account has one, its whole storage. To its owner it
//! is named `""`; to a login listed in `[imap] quota_admins` every
//! account's root is also reachable by the account's login, and only such
//! a login may SETQUOTA (others get `NO [NOPERM]`). A folder shared by
//! another account has no quota root visible to the grantee (an empty
//! `* QUOTAROOT`). `[OVERQUOTA]` on APPEND, COPY and MOVE comes from
//! store-core's refusal; crossing 90 % or 100 % of a limit is announced
//! to the account's sessions as an `[ALERT]` (see `Session::synchronize`).

use std::fmt::Write as _;

use store_core::model::{QuotaLimits, QuotaUsage};
use store_core::Principal;

use super::{folder_of, principal};
use crate::protocol::command::QuotaCommand;
use crate::protocol::response::{self, Completion};
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs one QUOTA command.
pub async fn execute(session: &mut Session, command: QuotaCommand) -> CommandResult {
    let own = principal(session)?;
    match command {
        QuotaCommand::GetRoot { mailbox } => {
            let folder = folder_of(&mailbox)?;
            // The folder must exist and be visible (RFC 9208 4.1.2).
            session.state.store.folder_status(&own, &folder).await?;
            let mut line = String::from("* QUOTAROOT ");
            response::mailbox(&mut line, &mailbox);
            if folder.owner.is_none() {
                line.push_str(" \"\"");
            }
            line.push_str("\r\n");
            session.out.push_str(&line);
            if folder.owner.is_none() {
                let usage = session.state.store.quota(&own).await?;
                quota_line(&mut session.out, "", &usage);
            }
            Ok(Completion::ok("GETQUOTAROOT completed"))
        }
        QuotaCommand::Get { root } => {
            let account = root_account(session, &own, &root).await?;
            let usage = session.state.store.quota(&account).await?;
            quota_line(&mut session.out, &root, &usage);
            Ok(Completion::ok("GETQUOTA completed"))
        }
        QuotaCommand::Set { root, limits } => {
            if !session.state.config.quota_admins.contains(&own.login) {
                return Ok(
                    Completion::no("Only quota administrators may SETQUOTA").with_code("NOPERM")
                );
            }
            let account = root_account(session, &own, &root).await?;
            let mut new = QuotaLimits::default();
            for (resource, limit) in limits {
                match resource.as_str() {
                    "STORAGE" => new.max_bytes = Some(limit.saturating_mul(1024)),
                    "MESSAGE" => new.max_objects = Some(limit),
                    other => {
                        return Ok(Completion::no(format!(
                            "Resource {other} is not supported (STORAGE, MESSAGE)"
                        )))
                    }
                }
            }
            let store = &session.state.store;
            store.set_quota(&account.login, new).await?;
            let usage = store.quota(&account).await?;
            quota_line(&mut session.out, &root, &usage);
            Ok(Completion::ok("SETQUOTA completed"))
        }
    }
}

/// The account a quota root names for `own`: `""` is its own; a login
/// names that account, for quota administrators only.
async fn root_account(
    session: &Session,
    own: &Principal,
    root: &str,
) -> Result<Principal, Completion> {
    if root.is_empty() || root == own.login {
        return Ok(own.clone());
    }
    let unknown = || Completion::no("No such quota root").with_code("NONEXISTENT");
    if !session.state.config.quota_admins.contains(&own.login) {
        return Err(unknown());
    }
    session
        .state
        .store
        .principal_for(root)
        .await
        .map_err(|_| unknown())
}

/// `* QUOTA root (resource usage limit ...)` (RFC 9208 5.1), listing the
/// resources that have a limit; STORAGE in units of 1024 octets, usage
/// rounded up.
fn quota_line(out: &mut String, root: &str, usage: &QuotaUsage) {
    out.push_str("* QUOTA ");
    response::astring(out, root);
    let mut resources = Vec::new();
    if let Some(max) = usage.limits.max_bytes {
        resources.push(format!(
            "STORAGE {} {}",
            usage.bytes.div_ceil(1024),
            max / 1024
        ));
    }
    if let Some(max) = usage.limits.max_objects {
        resources.push(format!("MESSAGE {} {max}", usage.objects));
    }
    let _ = write!(out, " ({})\r\n", resources.join(" "));
}
