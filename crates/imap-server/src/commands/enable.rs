//! ENABLE (RFC 5161). No capability this server has needs enabling yet
//! (CONDSTORE and QRESYNC will), so `* ENABLED` lists none; unknown names
//! are ignored as RFC 5161 3.1 requires.

use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs ENABLE.
pub fn execute(session: &mut Session, _capabilities: &[String]) -> CommandResult {
    session.out.push_str("* ENABLED\r\n");
    Ok(Completion::ok("ENABLE completed"))
}
