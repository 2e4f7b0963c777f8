//! COMPRESS (RFC 4978 3): DEFLATE on both directions from the byte after
//! the tagged OK. The session swaps its stream once the OK is written
//! ([`crate::session::Flow::Compress`]).

use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs COMPRESS.
///
/// Errors (as completions): NO [COMPRESSIONACTIVE] when the connection is
/// already compressed (RFC 4978 3); BAD for a mechanism other than
/// DEFLATE.
pub fn execute(session: &mut Session, mechanism: &str) -> CommandResult {
    if session.is_compressed() {
        return Ok(Completion::no("DEFLATE active via COMPRESS").with_code("COMPRESSIONACTIVE"));
    }
    if !mechanism.eq_ignore_ascii_case("DEFLATE") {
        return Ok(Completion::bad(format!(
            "Unknown compression mechanism {mechanism}"
        )));
    }
    Ok(Completion::ok("DEFLATE active"))
}
