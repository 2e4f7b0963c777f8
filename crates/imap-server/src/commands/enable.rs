//! ENABLE (RFC 5161) of CONDSTORE and QRESYNC (RFC 7162 3.1, 3.2.3;
//! QRESYNC implies CONDSTORE). `* ENABLED` lists what this command newly
//! enabled; unknown names are ignored as RFC 5161 3.1 requires.

use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs ENABLE.
pub fn execute(session: &mut Session, capabilities: &[String]) -> CommandResult {
    let mut enabled = Vec::new();
    for name in capabilities {
        match name.as_str() {
            "CONDSTORE" if !session.enabled.condstore => {
                session.enabled.condstore = true;
                enabled.push("CONDSTORE");
            }
            "QRESYNC" if !session.enabled.qresync => {
                session.enabled.qresync = true;
                session.enabled.condstore = true;
                enabled.push("QRESYNC");
            }
            _ => {}
        }
    }
    let mut line = String::from("* ENABLED");
    for name in enabled {
        line.push(' ');
        line.push_str(name);
    }
    line.push_str("\r\n");
    session.out.push_str(&line);
    Ok(Completion::ok("ENABLE completed"))
}
