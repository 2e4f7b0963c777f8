//! NOOP (RFC 3501 6.1.2) and CHECK (6.4.1). Both only give the session a
//! chance to report changes, which the session does after every command;
//! CHECK has nothing to flush, since every write is durable when
//! acknowledged.

use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs NOOP or CHECK.
pub fn execute(_session: &mut Session) -> CommandResult {
    Ok(Completion::ok("Completed"))
}
