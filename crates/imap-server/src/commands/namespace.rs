//! NAMESPACE (RFC 2342): the personal namespace without prefix, other
//! users' shared folders under `Shared/`, no public namespace.

use crate::protocol::response::{self, Completion};
use crate::session::error::CommandResult;
use crate::session::names::{DELIMITER, SHARED_ROOT};
use crate::session::Session;

/// Runs NAMESPACE.
pub fn execute(session: &mut Session) -> CommandResult {
    let mut line = String::from("* NAMESPACE ((\"\" \"/\")) ((");
    response::string(&mut line, &format!("{SHARED_ROOT}{DELIMITER}"));
    line.push_str(" \"/\")) NIL\r\n");
    session.out.push_str(&line);
    Ok(Completion::ok("NAMESPACE completed"))
}
