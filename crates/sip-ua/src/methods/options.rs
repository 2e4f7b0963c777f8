//! OPTIONS (RFC 3261 11): what this UA serves.

use super::{ACCEPT, ALLOW};
use crate::wire::{Request, Response};

/// 200 with Allow, Accept, Accept-Encoding, Supported (RFC 3261 11.2)
/// and Allow-Events (RFC 6665 8.2.2), to anyone: it reveals nothing of
/// the store.
pub fn handle(request: &Request) -> Response {
    Response::to_request(request, 200)
        .with("Allow", ALLOW)
        .with("Accept", ACCEPT)
        .with("Accept-Encoding", "identity")
        .with("Supported", "")
        .with("Allow-Events", crate::subscription::PACKAGE)
}
