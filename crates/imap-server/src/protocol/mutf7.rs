//! Modified UTF-7 mailbox names (RFC 3501 5.1.3).
//!
//! Printable US-ASCII stands for itself except `&`, written `&-`; any
//! other run of characters is UTF-16 in modified BASE64 (`,` for `/`, no
//! padding) between `&` and `-`. Decoding is strict: a name that an
//! encoder would not have produced (an encoded printable character, an
//! empty or unterminated shift, stray bits, a lone surrogate, a control
//! character) is refused, so no garbage name ever reaches the store.

use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use std::cell::Cell;

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("mailbox name is not valid modified UTF-7 (RFC 3501 5.1.3)")]
pub struct InvalidMailboxName;

fn engine() -> GeneralPurpose {
    // The alphabet literal is a constant of RFC 3501 5.1.3; it cannot fail.
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
            .unwrap_or(base64::alphabet::STANDARD);
    GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(false),
    )
}

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encodes a UTF-8 name for the wire.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&engine().encode(bytes));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a wire name to UTF-8.
///
/// Errors: [`InvalidMailboxName`] for anything but canonical modified UTF-7
/// of a name without control characters.
pub fn decode(wire: &str) -> Result<String, InvalidMailboxName> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(c) = rest.chars().next() {
        if !is_direct(c) {
            return Err(InvalidMailboxName);
        }
        if c != '&' {
            out.push(c);
            rest = &rest[1..];
            continue;
        }
        let end = rest.find('-').ok_or(InvalidMailboxName)?;
        let encoded = &rest[1..end];
        rest = &rest[end + 1..];
        if encoded.is_empty() {
            out.push('&');
            continue;
        }
        let bytes = engine().decode(encoded).map_err(|_| InvalidMailboxName)?;
        if bytes.len() % 2 != 0 {
            return Err(InvalidMailboxName);
        }
        let units = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
        for ch in char::decode_utf16(units) {
            let ch = ch.map_err(|_| InvalidMailboxName)?;
            // A printable ASCII character must be written directly, and
            // control characters have no place in a name.
            if is_direct(ch) || ch.is_control() {
                return Err(InvalidMailboxName);
            }
            out.push(ch);
        }
        // Two adjacent shifts are not canonical ("&AOk-&AOk-").
        if rest.starts_with('&') && !rest.starts_with("&-") {
            return Err(InvalidMailboxName);
        }
    }
    Ok(out)
}

tokio::task_local! {
    /// Whether the connection this task serves enabled UTF8=ACCEPT (RFC
    /// 6855 3) or IMAP4rev2 (RFC 9051 5.1): mailbox names are then raw
    /// UTF-8 both ways. One connection is one task ([`utf8_scope`]).
    static UTF8_NAMES: Cell<bool>;
}

/// Runs `connection` (one client connection's task) with its own
/// UTF-8-names switch, off until [`enable_utf8_names`].
pub async fn utf8_scope<F: std::future::Future>(connection: F) -> F::Output {
    UTF8_NAMES.scope(Cell::new(false), connection).await
}

/// Switches the current connection to UTF-8 mailbox names (ENABLE
/// UTF8=ACCEPT or IMAP4rev2). Outside [`utf8_scope`] it does nothing.
pub fn enable_utf8_names() {
    let _ = UTF8_NAMES.try_with(|on| on.set(true));
}

/// Switches the current connection back to modified UTF-7 names
/// (UNAUTHENTICATE, RFC 8437 3: what ENABLE turned on is reset).
pub fn disable_utf8_names() {
    let _ = UTF8_NAMES.try_with(|on| on.set(false));
}

/// Whether the current connection uses UTF-8 mailbox names.
pub fn utf8_names() -> bool {
    UTF8_NAMES.try_with(Cell::get).unwrap_or(false)
}

/// Marks a name the client sent that is not valid modified UTF-7: the
/// name as sent after this character, which no stored name can contain
/// (store-core refuses control characters), so it matches nothing and
/// commands answer NO for it ([`is_invalid`]) rather than BAD.
pub const INVALID_MARK: char = '\0';

/// A mailbox name as the client sent it (`wire`), as the store names it:
/// raw UTF-8 once UTF-8 names are on, else decoded from modified UTF-7; a
/// name that is neither comes back marked with [`INVALID_MARK`].
pub fn from_client(wire: &str) -> String {
    if utf8_names() {
        return wire.to_string();
    }
    decode(wire).unwrap_or_else(|_| format!("{INVALID_MARK}{wire}"))
}

/// Whether `name` came from [`from_client`] marked invalid.
pub fn is_invalid(name: &str) -> bool {
    name.starts_with(INVALID_MARK)
}

/// `name` as the client expects it: raw UTF-8 once UTF-8 names are on,
/// else modified UTF-7.
pub fn to_client(name: &str) -> String {
    if utf8_names() {
        name.to_string()
    } else {
        encode(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_example_round_trips() {
        // RFC 3501 5.1.3's example.
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        let name = decode(wire).unwrap();
        assert_eq!(name, "~peter/mail/台北/日本語");
        assert_eq!(encode(&name), wire);
        assert_eq!(decode("Tom &- Jerry").unwrap(), "Tom & Jerry");
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        // A character outside the BMP is a surrogate pair.
        assert_eq!(decode(&encode("x😀")).unwrap(), "x😀");
    }

    #[test]
    fn non_canonical_names_are_refused() {
        for bad in [
            "&Jjo!",      // unterminated
            "&U,BTFw",    // no '-'
            "&AGE-",      // encodes 'a', printable ASCII
            "&2D0-",      // lone high surrogate
            "&AOk-&AOk-", // two adjacent shifts
            "caf\u{e9}",  // raw 8-bit
            "tab\there",  // control
            "&AAA-",      // NUL
            "&U,BTF2-",   // trailing bits set
        ] {
            assert_eq!(decode(bad), Err(InvalidMailboxName), "{bad}");
        }
    }
}
