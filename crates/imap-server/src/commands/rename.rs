//! RENAME (RFC 3501 6.3.5). Renaming INBOX moves its messages to the new
//! name and leaves an empty INBOX (the store implements that rule).

use super::{folder_of, principal};
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs RENAME.
pub async fn execute(session: &mut Session, from: &str, to: &str) -> CommandResult {
    let principal = principal(session)?;
    let (from_ref, to_ref) = (folder_of(from)?, folder_of(to)?);
    if from_ref.owner != to_ref.owner {
        return Ok(Completion::no("Cannot rename across accounts").with_code("CANNOT"));
    }
    session
        .state
        .store
        .rename_folder(&principal, &from_ref, &to_ref)
        .await?;
    Ok(Completion::ok("RENAME completed"))
}
