//! Pipelined STOREs (RFC 3501 5.5): when a client sends several STORE
//! commands without waiting for their answers (a client marking messages
//! read as the user scrolls, imaptest), their flag updates are queued
//! together and share one durable commit instead of taking one each.
//! Each is still answered in order, with the untagged FETCHes it would
//! have had alone and its tagged OK only once its update is durable.
//!
//! Only commands already whole in the read buffer join: the server never
//! waits for more input to fill a pipeline. Changes made elsewhere are
//! reported once, after the last STORE (a server may report them at the
//! end of any command, RFC 3501 7); the ones before it report none.

use tokio::io::AsyncBufReadExt;

use crate::commands::store::{self, StoreRequest};
use crate::protocol::command::{Command, Request};
use crate::protocol::grammar::parse_request;
use crate::protocol::response::Completion;

use super::error::CommandError;
use super::{Ending, Flow, Session};

/// Most STOREs run together; more wait for the next round.
const MAX_PIPELINED_STORES: usize = 64;

/// Whether `request` may run in a pipeline of STOREs: a STORE on the
/// selected mailbox that does not first enable CONDSTORE (that would
/// change how the STOREs before it in the pipeline are answered).
fn joins_pipeline(request: &Request, selected: bool, condstore: bool) -> bool {
    matches!(
        &request.command,
        Command::Store { unchanged_since, .. } if selected && (condstore || unchanged_since.is_none())
    )
}

impl Session {
    /// Whether `request` starts a pipeline of STOREs ([`Session::execute_stores`]).
    pub(super) fn starts_pipeline(&self, request: &Request) -> bool {
        joins_pipeline(request, self.selected.is_some(), self.enabled.condstore)
    }

    /// Takes the next command out of the read buffer if it is whole there
    /// (no literal, no NUL, within the command size limit) and a STORE
    /// that may join the pipeline; otherwise leaves the buffer as it is
    /// for the command loop to read.
    fn take_buffered_store(&mut self) -> Option<Request> {
        let (selected, condstore) = (self.selected.is_some(), self.enabled.condstore);
        let max_bytes = self.state.config.max_command_bytes;
        let max_nesting = self.state.config.max_nesting;
        let io = self.io.as_mut()?;
        let buffered = io.buffer();
        let end = buffered.iter().position(|&b| b == b'\n')?;
        let line = buffered[..end]
            .strip_suffix(b"\r")
            .unwrap_or(&buffered[..end]);
        if line.len() > max_bytes || line.ends_with(b"}") || line.contains(&0) {
            return None;
        }
        let request = parse_request(line, Vec::new(), max_nesting).ok()?;
        if !joins_pipeline(&request, selected, condstore) {
            return None;
        }
        io.consume(end + 1);
        Some(request)
    }

    /// Runs `first`, a STORE, with the STOREs that follow it whole in the
    /// read buffer: every flag update is queued before any is waited for,
    /// so they share a group commit; then each is answered in order.
    pub(super) async fn execute_stores(&mut self, first: Request) -> std::io::Result<Flow> {
        let mut requests = vec![first];
        while requests.len() < MAX_PIPELINED_STORES {
            match self.take_buffered_store() {
                Some(request) => requests.push(request),
                None => break,
            }
        }
        let (Some(principal), Some(folder), true) = (
            self.principal.clone(),
            self.selected.as_ref().map(|m| m.folder.clone()),
            requests.len() > 1,
        ) else {
            let mut flow = Flow::Continue;
            for request in requests {
                flow = self.execute(request).await?;
                if flow != Flow::Continue {
                    break;
                }
            }
            return Ok(flow);
        };
        // Prepared in order: each checks its flags and resolves its set
        // against the view, which no STORE changes.
        let mut staged = Vec::with_capacity(requests.len());
        let mut updates = Vec::with_capacity(requests.len());
        let mut last_allows_expunge = false;
        for Request { tag, command } in requests {
            tracing::debug!(command = "STORE", pipelined = true, "command");
            let announce_modseq = !self.enabled.condstore;
            let Some(request) = StoreRequest::of(&command) else {
                staged.push((
                    tag,
                    announce_modseq,
                    command,
                    Err(Completion::bad("Not a STORE")),
                ));
                continue;
            };
            last_allows_expunge = request.uid;
            let prepared = store::prepare(self, request).map(|(prepared, update)| {
                updates.push(update);
                prepared
            });
            staged.push((tag, announce_modseq, command, prepared));
        }
        let mut outcomes = self
            .state
            .store
            .update_flags_in_order(&principal, &folder, updates)
            .await
            .into_iter();
        let count = staged.len();
        let mut flow = Flow::Continue;
        for (i, (tag, announce_modseq, command, prepared)) in staged.into_iter().enumerate() {
            self.name_command(&command);
            let completion = match prepared {
                Err(refusal) => refusal,
                Ok(prepared) => {
                    let outcome = outcomes
                        .next()
                        .unwrap_or(Err(store_core::StoreError::Closed));
                    match store::answer(self, prepared, outcome) {
                        Ok(c) | Err(CommandError::Refused(c)) => c,
                        Err(CommandError::Io(e)) => return Err(e),
                    }
                }
            };
            let ending = if i + 1 == count {
                Ending::Synchronize {
                    allow_expunge: last_allows_expunge,
                }
            } else {
                Ending::Quiet
            };
            flow = self
                .conclude(&tag, completion, ending, announce_modseq)
                .await?;
            if flow == Flow::Close {
                return Ok(flow);
            }
        }
        Ok(flow)
    }
}
