//! Non-INVITE client transactions (RFC 3261 17.1.2) for the requests the
//! store sends: over UDP the request is retransmitted by Timer E (T1,
//! doubling to T2; T2 once a provisional response came), and Timer F
//! (64 T1) ends the wait on every transport.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::SipConfig;
use crate::transport::Peer;
use crate::wire::{Request, Response};

/// A request the store sent got no final response.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Timer F fired (RFC 3261 17.1.2.2: treated as a 408).
    #[error("no final response within {0:?} (Timer F)")]
    Timeout(Duration),
    /// The transport refused the request (RFC 3261 8.1.3.1: a 503).
    #[error(transparent)]
    Transport(#[from] crate::transport::SendError),
    /// The request has no branch to match responses by.
    #[error("request without a Via branch")]
    NoBranch,
}

/// The client transactions waiting for responses, by Via branch.
#[derive(Debug, Default)]
pub struct ClientTransactions {
    pending: Mutex<HashMap<String, mpsc::Sender<Response>>>,
}

impl ClientTransactions {
    /// Sends `request` to `peer` and waits for its final response.
    pub async fn send(
        &self,
        peer: &Peer,
        request: &Request,
        config: &SipConfig,
    ) -> Result<Response, ClientError> {
        let branch = request
            .top_via()
            .and_then(|v| v.branch)
            .ok_or(ClientError::NoBranch)?;
        let (tx, mut rx) = mpsc::channel(8);
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(branch.clone(), tx);
        let result = self.exchange(peer, request, config, &mut rx).await;
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&branch);
        result
    }

    async fn exchange(
        &self,
        peer: &Peer,
        request: &Request,
        config: &SipConfig,
        responses: &mut mpsc::Receiver<Response>,
    ) -> Result<Response, ClientError> {
        let bytes = request.to_bytes();
        peer.send(bytes.clone()).await?;
        let timer_f = tokio::time::sleep(config.transaction_timeout());
        tokio::pin!(timer_f);
        let mut interval = config.t1;
        let mut provisional = false;
        loop {
            let timer_e = tokio::time::sleep(interval);
            tokio::select! {
                response = responses.recv() => match response {
                    Some(r) if r.code >= 200 => return Ok(r),
                    Some(_) => provisional = true,
                    None => return Err(ClientError::Timeout(config.transaction_timeout())),
                },
                _ = timer_e, if !peer.transport.is_reliable() => {
                    peer.send(bytes.clone()).await?;
                    interval = if provisional { config.t2() } else { (interval * 2).min(config.t2()) };
                }
                _ = &mut timer_f => return Err(ClientError::Timeout(config.transaction_timeout())),
                // A stream that ends carries no response (RFC 3261 18.4:
                // a transport error).
                _ = peer.closed() => return Err(ClientError::Transport(crate::transport::SendError(peer.addr))),
            }
        }
    }

    /// Hands a received response to its transaction; `false` if none
    /// waits for it (a stray response is discarded, RFC 3261 18.1.2).
    pub fn on_response(&self, response: Response) -> bool {
        let Some(branch) = response.top_via().and_then(|v| v.branch) else {
            return false;
        };
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match pending.get(&branch) {
            Some(tx) => tx.try_send(response).is_ok(),
            None => false,
        }
    }
}
