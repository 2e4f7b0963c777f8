//! Message boundaries on stream transports (RFC 3261 18.3): a message is
//! its header block and exactly Content-Length bytes of body. CRLFs
//! between messages are keep-alives (RFC 5626 3.5.1) and are skipped.

use bytes::{Buf, Bytes, BytesMut};
use tokio::time::Instant;
use tokio_util::codec::Decoder;

use super::parse::{content_length, header_end};

/// What a stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFrame {
    /// One whole message, for [`super::parse_message`].
    Message(Bytes),
    /// A message that cannot be delimited: no usable Content-Length, or
    /// larger than the bound. `head` is its header block, from which a
    /// 400 or 513 can be built; the stream cannot go on after it.
    Unframeable {
        /// The header block (with its empty line).
        head: Bytes,
        /// 400 or 513.
        status: u16,
        /// Why.
        reason: String,
    },
}

/// The stream framer, bounded to `max_message_bytes` per message. It
/// remembers how far it has looked for the end of the header block, and
/// the length of a message whose header block is read, so bytes arriving a
/// few at a time cost no rescans; and when the message being read began
/// (for the listener's message timeout).
#[derive(Debug)]
pub struct SipCodec {
    max_message_bytes: usize,
    broken: bool,
    /// Bytes of the buffer searched for the empty line without finding it.
    scanned: usize,
    /// The length of the message whose header block has been read.
    total: Option<usize>,
    /// When the first byte of the message being read was seen.
    started: Option<Instant>,
    /// When keep-alive CRLFs were last skipped.
    keepalive: Option<Instant>,
}

impl SipCodec {
    /// A framer for messages of at most `max_message_bytes`.
    pub fn new(max_message_bytes: usize) -> SipCodec {
        SipCodec {
            max_message_bytes,
            broken: false,
            scanned: 0,
            total: None,
            started: None,
            keepalive: None,
        }
    }

    /// When the first byte of a message not yet whole was decoded; `None`
    /// between messages (keep-alive CRLFs do not count).
    pub fn message_started(&self) -> Option<Instant> {
        self.started
    }

    /// When keep-alive CRLFs between messages (RFC 5626 3.5.1) were last
    /// decoded, if ever.
    pub fn last_keepalive(&self) -> Option<Instant> {
        self.keepalive
    }
}

/// A stream that must be closed: its bytes cannot be delimited.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    /// The header block has no end within the bound.
    #[error("no end of headers within {0} bytes")]
    HeadersTooLong(usize),
    /// The peer closed in the middle of a message.
    #[error("stream ended inside a message")]
    Torn,
    /// I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What the header block of the message being read tells.
enum Head {
    /// Its end has not arrived yet.
    Incomplete,
    /// The message cannot be delimited.
    Refused(StreamFrame),
    /// The message's whole length, header block included.
    Length(usize),
}

impl SipCodec {
    /// Gives up on the stream: the header block goes out for a response.
    fn refuse(&mut self, buf: &mut BytesMut, end: usize, status: u16, reason: &str) -> Head {
        self.broken = true;
        Head::Refused(StreamFrame::Unframeable {
            head: buf.split_to(end).freeze(),
            status,
            reason: reason.to_string(),
        })
    }

    /// Looks for the end of the header block where the last look stopped
    /// (keep-alive CRLFs before a message are skipped), and reads the
    /// message's length from it.
    fn read_head(&mut self, buf: &mut BytesMut) -> Result<Head, FramingError> {
        if self.scanned == 0 {
            let skip = buf
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            if skip > 0 {
                buf.advance(skip);
                self.keepalive = Some(Instant::now());
            }
            if buf.is_empty() {
                return Ok(Head::Incomplete);
            }
        }
        self.started.get_or_insert_with(Instant::now);
        // The empty line may straddle the previous look's end.
        let from = self.scanned.saturating_sub(3);
        let Some(end) = header_end(&buf[from..]).map(|e| e + from) else {
            if buf.len() > self.max_message_bytes {
                return Err(FramingError::HeadersTooLong(self.max_message_bytes));
            }
            self.scanned = buf.len();
            return Ok(Head::Incomplete);
        };
        let head_text = String::from_utf8_lossy(&buf[..end]);
        let length = match content_length(&head_headers(&head_text)) {
            Ok(Some(n)) => n,
            Ok(None) => {
                return Ok(self.refuse(
                    buf,
                    end,
                    400,
                    "Content-Length is required on stream transports",
                ))
            }
            Err(reason) => return Ok(self.refuse(buf, end, 400, &reason)),
        };
        let total = end.saturating_add(length);
        if total > self.max_message_bytes {
            return Ok(self.refuse(buf, end, 513, "Message Too Large"));
        }
        self.total = Some(total);
        Ok(Head::Length(total))
    }
}

