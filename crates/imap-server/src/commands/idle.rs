//! IDLE (RFC 2177): after `+ idling`, changes to the selected mailbox are
//! reported as they are committed (store-core's change feed wakes the
//! session), a `* OK Still here` keepalive goes out every
//! `idle_keepalive` so NATs keep the flow open, and `DONE` ends it. The
//! inactivity autologout does not apply while idling.

use tokio::io::AsyncBufReadExt;
use tokio::sync::broadcast::error::RecvError;

use super::principal;
use crate::protocol::response::Completion;
use crate::session::error::{CommandError, CommandResult};
use crate::session::Session;

/// Longest line accepted while idling (`DONE` is four bytes).
const MAX_LINE: u64 = 1024;

enum Event {
    Input(bool),
    Change(bool),
    Keepalive,
    Shutdown,
}

/// Runs IDLE.
pub async fn execute(session: &mut Session) -> CommandResult {
    let principal = principal(session)?;
    let mut changes = session.state.store.subscribe_changes(&principal);
    let mut shutdown = session.shutdown.clone();
    let period = session.state.config.idle_keepalive;
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    session.out.push_str("+ idling\r\n");
    report(session).await?;
    loop {
        let selected = session.selected.as_ref().map(|m| m.folder_id);
        // With NOTIFY (RFC 5465) every mailbox's changes are reported.
        let notifying = session.notify.is_some();
        let event = {
            let io = session.io()?;
            tokio::select! {
                input = io.fill_buf() => Event::Input(!input?.is_empty()),
                change = changes.recv() => Event::Change(match change {
                    Ok(c) => notifying || Some(c.folder) == selected,
                    // Missed some: look at the mailbox anyway.
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => false,
                }),
                _ = keepalive.tick() => Event::Keepalive,
                _ = shutdown.changed() => Event::Shutdown,
            }
        };
        match event {
            Event::Input(false) => {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
            }
            Event::Input(true) => break,
            Event::Change(true) => report(session).await?,
            Event::Change(false) => {}
            Event::Keepalive => {
                session.out.push_str("* OK Still here\r\n");
                // Folders of other accounts send no change events here.
                report(session).await?;
            }
            Event::Shutdown => {
                session.bye("Server shutting down").await?;
                return Err(std::io::Error::other("server shutting down").into());
            }
        }
    }
    let line = session.read_client_line(MAX_LINE).await?;
    if line.trim_ascii().eq_ignore_ascii_case(b"DONE") {
        Ok(Completion::ok("IDLE terminated"))
    } else {
        Ok(Completion::bad("Expected DONE"))
    }
}

/// Reports the selected mailbox's changes and flushes them.
async fn report(session: &mut Session) -> Result<(), CommandError> {
    if let Err(reason) = session.synchronize(true).await {
        session.bye(&reason).await?;
        return Err(std::io::Error::other("selected mailbox gone").into());
    }
    session.flush().await?;
    Ok(())
}
