//! The SIP message path: stream framing (RFC 3261 18.3, the TCP/TLS
//! codec) of the input, then parsing and validating each framed message,
//! and the input itself as one datagram (UDP). Must never panic or hang.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use sip_ua::wire::framing::{SipCodec, StreamFrame};
use sip_ua::wire::validate::{validate_request, validate_response};
use sip_ua::wire::{parse_message, Message};
use tokio_util::codec::Decoder;

/// A smaller bound than the default `[sip] max_message_bytes`, so inputs
/// reach it.
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

fn check(raw: Bytes) {
    match parse_message(raw) {
        Ok(Message::Request(request)) => {
            let _ = validate_request(&request);
        }
        Ok(Message::Response(response)) => {
            let _ = validate_response(&response);
        }
        Err(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    check(Bytes::copy_from_slice(data));
    let mut codec = SipCodec::new(MAX_MESSAGE_BYTES);
    let mut buf = BytesMut::from(data);
    // Each frame consumes bytes, so this ends; the bound is a safety net.
    for _ in 0..=data.len() {
        match codec.decode_eof(&mut buf) {
            Ok(Some(StreamFrame::Message(raw))) => check(raw),
            Ok(Some(StreamFrame::Unframeable { .. })) | Ok(None) | Err(_) => break,
        }
    }
});
