//! LOGOUT (RFC 3501 6.1.3): `* BYE`, then the tagged OK, then the
//! connection closes.

use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs LOGOUT.
pub fn execute(session: &mut Session) -> CommandResult {
    session.out.push_str("* BYE Logging out\r\n");
    session.selected = None;
    Ok(Completion::ok("LOGOUT completed"))
}
