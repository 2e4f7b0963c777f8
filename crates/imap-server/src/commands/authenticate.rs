//! AUTHENTICATE (RFC 3501 6.2.2) with SASL-IR (RFC 4959): PLAIN (RFC 4616)
//! and SCRAM-SHA-256 (RFC 7677). Challenges go out as `+ base64`; a
//! client answer of `*` cancels with BAD.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use store_core::StoreError;
use tokio::io::AsyncWriteExt;

use super::capability::cleartext_allowed;
use super::login::{check_password, conclude, login_source};
use crate::protocol::response::Completion;
use crate::sasl;
use crate::session::error::{CommandError, CommandResult};
use crate::session::Session;

/// Longest SASL response line, in bytes.
const MAX_RESPONSE: u64 = 8192;

/// Runs AUTHENTICATE.
pub async fn execute(
    session: &mut Session,
    mechanism: &str,
    initial_response: Option<Vec<u8>>,
) -> CommandResult {
    match mechanism {
        "PLAIN" => plain(session, initial_response).await,
        "SCRAM-SHA-256" => scram(session, initial_response).await,
        _ => Ok(Completion::no("Unsupported authentication mechanism").with_code("CANNOT")),
    }
}

async fn plain(session: &mut Session, initial: Option<Vec<u8>>) -> CommandResult {
    if !cleartext_allowed(session) {
        return Ok(Completion::no("Use STARTTLS or implicit TLS before PLAIN")
            .with_code("PRIVACYREQUIRED"));
    }
    let message = match initial {
        Some(m) => m,
        None => challenge(session, b"").await?,
    };
    let credentials = match sasl::parse_plain(&message) {
        Ok(c) => c,
        Err(e) => return Ok(Completion::bad(e.to_string())),
    };
    let result = check_password(
        session,
        &credentials.authcid,
        secrecy::ExposeSecret::expose_secret(&credentials.password),
    )
    .await;
    let result = match (result, credentials.authzid) {
        (Ok(element), Some(user)) if user != credentials.authcid => {
            act_for(session, element, &user).await
        }
        (result, _) => result,
    };
    conclude(session, result)
}

/// RFC 4616 2: the authorization identity `user` differs from the
/// authenticated login. Allowed only for a trusted network element
/// (`[auth] trusted_elements`, store-core's [`store_core::Store::act_for`],
/// seed 001's remote trusted server): the session then acts as `user`,
/// marked as a network element. Logged at info with both names.
///
/// Errors: [`StoreError::NotTrustedElement`] for any other login, and for
/// an unknown `user` (`NO [AUTHORIZATIONFAILED]`, RFC 5530 3: which
/// accounts exist is not told).
async fn act_for(
    session: &Session,
    element: store_core::Principal,
    user: &str,
) -> Result<store_core::Principal, StoreError> {
    match session.state.store.act_for(&element, user).await {
        Ok(principal) => {
            tracing::info!(
                element = element.login(),
                user = principal.login(),
                "trusted network element acts for a user (AUTHENTICATE PLAIN authzid)"
            );
            Ok(principal)
        }
        Err(StoreError::NotTrustedElement | StoreError::NoSuchAccount) => {
            tracing::warn!(
                login = element.login(),
                user,
                "AUTHENTICATE PLAIN: refused to act for another user"
            );
            Err(StoreError::NotTrustedElement)
        }
        Err(e) => Err(e),
    }
}

async fn scram(session: &mut Session, initial: Option<Vec<u8>>) -> CommandResult {
    let first = match initial {
        Some(m) if !m.is_empty() => m,
        _ => challenge(session, b"").await?,
    };
    // store-core runs the exchange: the principal comes only out of a
    // verified proof. An unknown user gets made-up secrets that look like
    // a real account's, so the exchange fails only at the proof.
    let store = session.state.store.clone();
    let exchange = match store.scram_begin(&first).await {
        Ok(e) => e,
        Err(StoreError::InvalidArgument(why)) => return Ok(Completion::bad(why)),
        Err(e) => return Err(e.into()),
    };
    let last = challenge(session, exchange.server_first().as_bytes()).await?;
    // The throttle's turn is taken only now that the proof is here (in
    // scram_finish): an attempt counts as in flight until its outcome,
    // and a client that never answers must not hold the login's turns.
    let source = login_source(session);
    let result = match store.scram_finish(&exchange, &last, source).await {
        Err(StoreError::LoginThrottled { retry_after }) => {
            tokio::time::sleep(retry_after).await;
            store.scram_finish(&exchange, &last, source).await
        }
        result => result,
    };
    match result {
        Ok((principal, server_final)) => {
            // RFC 5802 has the server's proof travel as a final challenge,
            // which the client answers with an empty response.
            let _ = challenge(session, server_final.as_bytes()).await?;
            conclude(session, Ok(principal))
        }
        Err(StoreError::InvalidArgument(why)) => Ok(Completion::bad(why)),
        Err(e) => conclude(session, Err(e)),
    }
}

/// Sends `+ base64(data)` and reads the client's base64 answer.
///
/// Errors: BAD when the client cancels with `*` or answers with anything
/// but one base64 line of at most [`MAX_RESPONSE`] bytes.
async fn challenge(session: &mut Session, data: &[u8]) -> Result<Vec<u8>, CommandError> {
    session.emit().await?;
    let io = session.io()?;
    io.write_all(format!("+ {}\r\n", B64.encode(data)).as_bytes())
        .await?;
    io.flush().await?;
    let line = session.read_client_line(MAX_RESPONSE).await?;
    let text = line.trim_ascii();
    if text == b"*" {
        return Err(Completion::bad("Authentication cancelled").into());
    }
    B64.decode(text)
        .map_err(|_| Completion::bad("SASL response is not base64").into())
}
