//! LOGIN (RFC 3501 6.2.3), and the conclusion every way of logging in
//! shares: the delay after failures from the same address, the per-account
//! connection limit, and the OK with the new capabilities.

use store_core::{Principal, StoreError};

use super::capability::{cleartext_allowed, list};
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs LOGIN.
pub async fn execute(session: &mut Session, user: &str, password: &str) -> CommandResult {
    if !cleartext_allowed(session) {
        return Ok(Completion::no("Use STARTTLS or implicit TLS before LOGIN")
            .with_code("PRIVACYREQUIRED"));
    }
    wait_after_failures(session).await;
    let result = session.state.store.authenticate(user, password).await;
    conclude(session, result)
}

/// Waits as long as past failures from the client's address require.
pub async fn wait_after_failures(session: &Session) {
    let delay = session.state.login_delay(session.peer.ip());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Turns an authentication result into the session's new state and the
/// tagged completion.
pub fn conclude(session: &mut Session, result: Result<Principal, StoreError>) -> CommandResult {
    let ip = session.peer.ip();
    match result {
        Ok(principal) => {
            session.state.record_login(ip, true);
            let Some(slot) = session.state.open_slot(principal.account) else {
                return Ok(
                    Completion::no("Too many connections for this account").with_code("LIMIT")
                );
            };
            session.authenticated(principal, slot);
            Ok(Completion::ok("Logged in").with_code(format!("CAPABILITY {}", list(session))))
        }
        Err(StoreError::AuthenticationFailed | StoreError::NoSuchAccount) => {
            session.state.record_login(ip, false);
            session.login_failures += 1;
            tracing::info!(peer = %session.peer, "authentication failed");
            Ok(Completion::no("Authentication failed").with_code("AUTHENTICATIONFAILED"))
        }
        Err(e) => Err(e.into()),
    }
}
