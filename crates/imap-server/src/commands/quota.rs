//! QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA, with the STORAGE
//! (units of 1024 octets) and MESSAGE resources of store-core's per-account
//! limits.
//!
//! Quota roots: each account has one, its whole storage. To its owner it
//! is named `""`; to an administrator (store-core's rule,
//! `Store::is_administrator`: a login listed in `[imap] quota_admins`)
//! every account's root is also reachable by the account's login, and
//! only an administrator may SETQUOTA (others get `NO [NOPERM]` from
//! store-core's `set_quota`; RFC 9208 4.3 leaves who may to the server). A folder shared by
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
            let login = root_login(&own, &root);
            let usage = session
                .state
                .store
                .quota_of(&own, login)
                .await
                .map_err(|_| unknown_root())?;
            quota_line(&mut session.out, &root, &usage);
            Ok(Completion::ok("GETQUOTA completed"))
        }
        QuotaCommand::Set { root, limits } => {
            let store = &session.state.store;
            if !store.is_administrator(&own) {
                return Err(store_core::StoreError::AdminOnly("SETQUOTA").into());
            }
            let login = root_login(&own, &root).to_string();
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
            store
                .quota_of(&own, &login)
                .await
                .map_err(|_| unknown_root())?;
            store.set_quota(&own, &login, new).await?;
            let usage = store.quota_of(&own, &login).await?;
            quota_line(&mut session.out, &root, &usage);
            Ok(Completion::ok("SETQUOTA completed"))
        }
    }
}

/// The login a quota root names for `own`: `""` is its own account, any
/// other root an account's login.
fn root_login<'a>(own: &'a Principal, root: &'a str) -> &'a str {
    if root.is_empty() {
        own.login()
    } else {
        root
    }
}

fn unknown_root() -> Completion {
    Completion::no("No such quota root").with_code("NONEXISTENT")
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
