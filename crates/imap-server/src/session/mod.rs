//! One client connection: its state (RFC 3501 3), the command loop, and
//! the dispatch of each command to its handler in [`crate::commands`].

pub mod deflate;
pub mod error;
pub mod mailbox;
pub mod names;
pub mod notify;
pub mod pipeline;
pub mod state;
pub mod stream;
pub mod uidmap;
pub mod write_limit;

use std::net::SocketAddr;
use std::sync::Arc;

use std::fmt::Write as _;
use store_core::Principal;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};

use store_core::model::{Change, ChangeKind, QuotaResource};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::commands;
use crate::protocol::command::{Command, NotifySpec, Request};
use crate::protocol::grammar::parse_request;
use crate::protocol::reader::{read_command, ReadOutcome, ReaderLimits, Refusal};
use crate::protocol::response::{Completion, Status};
use error::CommandError;
use mailbox::{Enabled, SelectedMailbox};
use state::{ConnectionSlot, ServerState};
use stream::Stream;
use write_limit::{LimitedWrites, Traffic, WriteLimit};

/// The buffered connection: reads are buffered for the tokenizer, writes
/// so that pipelined responses leave in few packets, and bounded in time
/// (a client that does not read is not waited for for ever).
pub type Io = BufReader<BufWriter<LimitedWrites<Stream>>>;

/// Why the command loop woke up while NOTIFY is in effect.
enum Wake {
    /// The client sent something.
    Input,
    /// A change (or `None`: some were missed, look anyway).
    Change(Option<Change>),
    /// The client closed the connection.
    Closed,
    /// Inactivity autologout.
    Timeout,
    /// The server is stopping.
    Shutdown,
}

/// What a command reports before its tagged response
/// ([`Session::conclude`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Nothing: the connection closes or changes layers (LOGOUT,
    /// STARTTLS, COMPRESS).
    Bare,
    /// No change made elsewhere yet, but the HIGHESTMODSEQ a CONDSTORE
    /// client must hear: a STORE of a pipeline but the last, which
    /// synchronizes for all ([`pipeline`]).
    Quiet,
    /// The account's changes (quota alerts, NOTIFY) but not the selected
    /// mailbox's: SELECT and EXAMINE.
    AccountOnly,
    /// Every change made elsewhere; expunges only when `allow_expunge`
    /// (RFC 3501 7.4.1).
    Synchronize {
        /// Whether EXPUNGE (or VANISHED) may be sent.
        allow_expunge: bool,
    },
}

/// What the command loop does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Close the connection (LOGOUT, BYE).
    Close,
    /// Start TLS, then read the next command (STARTTLS).
    StartTls,
    /// Compress the connection, then read the next command (COMPRESS).
    Compress,
}

/// A client session.
pub struct Session {
    /// Server-wide state.
    pub state: Arc<ServerState>,
    io: Option<Io>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The authenticated principal (Authenticated and Selected states).
    pub principal: Option<Principal>,
    slot: Option<ConnectionSlot>,
    /// The selected mailbox (Selected state).
    pub selected: Option<SelectedMailbox>,
    /// CONDSTORE and QRESYNC, once enabled (RFC 5161, RFC 7162).
    pub enabled: Enabled,
    /// What NOTIFY SET asked for (RFC 5465), if it is in effect.
    pub notify: Option<NotifySpec>,
    /// The account's change feed, read for quota alerts once logged in.
    account_changes: Option<broadcast::Receiver<Change>>,
    /// Untagged responses waiting to be written, before the completion.
    pub out: String,
    /// Live SEARCH/SORT contexts (RFC 5267 4).
    pub contexts: crate::commands::context::Contexts,
    /// Stop signal of the server.
    pub shutdown: watch::Receiver<bool>,
    bad_commands: u32,
    /// Failed logins on this connection.
    pub login_failures: u32,
    /// Until logged in: when the connection gets `* BYE` for not having
    /// logged in (`preauth_timeout` after the greeting).
    preauth_deadline: Option<Instant>,
    /// How many times [`Session::emit`] ran: a response line begun in
    /// `out` was (maybe partly) written when this moved past its mark.
    emits: u64,
    /// Bytes read and written on the connection, for the access log.
    traffic: Arc<Traffic>,
    /// When the connection was accepted.
    connected: std::time::Instant,
    /// Commands answered (tagged completions).
    commands: u64,
    /// The command being answered, for its access-log event.
    command: CommandStart,
    /// Why the session ended, for its summary (the last BYE's text,
    /// `Logged out`).
    close_reason: Option<String>,
}

