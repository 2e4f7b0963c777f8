//! Rendering of server responses (RFC 3501 7): strings as quoted strings
//! or literals, mailbox names in modified UTF-7, the tagged completion,
//! ENVELOPE and BODYSTRUCTURE.

use std::fmt::Write as _;

use store_core::mime::{BodyPart, Envelope, EnvelopeAddress, Param};

use super::mutf7;

/// The status of a tagged (or untagged) completion (RFC 3501 7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// OK
    Ok,
    /// NO
    No,
    /// BAD
    Bad,
}

/// A command's tagged completion: status, optional response code
/// (RFC 3501 7.1, RFC 5530) and human-readable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// OK, NO or BAD.
    pub status: Status,
    /// A response code without brackets, e.g. `READ-WRITE`.
    pub code: Option<String>,
    /// Text for humans.
    pub text: String,
}

impl Completion {
    /// OK with `text`.
    pub fn ok(text: impl Into<String>) -> Completion {
        Completion {
            status: Status::Ok,
            code: None,
            text: text.into(),
        }
    }

    /// NO with `text`.
    pub fn no(text: impl Into<String>) -> Completion {
        Completion {
            status: Status::No,
            code: None,
            text: text.into(),
        }
    }

    /// BAD with `text`.
    pub fn bad(text: impl Into<String>) -> Completion {
        Completion {
            status: Status::Bad,
            code: None,
            text: text.into(),
        }
    }

    /// The same with response code `code`.
    pub fn with_code(mut self, code: impl Into<String>) -> Completion {
        self.code = Some(code.into());
        self
    }

    /// Renders the completion for `tag` (`*` for untagged), with CRLF.
    pub fn render(&self, tag: &str) -> Vec<u8> {
        let status = match self.status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        };
        let text = sanitize(&self.text);
        match &self.code {
            Some(code) => format!("{tag} {status} [{code}] {text}\r\n"),
            None => format!("{tag} {status} {text}\r\n"),
        }
        .into_bytes()
    }
}

/// Text for humans cannot carry CR or LF (RFC 3501 9, `text`).
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// Appends `s` as an IMAP `string`: quoted when it can be, else a literal.
pub fn string(out: &mut String, s: &str) {
    let quotable = s.len() <= 1024 && s.bytes().all(|b| (0x20..0x7f).contains(&b));
    if quotable {
        out.push('"');
        for c in s.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        let _ = write!(out, "{{{}}}\r\n{}", s.len(), s);
    }
}

/// Appends `s` as an `astring`: bare when it is an atom, else a string.
pub fn astring(out: &mut String, s: &str) {
    let atom = !s.is_empty()
        && !s.eq_ignore_ascii_case("NIL")
        && s.bytes()
            .all(|b| b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b));
    if atom {
        out.push_str(s);
    } else {
        string(out, s);
    }
}

/// Appends `s` as an `nstring`: NIL or a string.
pub fn nstring(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.push_str("NIL"),
    }
}

/// Appends a mailbox name as a string: modified-UTF-7 encoded, or as
/// UTF-8 (quoted, RFC 6855 3) once the connection enabled UTF-8 names.
pub fn mailbox(out: &mut String, name: &str) {
    let wire = mutf7::to_client(name);
    if wire.is_ascii() || wire.len() > 1024 || wire.chars().any(char::is_control) {
        return string(out, &wire);
    }
    out.push('"');
    for c in wire.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// A mailbox name rendered alone.
pub fn mailbox_name(name: &str) -> String {
    let mut s = String::new();
    mailbox(&mut s, name);
    s
}

/// Appends a parenthesized list of flags, or `()`.
pub fn flag_list<'a>(out: &mut String, flags: impl IntoIterator<Item = &'a str>) {
    out.push('(');
    for (i, f) in flags.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(f);
    }
    out.push(')');
}

/// Appends an INTERNALDATE `date-time` for Unix time `t` (UTC).
pub fn date_time(out: &mut String, t: i64) {
    out.push('"');
    out.push_str(&store_core::dates::imap_date_time(t));
    out.push('"');
}

fn addresses(out: &mut String, list: &[EnvelopeAddress], utf8: bool) {
    if list.is_empty() {
        out.push_str("NIL");
        return;
    }
    out.push('(');
    for a in list {
        out.push('(');
        header_text(out, a.name.as_deref(), utf8);
        out.push(' ');
        nstring(out, a.adl.as_deref());
        out.push(' ');
        nstring(out, a.mailbox.as_deref());
        out.push(' ');
        nstring(out, a.host.as_deref());
        out.push(')');
    }
    out.push(')');
}

