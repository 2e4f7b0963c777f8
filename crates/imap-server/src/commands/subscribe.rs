//! SUBSCRIBE (RFC 3501 6.3.6) and UNSUBSCRIBE (6.3.7).

use super::principal;
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs SUBSCRIBE (`subscribe` true) or UNSUBSCRIBE.
pub async fn execute(session: &mut Session, name: &str, subscribe: bool) -> CommandResult {
    let principal = principal(session)?;
    session
        .state
        .store
        .set_subscribed(&principal, name, subscribe)
        .await?;
    Ok(Completion::ok(if subscribe {
        "SUBSCRIBE completed"
    } else {
        "UNSUBSCRIBE completed"
    }))
}