impl Decoder for SipCodec {
    type Item = StreamFrame;
    type Error = FramingError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<StreamFrame>, FramingError> {
        if self.broken {
            buf.clear();
            return Ok(None);
        }
        let total = match self.total {
            Some(total) => total,
            None => match self.read_head(buf)? {
                Head::Incomplete => return Ok(None),
                Head::Refused(frame) => return Ok(Some(frame)),
                Head::Length(total) => total,
            },
        };
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        self.total = None;
        self.scanned = 0;
        self.started = None;
        Ok(Some(StreamFrame::Message(buf.split_to(total).freeze())))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<StreamFrame>, FramingError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.iter().all(|b| *b == b'\r' || *b == b'\n') => Ok(None),
            None => Err(FramingError::Torn),
        }
    }
}

/// The Content-Length fields of a header block, for framing only (the
/// start line skipped, compact names expanded as by the parser).
fn head_headers(head: &str) -> super::Headers {
    let mut headers = super::Headers::new();
    for line in head.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            let name = super::parse::expand_compact(name.trim());
            if name.eq_ignore_ascii_case("Content-Length") {
                headers.push(name, value.trim());
            }
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> (Vec<StreamFrame>, Result<(), String>) {
        let mut codec = SipCodec::new(1000);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match codec.decode_eof(&mut buf) {
                Ok(Some(f)) => out.push(f),
                Ok(None) => return (out, Ok(())),
                Err(e) => return (out, Err(e.to_string())),
            }
        }
    }

    #[test]
    fn content_length_delimits_messages_on_a_stream() {
        let two = b"\r\n\r\nMESSAGE sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabcOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        let (f, end) = frames(two);
        assert_eq!(end, Ok(()));
        assert_eq!(f.len(), 2);
        let StreamFrame::Message(first) = &f[0] else {
            panic!()
        };
        assert!(first.ends_with(b"\r\n\r\nabc"));
    }

    #[test]
    fn a_message_arriving_a_byte_at_a_time_is_framed_once_whole() {
        let input = b"\r\nOPTIONS sip:a@b SIP/2.0\r\nl: 2\r\n\r\nokMESSAGE sip:a@b SIP/2.0\r\n";
        let mut codec = SipCodec::new(1000);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for (i, b) in input.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            if let Some(f) = codec.decode(&mut buf).unwrap() {
                frames.push((i, f));
            }
            // Between messages (and during keep-alive CRLFs) no message is
            // being read; from its first byte on, one is.
            let between = i < 2 || frames.len() == 1 && buf.is_empty();
            assert_eq!(codec.message_started().is_none(), between, "at byte {i}");
        }
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, 36);
        assert_eq!(
            frames[0].1,
            StreamFrame::Message(Bytes::from_static(
                b"OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\n\r\nok"
            ))
        );
        assert_eq!(&buf[..], b"MESSAGE sip:a@b SIP/2.0\r\n");
    }

    #[test]
    fn a_stream_without_content_length_or_cut_short_is_refused() {
        let (f, _) = frames(b"MESSAGE sip:a@b SIP/2.0\r\nTo: x\r\n\r\nabc");
        assert!(matches!(f[0], StreamFrame::Unframeable { status: 400, .. }));
        let (f, end) = frames(b"MESSAGE sip:a@b SIP/2.0\r\nl: 30\r\n\r\nabc");
        assert!(f.is_empty());
        assert!(end.is_err());
        let (f, _) = frames(b"MESSAGE sip:a@b SIP/2.0\r\nl: 5000\r\n\r\nabc");
        assert!(matches!(f[0], StreamFrame::Unframeable { status: 513, .. }));
    }
}
