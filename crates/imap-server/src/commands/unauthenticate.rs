//! UNAUTHENTICATE (RFC 8437 3): back to the not authenticated state, as
//! if the connection had just been greeted but over the same TLS (and
//! COMPRESS) layer; the client may LOGIN or AUTHENTICATE again, within the
//! login throttle and a new login deadline.

use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs UNAUTHENTICATE (only valid once authenticated; the session
/// checks the state first).
pub fn execute(session: &mut Session) -> CommandResult {
    session.unauthenticated();
    Ok(Completion::ok("UNAUTHENTICATE completed"))
}
