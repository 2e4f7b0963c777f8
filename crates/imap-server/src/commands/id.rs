//! ID (RFC 2971): logs what the client says of itself and names the
//! server.

use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs ID.
pub fn execute(
    session: &mut Session,
    parameters: Option<Vec<(String, Option<String>)>>,
) -> CommandResult {
    if parameters.as_ref().is_some_and(|p| p.len() > 30) {
        return Ok(Completion::bad("ID takes at most 30 field-value pairs"));
    }
    if let Some(p) = &parameters {
        let client: Vec<String> = p
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("NIL")))
            .collect();
        tracing::info!(client = %client.join(", "), "client ID");
    }
    session.out.push_str(&format!(
        "* ID (\"name\" \"cpm-store\" \"version\" \"{}\")\r\n",
        env!("CARGO_PKG_VERSION")
    ));
    Ok(Completion::ok("ID completed"))
}
