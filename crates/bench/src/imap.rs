//! The benchmark's own IMAP client: tagged commands, pipelined batches,
//! synchronizing literals for APPEND, IDLE. Responses are read whole
//! (literals inlined) so a command's time is the time to its tagged
//! answer with everything before it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Longest response line or literal accepted (a bench fixture's largest
/// answer is a few MB of SEARCH or LIST).
const MAX_RESPONSE: usize = 256 << 20;

/// The tagged status of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// A command's answer: the untagged and continuation lines before the
/// tagged one (literals inlined, CRLF stripped), and the tagged line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub untagged: Vec<Vec<u8>>,
    pub status: Status,
    /// The tagged line after its tag and status.
    pub text: String,
}

impl Response {
    /// Fails with the tagged line unless the status is OK.
    pub fn ok(self) -> Result<Response> {
        if self.status == Status::Ok {
            Ok(self)
        } else {
            bail!("{:?} {}", self.status, self.text)
        }
    }

    /// The number `n` of an untagged `* n WORD` line (EXISTS, ...).
    pub fn number_before(&self, word: &str) -> Option<u64> {
        self.untagged.iter().find_map(|l| {
            let l = std::str::from_utf8(l).ok()?;
            let mut parts = l.strip_prefix("* ")?.split(' ');
            let n = parts.next()?.parse().ok()?;
            (parts.next()? == word).then_some(n)
        })
    }

    /// The value of a response code `[WORD value]` in any line.
    pub fn code(&self, word: &str) -> Option<String> {
        let needle = format!("[{word} ");
        self.untagged
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .chain(std::iter::once(self.text.clone()))
            .find_map(|l| {
                let at = l.find(&needle)? + needle.len();
                let rest = &l[at..];
                Some(rest[..rest.find(']')?].to_string())
            })
    }
}

/// The size of the literal that ends `line` (`{n}`, `{n+}`, `~{n}`, with
/// or without the CRLF), if it ends with one.
pub fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Reads one response line with the literals it announces inlined
/// (CRLF of the last line stripped); `None` at the end of the stream.
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let start = out.len();
        let n = r.read_until(b'\n', &mut out).await?;
        if n == 0 {
            if out.is_empty() {
                return Ok(None);
            }
            bail!("the stream ended inside a response");
        }
        if out.len() > MAX_RESPONSE {
            bail!("response longer than {MAX_RESPONSE} bytes");
        }
        match literal_len(&out[start..]) {
            Some(len) if len <= MAX_RESPONSE - out.len() => {
                let at = out.len();
                out.resize(at + len, 0);
                r.read_exact(&mut out[at..]).await?;
            }
            Some(len) => bail!("literal of {len} bytes"),
            None => {
                out.truncate(out.len() - if out.ends_with(b"\r\n") { 2 } else { 1 });
                return Ok(Some(out));
            }
        }
    }
}

/// Longest wait for a command's answer (a SELECT of 100k on a loaded
/// machine takes seconds, not minutes).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

/// Reads lines until the one tagged `tag`, within [`ANSWER_TIMEOUT`].
pub async fn read_tagged<R: AsyncBufRead + Unpin>(r: &mut R, tag: &str) -> Result<Response> {
    within("the tagged answer", read_tagged_untimed(r, tag)).await?
}

/// `f`'s output, or an error naming `what` after [`ANSWER_TIMEOUT`].
async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> Result<T> {
    tokio::time::timeout(ANSWER_TIMEOUT, f)
        .await
        .map_err(|_| anyhow!("no {what} in {ANSWER_TIMEOUT:?}"))
}

async fn read_tagged_untimed<R: AsyncBufRead + Unpin>(r: &mut R, tag: &str) -> Result<Response> {
    let mut untagged = Vec::new();
    loop {
        let line = read_line(r)
            .await?
            .ok_or_else(|| anyhow!("connection closed before {tag}'s answer"))?;
        let Some(rest) = line
            .strip_prefix(tag.as_bytes())
            .and_then(|r| r.strip_prefix(b" "))
        else {
            untagged.push(line);
            continue;
        };
        let rest = String::from_utf8_lossy(rest);
        let (word, text) = rest.split_once(' ').unwrap_or((&rest, ""));
        let status = match word.to_ascii_uppercase().as_str() {
            "OK" => Status::Ok,
            "NO" => Status::No,
            "BAD" => Status::Bad,
            other => bail!("tagged line with status {other}"),
        };
        return Ok(Response {
            untagged,
            status,
            text: text.to_string(),
        });
    }
}

/// One IMAP connection.
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next: u64,
    /// The greeting line.
    pub greeting: String,
}

impl Client {
    /// Connects (Nagle off, as every IMAP client here sends whole
    /// commands) and reads the greeting.
    pub async fn connect(addr: SocketAddr) -> Result<Client> {
        let stream = within("connection", TcpStream::connect(addr))
            .await?
            .with_context(|| format!("connect to IMAP {addr}"))?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        let mut c = Client {
            reader: BufReader::with_capacity(64 << 10, r),
            writer: w,
            next: 0,
            greeting: String::new(),
        };
        let g = within("greeting", read_line(&mut c.reader))
            .await??
            .ok_or_else(|| anyhow!("no greeting"))?;
        c.greeting = String::from_utf8_lossy(&g).into_owned();
        if !c.greeting.starts_with("* OK") && !c.greeting.starts_with("* PREAUTH") {
            bail!("greeting {}", c.greeting);
        }
        Ok(c)
    }

