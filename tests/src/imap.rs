//! A minimal IMAP client for tests: sends raw command text and collects
//! the response lines (literals inlined), so tests can assert on exactly
//! what a client reads.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A raw IMAP connection.
pub struct ImapConnection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The greeting line.
    pub greeting: String,
}

impl ImapConnection {
    /// Connects and reads the greeting.
    pub fn connect(addr: SocketAddr) -> ImapConnection {
        Self::over(TcpStream::connect(addr).expect("connect to IMAP"))
    }

    /// Reads the greeting on a connected `stream`.
    pub fn over(stream: TcpStream) -> ImapConnection {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let writer = stream.try_clone().expect("clone");
        let mut c = ImapConnection {
            reader: BufReader::new(stream),
            writer,
            greeting: String::new(),
        };
        c.greeting = c.read_response_line().expect("greeting");
        c
    }

    /// Connects and logs in.
    pub fn login(addr: SocketAddr, user: &str, password: &str) -> ImapConnection {
        let mut c = Self::connect(addr);
        let r = c.run(&format!("L LOGIN {user} {password}"));
        assert!(r.last().is_some_and(|l| l.starts_with("L OK")), "{r:?}");
        c
    }

    /// Sets how long a read may wait for the server (30 s by default).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout))
            .expect("timeout");
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }

    /// Reads one response line, with any literals it announces appended
    /// (without the CRLF); `None` at end of stream.
    pub fn read_response_line(&mut self) -> Option<String> {
        self.read_response_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// The same as raw bytes, for binary literals (`~{n}`, RFC 3516).
    pub fn read_response_bytes(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self.reader.read_until(b'\n', &mut line).ok()?;
            if n == 0 {
                return None;
            }
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            out.extend_from_slice(&line);
            let Some(size) = literal_size(&line) else {
                return Some(out);
            };
            let mut literal = vec![0u8; size];
            self.reader.read_exact(&mut literal).ok()?;
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&literal);
        }
    }

    /// Sends `command` (tag included) and reads up to its tagged
    /// response; returns every line, the tagged one last.
    pub fn run(&mut self, command: &str) -> Vec<String> {
        let tag = command.split(' ').next().unwrap_or_default().to_string();
        self.send(format!("{command}\r\n").as_bytes());
        self.read_until_tagged(&tag)
    }

    /// Reads lines until the one tagged `tag`.
    pub fn read_until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self
                .read_response_line()
                .unwrap_or_else(|| panic!("connection closed before {tag}'s response: {lines:?}"));
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }
}

fn literal_size(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&inner[open + 1..]).ok()?.parse().ok()
}

/// The tagged (last) line of a command's response.
pub fn tagged(lines: &[String]) -> &str {
    lines.last().map(String::as_str).unwrap_or_default()
}
