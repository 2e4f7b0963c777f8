//! LOGIN (RFC 3501 6.2.3), and the conclusion every way of logging in
//! shares: the store's login throttle (waited out once), the per-account
//! connection limit, and the OK with the new capabilities.

use store_core::throttle::{Attempt, LoginSource};
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
    let result = check_password(session, user, password).await;
    conclude(session, result)
}

/// Where this session's login attempts come from, for the throttle.
pub fn login_source(session: &Session) -> LoginSource {
    LoginSource {
        remote: session.peer.ip(),
        protocol: "imap",
    }
}

/// Checks a plaintext credential (LOGIN, AUTHENTICATE PLAIN) with the
/// store. When the throttle refuses, waits the time it names and asks
/// once more, so a client past a few failures is slowed down rather than
/// refused; if the second ask is refused too (other attempts took the
/// turn), the refusal stands.
pub async fn check_password(
    session: &Session,
    user: &str,
    password: &str,
) -> Result<Principal, StoreError> {
    let store = &session.state.store;
    let source = login_source(session);
    match store.authenticate(source, user, password).await {
        Err(StoreError::LoginThrottled { retry_after }) => {
            tokio::time::sleep(retry_after).await;
            store.authenticate(source, user, password).await
        }
        result => result,
    }
}

/// Asks the throttle for a turn of a mechanism that checks the credential
/// itself (SCRAM), waiting once as [`check_password`] does. The attempt
/// counts as in flight until it is recorded or dropped.
///
/// Errors: [`StoreError::LoginThrottled`].
pub async fn admit(session: &Session, user: &str) -> Result<Attempt, StoreError> {
    let store = &session.state.store;
    let source = login_source(session);
    match store.admit_login(source, user) {
        Err(StoreError::LoginThrottled { retry_after }) => {
            tokio::time::sleep(retry_after).await;
            store.admit_login(source, user)
        }
        result => result,
    }
}

/// Turns an authentication result into the session's new state and the
/// tagged completion.
pub fn conclude(session: &mut Session, result: Result<Principal, StoreError>) -> CommandResult {
    match result {
        Ok(principal) => {
            let Some(slot) = session.state.open_slot(principal.account()) else {
                return Ok(
                    Completion::no("Too many connections for this account").with_code("LIMIT")
                );
            };
            session.authenticated(principal, slot);
            Ok(Completion::ok("Logged in").with_code(format!("CAPABILITY {}", list(session))))
        }
        Err(e @ (StoreError::AuthenticationFailed | StoreError::NoSuchAccount)) => {
            session.login_failures += 1;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}
