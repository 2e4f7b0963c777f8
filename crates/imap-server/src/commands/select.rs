//! SELECT (RFC 3501 6.3.1) and EXAMINE (6.3.2): FLAGS, EXISTS, RECENT,
//! UNSEEN, UIDVALIDITY, UIDNEXT and PERMANENTFLAGS, then READ-WRITE or
//! READ-ONLY. A failed SELECT leaves no mailbox selected.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use store_core::model::SYSTEM_FLAGS;
use store_core::rights::Right;

use super::{folder_of, principal};
use crate::protocol::response::{self, Completion};
use crate::session::error::CommandResult;
use crate::session::mailbox::SelectedMailbox;
use crate::session::Session;

/// Runs SELECT (`read_only` false) or EXAMINE.
pub async fn execute(session: &mut Session, name: &str, read_only: bool) -> CommandResult {
    session.selected = None;
    let principal = principal(session)?;
    let folder = folder_of(name)?;
    let selected = session
        .state
        .store
        .select_folder(&principal, &folder)
        .await?;
    let rights = selected.rights;
    let read_only = read_only
        || ![
            Right::Write,
            Right::Insert,
            Right::Expunge,
            Right::DeleteObject,
            Right::Seen,
        ]
        .iter()
        .any(|r| rights.contains(*r));
    let mailbox = SelectedMailbox::new(&session.state, folder, selected, read_only);

    let mut keywords: BTreeSet<&str> = SYSTEM_FLAGS.iter().copied().collect();
    for m in &mailbox.messages {
        keywords.extend(m.flags.iter());
    }
    let out = &mut session.out;
    out.push_str("* FLAGS ");
    response::flag_list(out, keywords.iter().copied());
    let _ = write!(
        out,
        "\r\n* {} EXISTS\r\n* {} RECENT\r\n",
        mailbox.exists(),
        mailbox.recent()
    );
    if let Some(i) = mailbox
        .messages
        .iter()
        .position(|m| !m.flags.contains("\\Seen"))
    {
        let _ = write!(out, "* OK [UNSEEN {}] First unseen\r\n", i + 1);
    }
    let _ = write!(
        out,
        "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n",
        mailbox.uid_validity, mailbox.uid_next
    );
    if read_only {
        out.push_str("* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n");
    } else {
        out.push_str("* OK [PERMANENTFLAGS ");
        response::flag_list(out, SYSTEM_FLAGS.iter().copied().chain(["\\*"]));
        out.push_str("] Flags permitted\r\n");
    }
    session.selected = Some(mailbox);
    Ok(if read_only {
        Completion::ok("EXAMINE completed").with_code("READ-ONLY")
    } else {
        Completion::ok("SELECT completed").with_code("READ-WRITE")
    })
}
