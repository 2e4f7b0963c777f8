//! STARTTLS (RFC 3501 6.2.1): the tagged OK is sent in the clear, then the
//! session negotiates TLS (see `Session::start_tls`) and forgets nothing
//! but what was pipelined in the clear, which it refuses.

use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs STARTTLS.
pub fn execute(session: &mut Session) -> CommandResult {
    if session.is_tls() {
        return Ok(Completion::bad("TLS is already active"));
    }
    if session.is_compressed() {
        // Back from UNAUTHENTICATE over COMPRESS: TLS would have to go
        // under the compression layer (RFC 4978 4 orders TLS first).
        return Ok(Completion::bad("STARTTLS is not allowed after COMPRESS"));
    }
    if session.state.tls.is_none() {
        return Ok(Completion::no("TLS is not configured"));
    }
    Ok(Completion::ok("Begin TLS negotiation now"))
}