    /// Connects and logs in.
    pub async fn login(addr: SocketAddr, user: &str, password: &str) -> Result<Client> {
        let mut c = Client::connect(addr).await?;
        c.run(&format!("LOGIN {user} {password}")).await?;
        Ok(c)
    }

    fn tag(&mut self) -> String {
        self.next += 1;
        format!("b{}", self.next)
    }

    /// Sends `command` (without tag and CRLF) and reads its answer;
    /// fails unless it is OK.
    pub async fn run(&mut self, command: &str) -> Result<Response> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        read_tagged(&mut self.reader, &tag)
            .await?
            .ok()
            .with_context(|| command.to_string())
    }

    /// Sends all `commands` in one write, then reads their answers in
    /// order; fails unless all are OK.
    pub async fn pipeline(&mut self, commands: &[String]) -> Result<Vec<Response>> {
        let mut text = String::new();
        let mut tags = Vec::with_capacity(commands.len());
        for c in commands {
            let tag = self.tag();
            text.push_str(&format!("{tag} {c}\r\n"));
            tags.push(tag);
        }
        self.writer.write_all(text.as_bytes()).await?;
        let mut out = Vec::with_capacity(tags.len());
        for (tag, c) in tags.iter().zip(commands) {
            out.push(
                read_tagged(&mut self.reader, tag)
                    .await?
                    .ok()
                    .with_context(|| c.clone())?,
            );
        }
        Ok(out)
    }

    /// APPENDs `message` to `mailbox` with a synchronizing literal (the
    /// command line, the server's `+`, then the literal and CRLF).
    pub async fn append(&mut self, mailbox: &str, message: &[u8]) -> Result<Response> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} APPEND {mailbox} {{{}}}\r\n", message.len()).as_bytes())
            .await?;
        let line = within("continuation", read_line(&mut self.reader))
            .await??
            .ok_or_else(|| anyhow!("closed before the continuation"))?;
        if !line.starts_with(b"+") {
            bail!("APPEND: {}", String::from_utf8_lossy(&line));
        }
        let mut data = Vec::with_capacity(message.len() + 2);
        data.extend_from_slice(message);
        data.extend_from_slice(b"\r\n");
        self.writer.write_all(&data).await?;
        read_tagged(&mut self.reader, &tag).await?.ok()
    }

    /// Starts IDLE and waits for the server's `+`.
    pub async fn idle(&mut self) -> Result<()> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} IDLE\r\n").as_bytes())
            .await?;
        loop {
            let line = within("IDLE continuation", read_line(&mut self.reader))
                .await??
                .ok_or_else(|| anyhow!("closed before IDLE's continuation"))?;
            if line.starts_with(b"+") {
                return Ok(());
            }
            if line.starts_with(tag.as_bytes()) {
                bail!("IDLE: {}", String::from_utf8_lossy(&line));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_sizes() {
        assert_eq!(literal_len(b"* 1 FETCH (BODY[] {12}\r\n"), Some(12));
        assert_eq!(literal_len(b"a APPEND x {5+}\r\n"), Some(5));
        assert_eq!(literal_len(b"* 1 FETCH (BINARY[1] ~{0}"), Some(0));
        assert_eq!(literal_len(b"* OK [ALERT] {not}\r\n"), None);
        assert_eq!(literal_len(b"* OK {}\r\n"), None);
        assert_eq!(literal_len(b"* 3 EXISTS\r\n"), None);
    }

    #[tokio::test]
    async fn tagged_answer_with_untagged_lines_and_a_literal() {
        let wire: &[u8] = b"* 2 EXISTS\r\n\
* 1 FETCH (BODY[] {11}\r\nhello\r\nbye)\r\n\
* OK [HIGHESTMODSEQ 42] highest\r\n\
b7 OK [READ-WRITE] done\r\n\
b8 NO [TRYCREATE] nope\r\n";
        let mut r = wire;
        let resp = read_tagged(&mut r, "b7").await.unwrap();
        assert_eq!(resp.status, Status::Ok);
        assert_eq!(resp.text, "[READ-WRITE] done");
        assert_eq!(resp.untagged.len(), 3);
        assert_eq!(resp.untagged[1], b"* 1 FETCH (BODY[] {11}\r\nhello\r\nbye)");
        assert_eq!(resp.number_before("EXISTS"), Some(2));
        assert_eq!(resp.code("HIGHESTMODSEQ").as_deref(), Some("42"));
        assert_eq!(resp.code("READ-WRITE"), None);
        let no = read_tagged(&mut r, "b8").await.unwrap();
        assert_eq!(no.status, Status::No);
        assert!(no.untagged.is_empty());
        assert!(no.ok().is_err());
        // The stream ends: no answer for b9.
        assert!(read_tagged(&mut r, "b9").await.is_err());
    }

    #[tokio::test]
    async fn a_literal_cut_short_is_an_error() {
        let mut r: &[u8] = b"* 1 FETCH (BODY[] {100}\r\nshort";
        assert!(read_line(&mut r).await.is_err());
    }

    #[tokio::test]
    async fn a_tag_prefix_is_not_the_tag() {
        let mut r: &[u8] = b"b10 OK other\r\nb1 OK mine\r\n";
        let resp = read_tagged(&mut r, "b1").await.unwrap();
        assert_eq!(resp.untagged, vec![b"b10 OK other".to_vec()]);
        assert_eq!(resp.text, "mine");
    }
}
