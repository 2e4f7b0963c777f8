//! SUBSCRIBE (RFC 3501 6.3.6) and UNSUBSCRIBE (6.3.7).

use super::{folder_of, principal};
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::names::subscription_name;
use crate::session::Session;

/// Runs SUBSCRIBE (`subscribe` true) or UNSUBSCRIBE.
pub async fn execute(session: &mut Session, name: &str, subscribe: bool) -> CommandResult {
    let principal = principal(session)?;
    let name = subscription_name(&folder_of(name)?);
    session
        .state
        .store
        .set_subscribed(&principal, &name, subscribe)
        .await?;
    Ok(Completion::ok(if subscribe {
        "SUBSCRIBE completed"
    } else {
        "UNSUBSCRIBE completed"
    }))
}
