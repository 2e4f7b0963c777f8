//! ENABLE (RFC 5161) of CONDSTORE and QRESYNC (RFC 7162 3.1, 3.2.3;
//! QRESYNC implies CONDSTORE), UTF8=ACCEPT (RFC 6855 3: mailbox names and
//! strings are UTF-8 from then on) and IMAP4rev2 (RFC 9051 appendix E:
//! UTF-8 names, no `\Recent`/RECENT). `* ENABLED` lists what this command
//! newly enabled; unknown names are ignored as RFC 5161 3.1 requires.

use crate::protocol::mutf7;
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs ENABLE.
pub fn execute(session: &mut Session, capabilities: &[String]) -> CommandResult {
    let mut enabled = Vec::new();
    for name in capabilities {
        match name.to_ascii_uppercase().as_str() {
            "CONDSTORE" if !session.enabled.condstore => {
                session.enabled.condstore = true;
                enabled.push("CONDSTORE");
            }
            "QRESYNC" if !session.enabled.qresync => {
                session.enabled.qresync = true;
                session.enabled.condstore = true;
                enabled.push("QRESYNC");
            }
            "UTF8=ACCEPT" if !session.enabled.utf8_accept => {
                session.enabled.utf8_accept = true;
                mutf7::enable_utf8_names();
                enabled.push("UTF8=ACCEPT");
            }
            "IMAP4REV2" if !session.enabled.imap4rev2 => {
                // RFC 9051 5.1: mailbox names are UTF-8 in IMAP4rev2.
                session.enabled.imap4rev2 = true;
                session.enabled.utf8_accept = true;
                mutf7::enable_utf8_names();
                enabled.push("IMAP4rev2");
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
