//! The access control commands of RFC 4314 section 3: SETACL, DELETEACL,
//! GETACL, LISTRIGHTS and MYRIGHTS, over store-core's ACL operations, which
//! every front end's rights checks read.

use std::fmt::Write as _;

use store_core::rights::Rights;
use store_core::AclMode;

use super::{folder_of, principal};
use crate::protocol::command::AclCommand;
use crate::protocol::response::{self, Completion};
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs one ACL command.
pub async fn execute(session: &mut Session, command: AclCommand) -> CommandResult {
    let principal = principal(session)?;
    let store = session.state.store.clone();
    match command {
        AclCommand::Set {
            mailbox,
            identifier,
            rights,
        } => {
            let (mode, letters) = match rights.strip_prefix('+') {
                Some(l) => (AclMode::Add, l),
                None => match rights.strip_prefix('-') {
                    Some(l) => (AclMode::Remove, l),
                    None => (AclMode::Replace, rights.as_str()),
                },
            };
            // RFC 4314 3.1: an unknown right letter is an error.
            let rights = Rights::parse(letters)
                .map_err(|c| Completion::bad(format!("Unknown right '{c}' (RFC 4314 2.1)")))?;
            let folder = folder_of(&mailbox)?;
            store
                .set_acl(&principal, &folder, &identifier, rights, mode)
                .await?;
            Ok(Completion::ok("SETACL completed"))
        }
        AclCommand::Delete {
            mailbox,
            identifier,
        } => {
            let folder = folder_of(&mailbox)?;
            store.delete_acl(&principal, &folder, &identifier).await?;
            Ok(Completion::ok("DELETEACL completed"))
        }
        AclCommand::Get { mailbox } => {
            let folder = folder_of(&mailbox)?;
            let acl = store.get_acl(&principal, &folder).await?;
            let mut line = String::from("* ACL ");
            response::mailbox(&mut line, &mailbox);
            for (identifier, rights) in acl {
                line.push(' ');
                response::astring(&mut line, &identifier);
                let _ = write!(line, " {rights}");
            }
            line.push_str("\r\n");
            session.out.push_str(&line);
            Ok(Completion::ok("GETACL completed"))
        }
        AclCommand::ListRights {
            mailbox,
            identifier,
        } => {
            let folder = folder_of(&mailbox)?;
            // store-core asks `a` (RFC 4314 4) before anything is written.
            let (required, optional) = store.list_rights(&principal, &folder, &identifier).await?;
            let mut line = String::from("* LISTRIGHTS ");
            response::mailbox(&mut line, &mailbox);
            line.push(' ');
            response::astring(&mut line, &identifier);
            if required.is_empty() {
                line.push_str(" \"\"");
            } else {
                let _ = write!(line, " {required}");
            }
            for right in optional {
                let _ = write!(line, " {}", right.letter());
            }
            line.push_str("\r\n");
            session.out.push_str(&line);
            Ok(Completion::ok("LISTRIGHTS completed"))
        }
        AclCommand::MyRights { mailbox } => {
            let folder = folder_of(&mailbox)?;
            let rights = store.my_rights(&principal, &folder).await?;
            let mut line = String::from("* MYRIGHTS ");
            response::mailbox(&mut line, &mailbox);
            let _ = write!(line, " {rights}\r\n");
            session.out.push_str(&line);
            Ok(Completion::ok("MYRIGHTS completed"))
        }
    }
}
