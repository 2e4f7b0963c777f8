//! CREATE (RFC 3501 6.3.3), with CREATE-SPECIAL-USE (RFC 6154 3). A
//! trailing delimiter is dropped; superior levels are created as needed,
//! also under a mailbox another user shared with the `k` right. The
//! completion carries the new mailbox's MAILBOXID (RFC 8474 4.1).

use store_core::model::SpecialUse;

use super::{folder_of, principal};
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::names::DELIMITER;
use crate::session::Session;

/// Runs CREATE.
pub async fn execute(
    session: &mut Session,
    name: &str,
    special_use: Option<&str>,
) -> CommandResult {
    let principal = principal(session)?;
    let name = name.strip_suffix(DELIMITER).unwrap_or(name);
    let special_use = match special_use {
        None => None,
        Some(attr) => match parse_special_use(attr) {
            Some(u) => Some(u),
            None => {
                return Ok(
                    Completion::no(format!("Unsupported special use {attr}")).with_code("USEATTR")
                )
            }
        },
    };
    // In another user's namespace store-core asks `k` of the nearest
    // existing parent (RFC 4314 4).
    let folder = folder_of(name)?;
    let created = session
        .state
        .store
        .create_folder(&principal, &folder, special_use)
        .await?;
    Ok(Completion::ok("CREATE completed")
        .with_code(format!("MAILBOXID ({})", created.mailbox_id())))
}

/// An RFC 6154 attribute name, case-insensitively.
pub fn parse_special_use(attr: &str) -> Option<SpecialUse> {
    [
        SpecialUse::All,
        SpecialUse::Archive,
        SpecialUse::Drafts,
        SpecialUse::Flagged,
        SpecialUse::Junk,
        SpecialUse::Sent,
        SpecialUse::Trash,
    ]
    .into_iter()
    .find(|u| u.attribute().eq_ignore_ascii_case(attr))
}