/// Appends header text (a Subject, a display name) as an nstring: as
/// stored when it is ASCII (RFC 2047 words stay encoded, RFC 3501 7.4.2)
/// or when `utf8` (the client enabled UTF8=ACCEPT, RFC 6855 3), else as
/// RFC 2047 `B` encoded words of at most 75 characters, so a client that
/// did not enable UTF-8 never gets raw UTF-8 in an envelope.
fn header_text(out: &mut String, s: Option<&str>, utf8: bool) {
    match s {
        Some(s) if !utf8 && !s.is_ascii() => {
            use base64::Engine as _;
            let mut words = Vec::new();
            let mut rest = s;
            while !rest.is_empty() {
                // 45 bytes of UTF-8 make 60 of base64 plus 12 of framing.
                let mut cut = rest.len().min(45);
                while !rest.is_char_boundary(cut) {
                    cut -= 1;
                }
                let (chunk, tail) = rest.split_at(cut);
                words.push(format!(
                    "=?UTF-8?B?{}?=",
                    base64::engine::general_purpose::STANDARD.encode(chunk)
                ));
                rest = tail;
            }
            string(out, &words.join(" "));
        }
        _ => nstring(out, s),
    }
}

/// Appends an ENVELOPE (RFC 3501 7.4.2); `utf8`: the client enabled
/// UTF8=ACCEPT (RFC 6855), so Subject and display names may be raw UTF-8.
pub fn envelope(out: &mut String, e: &Envelope, utf8: bool) {
    out.push('(');
    nstring(out, e.date.as_deref());
    out.push(' ');
    header_text(out, e.subject.as_deref(), utf8);
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        out.push(' ');
        addresses(out, list, utf8);
    }
    out.push(' ');
    nstring(out, e.in_reply_to.as_deref());
    out.push(' ');
    nstring(out, e.message_id.as_deref());
    out.push(')');
}

fn params(out: &mut String, params: &[Param]) {
    if params.is_empty() {
        out.push_str("NIL");
        return;
    }
    out.push('(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        string(out, k);
        out.push(' ');
        string(out, v);
    }
    out.push(')');
}

fn extension(out: &mut String, part: &BodyPart) {
    out.push(' ');
    match &part.disposition {
        Some((kind, p)) => {
            out.push('(');
            string(out, kind);
            out.push(' ');
            params(out, p);
            out.push(')');
        }
        None => out.push_str("NIL"),
    }
    out.push(' ');
    // Always a list, as Dovecot sends it (RFC 3501 body-fld-lang allows
    // both forms).
    match part.language.as_slice() {
        [] => out.push_str("NIL"),
        many => {
            out.push('(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                string(out, l);
            }
            out.push(')');
        }
    }
    out.push(' ');
    nstring(out, part.location.as_deref());
}

/// Appends a BODYSTRUCTURE (`extensible` true) or BODY (false) of `part`
/// (RFC 3501 7.4.2).
pub fn body_structure(out: &mut String, part: &BodyPart, extensible: bool, utf8: bool) {
    out.push('(');
    if !part.children.is_empty() {
        for child in &part.children {
            body_structure(out, child, extensible, utf8);
        }
        out.push(' ');
        string(out, &part.media_subtype.to_ascii_uppercase());
        if extensible {
            out.push(' ');
            params(out, &part.params);
            extension(out, part);
        }
        out.push(')');
        return;
    }
    string(out, &part.media_type.to_ascii_uppercase());
    out.push(' ');
    string(out, &part.media_subtype.to_ascii_uppercase());
    out.push(' ');
    params(out, &part.params);
    out.push(' ');
    nstring(out, part.id.as_deref());
    out.push(' ');
    nstring(out, part.description.as_deref());
    out.push(' ');
    string(
        out,
        &part
            .encoding
            .as_deref()
            .unwrap_or("7BIT")
            .to_ascii_uppercase(),
    );
    let _ = write!(out, " {}", part.size());
    if let Some(message) = &part.message {
        out.push(' ');
        envelope(out, &message.0, utf8);
        out.push(' ');
        body_structure(out, &message.1, extensible, utf8);
        let _ = write!(out, " {}", part.lines);
    } else if part.media_type.eq_ignore_ascii_case("text") {
        let _ = write!(out, " {}", part.lines);
    }
    if extensible {
        out.push(' ');
        nstring(out, part.md5.as_deref());
        extension(out, part);
    }
    out.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_quote_or_become_literals() {
        let mut s = String::new();
        string(&mut s, "a \"b\" \\");
        assert_eq!(s, "\"a \\\"b\\\" \\\\\"");
        let mut s = String::new();
        string(&mut s, "line\r\nbreak");
        assert_eq!(s, "{11}\r\nline\r\nbreak");
    }

    #[test]
    fn internal_dates() {
        let mut s = String::new();
        date_time(&mut s, 760_686_745);
        assert_eq!(s, "\"08-Feb-1994 05:52:25 +0000\"");
    }

    #[test]
    fn completions() {
        let c = Completion::no("no such mailbox").with_code("NONEXISTENT");
        assert_eq!(c.render("a1"), b"a1 NO [NONEXISTENT] no such mailbox\r\n");
    }
}