/// Where the command being answered started: its name (a label of
/// `store_core::telemetry::imap_command`), when its first byte was
/// there, and the session's bytes in and out then.
#[derive(Debug, Clone, Copy)]
struct CommandStart {
    name: &'static str,
    at: std::time::Instant,
    bytes_in: u64,
    bytes_out: u64,
}

/// The name a command is counted and logged under: its name, `UID `
/// before it for the UID forms (RFC 3501 6.4.8), from the fixed list of
/// [`store_core::telemetry::imap_command`].
fn command_label(command: &Command) -> &'static str {
    let uid = matches!(
        command,
        Command::Fetch { uid: true, .. }
            | Command::Store { uid: true, .. }
            | Command::Search { uid: true, .. }
            | Command::Sort { uid: true, .. }
            | Command::Thread { uid: true, .. }
            | Command::Copy { uid: true, .. }
            | Command::Expunge { uids: Some(_), .. }
    );
    let name = command.name();
    if uid {
        store_core::telemetry::imap_command(&format!("UID {name}"))
    } else {
        store_core::telemetry::imap_command(name)
    }
}

/// Where a response line starts, to drop it whole if it fails partway
/// ([`Session::abandon_line`]).
#[derive(Debug, Clone, Copy)]
pub struct LineMark {
    emits: u64,
    at: usize,
}

/// Runs `io` until `deadline` (the login deadline, before login), or
/// without one.
///
/// Errors: `TimedOut` at the deadline; the I/O errors of `io`.
async fn by_deadline<T>(
    deadline: Option<Instant>,
    io: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, io)
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?,
        None => io.await,
    }
}

/// Reads and drops the rest of a line, up to and including its LF, one
/// buffer at a time (memory stays bounded however long it is).
///
/// Errors: `UnexpectedEof` if the connection closes first.
async fn discard_line<S: tokio::io::AsyncBufRead + Unpin>(io: &mut S) -> std::io::Result<()> {
    loop {
        let buf = io.fill_buf().await?;
        if buf.is_empty() {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                io.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                io.consume(n);
            }
        }
    }
}

/// The buffered connection over `stream`, its writes bounded by `limit`.
fn buffered(stream: Stream, limit: WriteLimit, traffic: &Arc<Traffic>) -> Io {
    BufReader::new(BufWriter::new(
        LimitedWrites::new(stream, limit).with_traffic(traffic.clone()),
    ))
}

/// `* BYE` text for a connection that did not log in in time.
const PREAUTH_BYE: &str = "Login timeout; not authenticated in time";

/// Serves one connection until it closes, the client logs out, or the
/// server shuts down.
pub async fn run(
    state: Arc<ServerState>,
    stream: Stream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) {
    let mut session = Session {
        state,
        io: None,
        peer,
        principal: None,
        slot: None,
        selected: None,
        enabled: Enabled::default(),
        account_changes: None,
        notify: None,
        out: String::new(),
        contexts: Default::default(),
        shutdown,
        bad_commands: 0,
        login_failures: 0,
        preauth_deadline: None,
        emits: 0,
        traffic: Arc::default(),
        connected: std::time::Instant::now(),
        commands: 0,
        command: CommandStart {
            name: "other",
            at: std::time::Instant::now(),
            bytes_in: 0,
            bytes_out: 0,
        },
        close_reason: None,
    };
    let deadline = Instant::now() + session.state.config.preauth_timeout;
    session.preauth_deadline = Some(deadline);
    // Before login, writes end by the login deadline too.
    session.io = Some(buffered(stream, WriteLimit::By(deadline), &session.traffic));
    let served = crate::protocol::mutf7::utf8_scope(session.serve()).await;
    let reason = match &served {
        Ok(()) => {
            tracing::debug!("connection closed");
            session
                .close_reason
                .take()
                .unwrap_or_else(|| "Connection closed".into())
        }
        Err(e) => {
            tracing::debug!(error = %e, "connection ended");
            format!("Connection ended: {e}")
        }
    };
    session.log_summary(&reason);
}

