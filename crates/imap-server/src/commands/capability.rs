//! CAPABILITY (RFC 3501 6.1.1): what this server offers in the current
//! state (STARTTLS and the AUTH mechanisms only before login,
//! LOGINDISABLED where cleartext credentials are refused).

use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Whether LOGIN and AUTHENTICATE PLAIN are allowed on this connection
/// (RFC 3501 6.2.3: not in the clear unless the policy allows it).
pub fn cleartext_allowed(session: &Session) -> bool {
    session
        .state
        .config
        .cleartext
        .allows(session.is_tls(), session.peer.ip())
}

/// The capability list, space-separated.
pub fn list(session: &Session) -> String {
    let mut caps = vec!["IMAP4rev1".to_string(), "IMAP4rev2".to_string()];
    if session.principal.is_none() {
        // Not under COMPRESS (after UNAUTHENTICATE): TLS cannot go
        // beneath the compression layer (RFC 4978 4).
        if !session.is_tls() && !session.is_compressed() && session.state.tls.is_some() {
            caps.push("STARTTLS".into());
        }
        if cleartext_allowed(session) {
            caps.push("AUTH=PLAIN".into());
        } else {
            caps.push("LOGINDISABLED".into());
        }
        caps.push("AUTH=SCRAM-SHA-256".into());
        caps.push("SASL-IR".into());
    } else {
        caps.push("UNAUTHENTICATE".into());
    }
    caps.extend(
        [
            "LITERAL+",
            "ID",
            "ENABLE",
            "IDLE",
            "NAMESPACE",
            "UNSELECT",
            "UIDPLUS",
            "MOVE",
            "SPECIAL-USE",
            "CREATE-SPECIAL-USE",
            "ESEARCH",
            "SORT",
            "SORT=DISPLAY",
            "THREAD=ORDEREDSUBJECT",
            "THREAD=REFERENCES",
            "ESORT",
            "CONTEXT=SEARCH",
            "CONTEXT=SORT",
            "CONDSTORE",
            "QRESYNC",
            "QUOTA",
            "QUOTA=RES-STORAGE",
            "QUOTA=RES-MESSAGE",
            "QUOTASET",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "URLAUTH",
            "METADATA",
            "METADATA-SERVER",
            "CONVERT",
            "NOTIFY",
            "ANNOTATE-EXPERIMENT-1",
            "ACL",
            "RIGHTS=texk",
            "OBJECTID",
            "PREVIEW",
            "SAVEDATE",
            "STATUS=SIZE",
            "UTF8=ACCEPT",
            "COMPRESS=DEFLATE",
            "MULTIAPPEND",
            "CATENATE",
            "BINARY",
            "URLAUTH=BINARY",
        ]
        .map(String::from),
    );
    caps.push(format!(
        "APPENDLIMIT={}",
        session.state.config.max_append_bytes
    ));
    caps.join(" ")
}

/// Runs CAPABILITY.
pub fn execute(session: &mut Session) -> CommandResult {
    let line = format!("* CAPABILITY {}\r\n", list(session));
    session.out.push_str(&line);
    Ok(Completion::ok("CAPABILITY completed"))
}