impl Session {
    /// The connection.
    ///
    /// Errors: `NotConnected` if a failed TLS handshake consumed it.
    pub fn io(&mut self) -> std::io::Result<&mut Io> {
        self.io
            .as_mut()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }

    /// Whether COMPRESS (RFC 4978) is in effect.
    pub fn is_compressed(&self) -> bool {
        self.io
            .as_ref()
            .is_some_and(|io| io.get_ref().get_ref().get_ref().is_compressed())
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.io
            .as_ref()
            .is_some_and(|io| io.get_ref().get_ref().get_ref().is_tls())
    }

    /// Writes the pending untagged responses to the connection buffer.
    pub async fn emit(&mut self) -> std::io::Result<()> {
        self.emits += 1;
        if !self.out.is_empty() {
            let out = std::mem::take(&mut self.out);
            self.io()?.write_all(out.as_bytes()).await?;
        }
        Ok(())
    }

    /// How long writes may wait for the client: by the login deadline
    /// before login, then each up to the autologout time.
    fn write_limit(&self) -> WriteLimit {
        match self.preauth_deadline {
            Some(deadline) => WriteLimit::By(deadline),
            None => WriteLimit::Each(self.state.config.autologout),
        }
    }

    /// Marks where the response line about to be pushed to `out` starts.
    pub fn line_mark(&self) -> LineMark {
        LineMark {
            emits: self.emits,
            at: self.out.len(),
        }
    }

    /// Drops the response line begun at `mark` that failed with `error`
    /// partway, and returns the error to answer the command with: the
    /// tagged response must not land inside an untagged line (RFC 3501
    /// 7). If part of the line may already be written, it cannot be taken
    /// back: the error becomes an I/O error, which ends the connection.
    pub fn abandon_line(&mut self, mark: LineMark, error: CommandError) -> CommandError {
        if self.emits == mark.emits && self.out.len() >= mark.at {
            self.out.truncate(mark.at);
            return error;
        }
        tracing::warn!(error = ?error, "response line failed after part of it was written");
        CommandError::Io(std::io::Error::other(
            "a response line failed after part of it was written",
        ))
    }

    /// Writes pending responses and flushes them to the client.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        self.emit().await?;
        self.io()?.flush().await
    }

    /// Returns the session to the not authenticated state (UNAUTHENTICATE,
    /// RFC 8437 3): the selected mailbox is closed without expunging, the
    /// connection slot of the account freed, NOTIFY and what ENABLE
    /// turned on reset, and a new login deadline starts. TLS and COMPRESS
    /// stay; the login throttle and this connection's failure count too.
    pub fn unauthenticated(&mut self) {
        if let Some(principal) = self.principal.take() {
            tracing::info!(login = %principal.login(), "unauthenticated");
        }
        self.selected = None;
        // Its search contexts go with the mailbox (RFC 5267 4.3).
        self.contexts = Default::default();
        self.slot = None;
        self.notify = None;
        self.account_changes = None;
        // The mailbox is left: its search contexts end (RFC 5267 4.3).
        crate::commands::context::end(self);
        self.enabled = Enabled::default();
        crate::protocol::mutf7::disable_utf8_names();
        self.preauth_deadline = Some(Instant::now() + self.state.config.preauth_timeout);
        let limit = self.write_limit();
        if let Some(io) = self.io.as_mut() {
            io.get_mut().get_mut().set_limit(limit);
        }
    }

    /// Marks the session authenticated as `principal`, holding `slot`.
    pub fn authenticated(&mut self, principal: Principal, slot: ConnectionSlot) {
        tracing::info!(login = %principal.login(), "authenticated");
        self.preauth_deadline = None;
        self.principal = Some(principal);
        let limit = self.write_limit();
        if let Some(io) = self.io.as_mut() {
            io.get_mut().get_mut().set_limit(limit);
        }
        self.slot = Some(slot);
    }

    /// The reader's limits for the next command, from the session state:
    /// before login no APPEND message is taken (`max_append_bytes` 0), so
    /// an unauthenticated client cannot have its literal acknowledged and
    /// streamed to disk; it is refused before any `+` (RFC 3501 7.5) or,
    /// when non-synchronizing, with BYE (RFC 7888 4).
    fn reader_limits(&self) -> ReaderLimits {
        let max_append_bytes = if self.principal.is_some() {
            self.state.config.max_append_bytes
        } else {
            0
        };
        ReaderLimits {
            max_command_bytes: self.state.config.max_command_bytes,
            max_append_bytes,
        }
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        let greeting = format!(
            "* OK [CAPABILITY {}] cpm-store IMAP4rev1 ready\r\n",
            commands::capability::list(self)
        );
        self.out.push_str(&greeting);
        loop {
            let limits = self.reader_limits();
            self.emit().await?;
            let io = self.io()?;
            if io.buffer().is_empty() {
                io.flush().await?;
            }
            let autologout = self.state.config.autologout;
            if self.notify.is_some() && self.account_changes.is_some() {
                // RFC 5465: events arrive while no command runs.
                match self.wait_for_input_or_change(autologout).await? {
                    Wake::Input => {}
                    Wake::Change(change) => {
                        self.report_account_changes(change).await;
                        continue;
                    }
                    Wake::Closed => return Ok(()),
                    Wake::Timeout => {
                        self.bye("Autologout; idle for too long").await?;
                        return Ok(());
                    }
                    Wake::Shutdown => {
                        self.bye("Server shutting down").await?;
                        return Ok(());
                    }
                }
            }
            // Until the login deadline, else the inactivity autologout.
            let deadline = match self.preauth_deadline {
                Some(d) => d.min(Instant::now() + autologout),
                None => Instant::now() + autologout,
            };
            let timeout_text = match self.preauth_deadline {
                Some(d) if d <= deadline => PREAUTH_BYE,
                _ => "Autologout; idle for too long",
            };
            // A stop is noticed between commands only: a command whose
            // first byte has arrived (an APPEND streaming its literal) is
            // read and executed in full, within the shutdown grace.
            // (A clone of the receiver sees a stop signalled at any time
            // before, so `changed` is ready at once after one.)
            let mut shutdown = self.shutdown.clone();
            let io = self.io()?;
            let waited = tokio::select! {
                biased;
                _ = shutdown.changed() => None,
                input = tokio::time::timeout_at(deadline, io.fill_buf()) => Some(input),
            };
            let input = match waited {
                None => None,
                Some(Ok(input)) => Some(input),
                Some(Err(_)) => {
                    self.bye(timeout_text).await?;
                    return Ok(());
                }
            };
            let Some(input) = input else {
                self.bye("Server shutting down").await?;
                return Ok(());
            };
            if input?.is_empty() {
                return Ok(());
            }
            self.start_command();
            let state = self.state.clone();
            let io = self.io()?;
            let outcome =
                tokio::time::timeout_at(deadline, read_command(io, &state.store, limits)).await;
            let flow = match outcome {
                Err(_) => {
                    self.bye(timeout_text).await?;
                    return Ok(());
                }
                Ok(outcome) => match outcome? {
                    ReadOutcome::Closed => return Ok(()),
                    ReadOutcome::Refused { tag, refusal } => self.refused(tag, refusal).await?,
                    ReadOutcome::Command(raw) => {
                        match parse_request(&raw.text, raw.blobs, self.state.config.max_nesting) {
                            Ok(request) if self.starts_pipeline(&request) => {
                                self.execute_stores(request).await?
                            }
                            Ok(request) => self.execute(request).await?,
                            Err(bad) => {
                                let tag = bad.tag.unwrap_or_else(|| "*".into());
                                self.complete(&tag, Completion::bad(bad.reason)).await?
                            }
                        }
                    }
                },
            };
            match flow {
                Flow::Continue => {}
                Flow::Close => return self.io()?.flush().await,
                Flow::StartTls => self.start_tls().await?,
                Flow::Compress => self.start_compress().await?,
            }
        }
    }

    /// Waits until the client sends something (left unread) or the
    /// account's change feed has a change, for NOTIFY.
    async fn wait_for_input_or_change(
        &mut self,
        autologout: std::time::Duration,
    ) -> std::io::Result<Wake> {
        let Session {
            io,
            account_changes,
            shutdown,
            ..
        } = self;
        let (Some(io), Some(feed)) = (io.as_mut(), account_changes.as_mut()) else {
            return Ok(Wake::Input);
        };
        let mut shutdown = shutdown.clone();
        tokio::select! {
            input = io.fill_buf() => Ok(if input?.is_empty() { Wake::Closed } else { Wake::Input }),
            change = feed.recv() => Ok(Wake::Change(change.ok())),
            _ = shutdown.changed() => Ok(Wake::Shutdown),
            _ = tokio::time::sleep(autologout) => Ok(Wake::Timeout),
        }
    }

    /// Reads one line the client sends outside a command (a SASL response,
    /// IDLE's `DONE`), without its line ending.
    ///
    /// Errors: I/O when the connection closes; BAD when the line is longer
    /// than `max` bytes (the rest of it is discarded).
    pub async fn read_client_line(&mut self, max: u64) -> Result<Vec<u8>, CommandError> {
        let deadline = self.preauth_deadline;
        let io = self.io()?;
        let mut line = Vec::new();
        let mut limited = (&mut *io).take(max + 2);
        let reading = limited.read_until(b'\n', &mut line);
        let n = by_deadline(deadline, reading).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        if line.last() != Some(&b'\n') {
            // The rest is dropped as it comes, never held, and before
            // login within the same deadline.
            by_deadline(deadline, discard_line(io)).await?;
            return Err(Completion::bad(format!("Line longer than {max} bytes")).into());
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        Ok(line)
    }

    /// Sends `* BYE text` and flushes.
    pub async fn bye(&mut self, text: &str) -> std::io::Result<()> {
        self.close_reason = Some(text.to_string());
        self.out.push_str(&format!("* BYE {text}\r\n"));
        self.flush().await
    }

    async fn refused(&mut self, tag: Option<String>, refusal: Refusal) -> std::io::Result<Flow> {
        let tag = tag.unwrap_or_else(|| "*".into());
        let completion = match refusal {
            Refusal::CommandTooLong => Completion::bad(format!(
                "Command longer than {} bytes",
                self.state.config.max_command_bytes
            )),
            Refusal::LiteralTooLarge { append: true, .. } if self.principal.is_none() => {
                Completion::bad("Not authenticated; log in first")
            }
            Refusal::LiteralTooLarge {
                append: true,
                limit,
            } => Completion::no(format!(
                "Message larger than APPENDLIMIT {limit}, or messages of one APPEND larger in total"
            ))
            .with_code("TOOBIG"),
            Refusal::TooManyMessages => Completion::no(format!(
                "More than {} messages in one APPEND",
                crate::protocol::reader::MAX_APPEND_MESSAGES
            ))
            .with_code("LIMIT"),
            Refusal::LiteralTooLarge { limit, .. } => Completion::bad(format!(
                "Literal larger than the {limit} bytes left for this command"
            )),
            Refusal::BadBytes => Completion::bad("NUL byte in command"),
            // No `{` in the text: clients (imaptest among them) parse
            // resp-text as IMAP atoms and take `{n}` for a literal.
            Refusal::NulInLiteral => {
                Completion::bad("NUL byte in a literal; send binary as a literal8 (RFC 3516)")
            }
            Refusal::StoreFailed { full: true, .. } => {
                crate::session::error::refusal(&store_core::StoreError::StorageFull)
            }
            Refusal::StoreFailed { reason, .. } => {
                crate::session::error::refusal(&store_core::StoreError::Unavailable(reason))
            }
            Refusal::NonSyncLiteralTooLarge => {
                self.bye("Non-synchronizing literal over the limit").await?;
                return Ok(Flow::Close);
            }
        };
        self.complete(&tag, completion).await
    }

    /// The session's bytes in and out so far: those read from the
    /// connection less those still buffered unread, and those written
    /// plus those buffered unwritten.
    fn traffic_now(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let (read, written) = (
            self.traffic.read.load(Relaxed),
            self.traffic.written.load(Relaxed),
        );
        match &self.io {
            Some(io) => (
                read.saturating_sub(io.buffer().len() as u64),
                written + io.get_ref().buffer().len() as u64,
            ),
            None => (read, written),
        }
    }

    /// Marks the start of the next command (its first byte is there).
    fn start_command(&mut self) {
        let (bytes_in, bytes_out) = self.traffic_now();
        self.command = CommandStart {
            name: "other",
            at: std::time::Instant::now(),
            bytes_in,
            bytes_out,
        };
    }

    /// Names the command being answered (a pipelined one starts where
    /// the one before it ended).
    pub(super) fn name_command(&mut self, command: &Command) {
        self.command.name = command_label(command);
    }

    /// The access log of IMAP: one INFO event of target `access` per
    /// tagged completion (tag, command, result, duration in ms, bytes in
    /// and out, account when logged in, remote address), and its counts
    /// in `cpm_store_requests_total` and
    /// `cpm_store_request_duration_seconds`. The next command of a
    /// pipeline starts where this one ends.
    fn log_command(&mut self, tag: &str, status: Status) {
        let (bytes_in, bytes_out) = self.traffic_now();
        let start = self.command;
        let elapsed = start.at.elapsed();
        let result = match status {
            Status::Ok => "ok",
            Status::No => "no",
            Status::Bad => "bad",
        };
        self.commands += 1;
        store_core::telemetry::metrics().request("imap", start.name, result, elapsed);
        tracing::info!(
            target: "access",
            protocol = "imap",
            tag = %tag.escape_debug(),
            command = start.name,
            result,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            bytes_in = bytes_in.saturating_sub(start.bytes_in),
            bytes_out = bytes_out.saturating_sub(start.bytes_out),
            account = self.principal.as_ref().map_or("-", |p| p.login()),
            remote = %self.peer,
            "IMAP command"
        );
        self.command = CommandStart {
            name: "other",
            at: std::time::Instant::now(),
            bytes_in,
            bytes_out,
        };
    }

    /// The session's summary when it ends, as Dovecot's `Logged out
    /// in=… out=…`: bytes in and out, commands answered, duration (ms),
    /// why it ended, account and remote address.
    fn log_summary(&self, reason: &str) {
        let (bytes_in, bytes_out) = self.traffic_now();
        tracing::info!(
            target: "access",
            protocol = "imap",
            bytes_in,
            bytes_out,
            commands = self.commands,
            duration_ms = self.connected.elapsed().as_secs_f64() * 1000.0,
            reason,
            account = self.principal.as_ref().map_or("-", |p| p.login()),
            remote = %self.peer,
            "IMAP session ended"
        );
    }

    /// Writes pending untagged responses and the tagged `completion`;
    /// counts consecutive BADs and ends a flood of them with BYE.
    async fn complete(&mut self, tag: &str, completion: Completion) -> std::io::Result<Flow> {
        self.emit().await?;
        let bad = completion.status == Status::Bad;
        self.io()?.write_all(&completion.render(tag)).await?;
        self.log_command(tag, completion.status);
        if !bad {
            self.bad_commands = 0;
            return Ok(Flow::Continue);
        }
        self.bad_commands += 1;
        if self.bad_commands >= self.state.config.max_bad_commands {
            self.bye("Too many invalid commands").await?;
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }

    async fn execute(&mut self, request: Request) -> std::io::Result<Flow> {
        let Request { tag, command } = request;
        let name = command.name();
        tracing::debug!(command = name, "command");
        self.name_command(&command);
        if matches!(command, Command::Logout) {
            self.close_reason = Some("Logged out".into());
        }
        if let Some(refusal) = self.state_refusal(&command) {
            return self.complete(&tag, refusal).await;
        }
        // RFC 6855 3 (erratum 4029): with UTF8=ACCEPT on, a SEARCH with a
        // CHARSET conflicts with the strings being UTF-8.
        if self.enabled.utf8_accept
            && matches!(
                command,
                Command::Search {
                    charset: Some(_),
                    ..
                }
            )
        {
            let refusal = Completion::bad("No CHARSET in SEARCH once UTF8=ACCEPT is enabled");
            return self.complete(&tag, refusal).await;
        }
        let allow_expunge = !matches!(
            command,
            Command::Fetch { uid: false, .. }
                | Command::Store { uid: false, .. }
                | Command::Search { uid: false, .. }
                | Command::Sort { uid: false, .. }
                | Command::Thread { uid: false, .. }
                | Command::Convert { uid: false, .. }
                | Command::StoreAnnotation { uid: false, .. }
        );
        // RFC 7162 3.1: the first CONDSTORE enabling command in the
        // selected state (FETCH MODSEQ, STORE UNCHANGEDSINCE, SEARCH
        // MODSEQ...) gets the HIGHESTMODSEQ the client has not seen yet;
        // SELECT (CONDSTORE) sends its own.
        let selecting = matches!(command, Command::Select { .. });
        let announce_modseq = !self.enabled.condstore && self.selected.is_some() && !selecting;
        let mut flow = match command {
            Command::Logout => Flow::Close,
            Command::StartTls => Flow::StartTls,
            Command::Compress { .. } => Flow::Compress,
            _ => Flow::Continue,
        };
        let result = commands::execute(self, &tag, command).await;
        let completion = match result {
            Ok(c) => c,
            Err(CommandError::Refused(c)) => c,
            Err(CommandError::Io(e))
                if e.kind() == std::io::ErrorKind::TimedOut && self.principal.is_none() =>
            {
                self.bye(PREAUTH_BYE).await?;
                return Ok(Flow::Close);
            }
            Err(CommandError::Io(e)) => return Err(e),
        };
        if matches!(flow, Flow::StartTls | Flow::Compress) && completion.status != Status::Ok {
            flow = Flow::Continue;
        }
        let ending = if flow != Flow::Continue {
            Ending::Bare
        } else if selecting {
            Ending::AccountOnly
        } else {
            Ending::Synchronize { allow_expunge }
        };
        let next = self
            .conclude(&tag, completion, ending, announce_modseq)
            .await?;
        Ok(if next == Flow::Close { next } else { flow })
    }

    /// Ends a command: reports what `ending` says, then (to a CONDSTORE
    /// client) the HIGHESTMODSEQ it must hear, then the tagged
    /// `completion`. `announce_modseq`: this was the session's first
    /// CONDSTORE enabling command.
    async fn conclude(
        &mut self,
        tag: &str,
        completion: Completion,
        ending: Ending,
        announce_modseq: bool,
    ) -> std::io::Result<Flow> {
        if ending != Ending::Bare {
            // SELECT and EXAMINE answer with the mailbox as one snapshot
            // read it (EXISTS, HIGHESTMODSEQ and the QRESYNC changes
            // agree); what changed after it is reported by the next
            // command, as for any other change made elsewhere. Reporting
            // it within the answer would revise the counts the client is
            // still taking in (a QRESYNC client applies EXISTS only at
            // the tagged OK, RFC 7162 3.2.5.1).
            let synchronized = match ending {
                Ending::Synchronize { allow_expunge } => self.synchronize(allow_expunge).await,
                Ending::AccountOnly => {
                    self.report_account_changes(None).await;
                    Ok(())
                }
                Ending::Quiet | Ending::Bare => Ok(()),
            };
            if let Err(e) = synchronized {
                self.bye(&e).await?;
                return Ok(Flow::Close);
            }
            if let Some(mailbox) = self.selected.as_ref().filter(|_| self.enabled.condstore) {
                // RFC 7162 3.2.10: while removals made elsewhere are held
                // back, every command ends by lowering the client's
                // HIGHESTMODSEQ below them, whatever MODSEQ it showed.
                let held_back = mailbox.held_back_modseq();
                if announce_modseq || held_back.is_some() {
                    let _ = write!(
                        self.out,
                        "* OK [HIGHESTMODSEQ {}] Highest\r\n",
                        held_back.unwrap_or(mailbox.highest_modseq())
                    );
                }
            }
        }
        self.complete(tag, completion).await
    }

    /// Reports changes of the selected mailbox made elsewhere (RFC 3501
    /// 7.4.1 allows EXPUNGE only when `allow_expunge`).
    ///
    /// Errors: the text of a BYE when the mailbox is gone.
    pub async fn synchronize(&mut self, allow_expunge: bool) -> Result<(), String> {
        self.report_account_changes(None).await;
        self.synchronize_selected(allow_expunge).await
    }

    /// The selected mailbox's part of [`Session::synchronize`].
    pub(crate) async fn synchronize_selected(&mut self, allow_expunge: bool) -> Result<(), String> {
        let (Some(mailbox), Some(principal)) = (self.selected.as_mut(), self.principal.as_ref())
        else {
            return Ok(());
        };
        match mailbox
            .synchronize(
                &self.state,
                principal,
                allow_expunge,
                self.enabled,
                &mut self.out,
            )
            .await
        {
            Ok(()) => {
                crate::commands::context::report(self).await;
                Ok(())
            }
            Err(store_core::StoreError::NoSuchFolder) => {
                self.selected = None;
                Err("Selected mailbox was deleted or renamed".into())
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot synchronize the selected mailbox");
                Ok(())
            }
        }
    }

    /// Reads what the account's change feed holds (`first`, if the
    /// caller already took one, then whatever is waiting) and reports it:
    /// `* OK [ALERT]` for each quota level the account reached (RFC 9208
    /// leaves warnings to the server; RFC 3501 7.1 ALERT is what a client
    /// must show its user), and the NOTIFY responses (RFC 5465). The feed
    /// is followed from the first command after login.
    async fn report_account_changes(&mut self, first: Option<Change>) {
        let Some(principal) = self.principal.as_ref() else {
            return;
        };
        let feed = self
            .account_changes
            .get_or_insert_with(|| self.state.store.subscribe_changes(principal));
        let mut changes: Vec<Change> = first.into_iter().collect();
        loop {
            match feed.try_recv() {
                Ok(c) => changes.push(c),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        for change in &changes {
            if let ChangeKind::QuotaLevel {
                resource,
                percent,
                used,
                limit,
            } = change.kind
            {
                let (name, unit) = match resource {
                    QuotaResource::Storage => ("STORAGE", " bytes"),
                    QuotaResource::Message => ("MESSAGE", " messages"),
                };
                let _ = write!(
                    self.out,
                    "* OK [ALERT] Mailbox storage at {percent}% of its {name} quota \
                     ({used} of {limit}{unit})\r\n"
                );
            }
        }
        if !changes.is_empty() {
            self.notify_changes(&changes).await;
        }
    }

    /// BAD for a command not valid in the current state (RFC 3501 3).
    fn state_refusal(&self, command: &Command) -> Option<Completion> {
        use Command::*;
        let authenticated = self.principal.is_some();
        let selected = self.selected.is_some();
        match command {
            Capability | Noop | Logout | Id { .. } => None,
            StartTls | Authenticate { .. } | Login { .. } if authenticated => {
                Some(Completion::bad("Already authenticated"))
            }
            StartTls | Authenticate { .. } | Login { .. } => None,
            _ if !authenticated => Some(Completion::bad("Not authenticated; log in first")),
            Check
            | Close
            | Unselect
            | Expunge { .. }
            | Search { .. }
            | Sort { .. }
            | Thread { .. }
            | CancelUpdate { .. }
            | Fetch { .. }
            | Store { .. }
            | Copy { .. }
            | Convert { .. }
            | StoreAnnotation { .. }
                if !selected =>
            {
                Some(Completion::bad("No mailbox selected"))
            }
            _ => None,
        }
    }

    /// Puts DEFLATE under the session's buffers once COMPRESS's OK is
    /// sent (RFC 4978 3): what the client sent after the command is
    /// already compressed, so it is inflated first.
    async fn start_compress(&mut self) -> std::io::Result<()> {
        self.flush().await?;
        let Some(io) = self.io.take() else {
            return Ok(());
        };
        let pending = io.buffer().to_vec();
        let stream = io.into_inner().into_inner().into_inner();
        let stream = Stream::Deflate(Box::new(deflate::Deflate::new(stream, &pending)));
        let limit = self.write_limit();
        self.io = Some(buffered(stream, limit, &self.traffic));
        Ok(())
    }

    async fn start_tls(&mut self) -> std::io::Result<()> {
        self.flush().await?;
        let (Some(acceptor), Some(io)) = (self.state.tls.clone(), self.io.take()) else {
            return Ok(());
        };
        // RFC 3501 6.2.1 / RFC 2595 3.1: anything pipelined after STARTTLS
        // was sent in the clear and must not be used; refuse the
        // connection rather than trust it.
        if !io.buffer().is_empty() {
            return Err(std::io::Error::other("data pipelined after STARTTLS"));
        }
        let Stream::Plain(tcp) = io.into_inner().into_inner().into_inner() else {
            return Err(std::io::Error::other("STARTTLS on a TLS stream"));
        };
        // The handshake is bounded, and counts in the login deadline.
        let mut limit = Instant::now() + self.state.config.tls_handshake_timeout;
        if let Some(deadline) = self.preauth_deadline {
            limit = limit.min(deadline);
        }
        let tls = tokio::time::timeout_at(limit, acceptor.accept(tcp))
            .await
            .map_err(|_| std::io::Error::other("STARTTLS handshake timed out"))??;
        let limit = self.write_limit();
        self.io = Some(buffered(Stream::Tls(Box::new(tls)), limit, &self.traffic));
        Ok(())
    }
}
