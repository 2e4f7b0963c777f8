//! `cpm-store import | export | backup | restore` (issue 19): messages in
//! and out of an account as mbox files or Maildirs, and consistent backups
//! of the whole store.
//!
//! With the server up (its `admin.token` readable and its admin endpoint
//! answering) every message goes through the server's admin endpoint
//! (`routes`: redb allows one process per database); with it down, through
//! the store's files. Both are a [`Target`]: the per-message logic (the
//! duplicate check, the size limit, flags and dates) is the same.
//!
//! Each message is stored through the store's normal path ("object
//! store", as IMAP APPEND: quota, rights, durable before the next one), one
//! at a time, streamed from its file: memory does not grow with a message
//! or a mailbox.

pub mod backup;
mod client;
pub mod maildir;
pub mod mbox;
pub mod routes;
mod target;

use std::collections::HashSet;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
pub use target::Target;

/// `cpm-store import`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["mbox", "maildir"])))]
pub struct ImportArgs {
    /// The account's login.
    pub login: String,
    /// An mbox file (RFC 4155; `From ` line dates become INTERNALDATE,
    /// Status / X-Status / X-Keywords the flags).
    #[arg(long)]
    pub mbox: Option<PathBuf>,
    /// A Maildir (cur/ and new/; a file's mtime becomes INTERNALDATE, its
    /// `:2,` info letters the flags); its Maildir++ subfolders `.A.B`
    /// become folders A/B (under --folder when given).
    #[arg(long)]
    pub maildir: Option<PathBuf>,
    /// The folder to import into (default INBOX); created if missing.
    #[arg(long)]
    pub folder: Option<String>,
}

/// `cpm-store export`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("destination").required(true).args(["mbox", "maildir"])))]
pub struct ExportArgs {
    /// The account's login.
    pub login: String,
    /// A directory to write one mbox file per folder into (`A/B.mbox` for
    /// folder A/B); created if missing.
    #[arg(long)]
    pub mbox: Option<PathBuf>,
    /// A Maildir to write (INBOX at its root, folder A/B as the Maildir++
    /// subfolder `.A.B`; with --folder, that folder at its root); created
    /// if missing.
    #[arg(long)]
    pub maildir: Option<PathBuf>,
    /// Export this folder only (default: every folder of the account).
    #[arg(long)]
    pub folder: Option<String>,
}

/// A message's flags, INTERNALDATE and Message-ID as a mailbox format
/// gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageMeta {
    /// IMAP flags (`\Seen` ...) and keywords.
    pub flags: Vec<String>,
    /// INTERNALDATE, Unix seconds; `None` = now.
    pub internal_date: Option<i64>,
    /// The Message-ID header field's value, trimmed.
    pub message_id: Option<String>,
    /// The mbox metadata field being read (for continuation lines).
    field: Option<&'static str>,
}

impl MessageMeta {
    /// Reads an mbox metadata header field line (`Status:`, `X-Status:`,
    /// `X-Keywords:`).
    fn absorb_field(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let Some((name, value)) = text.split_once(':') else {
            return;
        };
        let name = name.trim().to_ascii_lowercase();
        self.field = match name.as_str() {
            "status" => Some("status"),
            "x-status" => Some("x-status"),
            "x-keywords" => Some("x-keywords"),
            _ => None,
        };
        self.absorb_value(value);
    }

    fn absorb_field_continuation(&mut self, line: &[u8]) {
        self.absorb_value(&String::from_utf8_lossy(line));
    }

    fn absorb_value(&mut self, value: &str) {
        match self.field {
            Some("status") if value.contains('R') => self.flags.push("\\Seen".into()),
            Some("x-status") => {
                for (letter, flag) in [
                    ('A', "\\Answered"),
                    ('F', "\\Flagged"),
                    ('T', "\\Draft"),
                    ('D', "\\Deleted"),
                ] {
                    if value.contains(letter) {
                        self.flags.push(flag.into());
                    }
                }
            }
            Some("x-keywords") => {
                for keyword in value.split([' ', '\t', ',']) {
                    let keyword = keyword.trim();
                    if is_keyword(keyword) {
                        self.flags.push(keyword.to_string());
                    }
                }
            }
            _ => {}
        }
    }

    /// Sorts and deduplicates the flags.
    fn finish_flags(&mut self) {
        self.flags.sort();
        self.flags.dedup();
        self.field = None;
    }
}

/// Whether `word` is an IMAP keyword atom (RFC 3501 `flag-keyword`).
fn is_keyword(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 64
        && word.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

/// A message's bytes in a temporary file, with their SHA-256 and size
/// (an mbox message, unquoted; read again to be stored).
pub struct Spool {
    file: std::io::BufWriter<tempfile::NamedTempFile>,
    hasher: Sha256,
    size: u64,
}

impl Spool {
    /// A new empty spool file in the system's temporary directory.
    pub fn new() -> Result<Spool> {
        let file = tempfile::NamedTempFile::new().context("cannot create a temporary file")?;
        Ok(Spool {
            file: std::io::BufWriter::new(file),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Empties it for the next message.
    pub fn reset(&mut self) -> Result<()> {
        self.file.flush()?;
        let f = self.file.get_mut().as_file_mut();
        f.set_len(0)?;
        std::io::Seek::seek(f, std::io::SeekFrom::Start(0))?;
        self.hasher = Sha256::new();
        self.size = 0;
        Ok(())
    }

    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Flushes; returns where the bytes are, their size and their SHA-256.
    pub fn finish(&mut self) -> Result<(PathBuf, u64, [u8; 32])> {
        self.file.flush()?;
        Ok((
            self.file.get_ref().path().to_path_buf(),
            self.size,
            self.hasher.clone().finalize().into(),
        ))
    }

    #[cfg(test)]
    fn bytes_for_test(&mut self) -> Vec<u8> {
        let (path, _, _) = self.finish().unwrap();
        std::fs::read(path).unwrap()
    }
}

/// One message to import: a file holding exactly its bytes.
pub struct Incoming<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes (the store's blob id).
    pub sha256: [u8; 32],
    /// Flags, date and Message-ID.
    pub meta: &'a MessageMeta,
}

/// One stored message as listed for export and the duplicate check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listed {
    /// Its UID.
    pub uid: u32,
    /// RFC822.SIZE.
    pub size: u64,
    /// INTERNALDATE, Unix seconds.
    pub internal_date: i64,
    /// Flags and keywords.
    pub flags: Vec<String>,
    /// The Message-ID header field, if any.
    pub message_id: Option<String>,
    /// The SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// A page of [`Listed`] messages in UID order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListPage {
    /// The messages.
    pub objects: Vec<Listed>,
    /// Whether more follow.
    pub more: bool,
}

/// What a folder holds already, for the duplicate check: a second import
/// of the same message adds nothing. A message is a duplicate when a
/// stored one has the same bytes (SHA-256), or the same Message-ID and
/// size. Built once per folder, a page at a time.
#[derive(Default)]
struct Existing {
    hashes: HashSet<[u8; 32]>,
    ids: HashSet<(String, u64)>,
}

impl Existing {
    async fn of(target: &Target, folder: &str) -> Result<Existing> {
        let mut existing = Existing::default();
        let mut after = 0;
        loop {
            let page = target.list(folder, after).await?;
            for listed in &page.objects {
                existing.add(&listed.sha256, listed.message_id.as_deref(), listed.size);
                after = after.max(listed.uid);
            }
            if !page.more || page.objects.is_empty() {
                return Ok(existing);
            }
        }
    }

    fn add(&mut self, sha256_hex: &str, message_id: Option<&str>, size: u64) {
        if let Some(hash) = hex::decode(sha256_hex)
            .ok()
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
        {
            self.hashes.insert(hash);
        }
        if let Some(id) = message_id.filter(|id| !id.is_empty()) {
            self.ids.insert((id.to_string(), size));
        }
    }

    fn contains(&self, incoming: &Incoming<'_>) -> bool {
        self.hashes.contains(&incoming.sha256)
            || incoming
                .meta
                .message_id
                .as_ref()
                .is_some_and(|id| self.ids.contains(&(id.clone(), incoming.size)))
    }
}

/// Counts of an import.
#[derive(Debug, Default)]
struct Tally {
    added: u64,
    duplicates: u64,
    refused: u64,
}

/// A progress bar on standard error when it is a terminal, else hidden.
fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// The per-message step of every import: skip a duplicate, refuse one
/// over the size limit (a line, then go on), else store it.
async fn import_one(
    target: &Target,
    folder: &str,
    existing: &mut Existing,
    incoming: &Incoming<'_>,
    max_bytes: u64,
    tally: &mut Tally,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    if existing.contains(incoming) {
        tally.duplicates += 1;
        return Ok(());
    }
    if incoming.size > max_bytes {
        bar.suspend(|| {
            eprintln!(
                "skipped a message of {} bytes in {folder}: larger than [imap] max_append_bytes ({max_bytes})",
                incoming.size
            )
        });
        tally.refused += 1;
        return Ok(());
    }
    target.append(folder, incoming).await?;
    existing.hashes.insert(incoming.sha256);
    if let Some(id) = &incoming.meta.message_id {
        existing.ids.insert((id.clone(), incoming.size));
    }
    tally.added += 1;
    Ok(())
}

/// `cpm-store import`.
pub async fn import(config: &Config, args: ImportArgs) -> Result<()> {
    let target = Target::connect(config, &args.login).await?;
    let max_bytes = config.imap.max_append_bytes;
    let mut tally = Tally::default();
    let result = match (&args.mbox, &args.maildir) {
        (Some(file), _) => {
            let folder = args.folder.clone().unwrap_or_else(|| "INBOX".into());
            import_mbox(&target, file, &folder, max_bytes, &mut tally).await
        }
        (_, Some(dir)) => {
            import_maildir(&target, dir, args.folder.as_deref(), max_bytes, &mut tally).await
        }
        _ => bail!("give --mbox FILE or --maildir DIR"),
    };
    target.close().await;
    result?;
    println!(
        "imported {} messages into {} ({} already there, {} refused)",
        tally.added, args.login, tally.duplicates, tally.refused
    );
    Ok(())
}

async fn import_mbox(
    target: &Target,
    file: &Path,
    folder: &str,
    max_bytes: u64,
    tally: &mut Tally,
) -> Result<()> {
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let len = input.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = mbox::MboxReader::new(std::io::BufReader::new(input))
        .with_context(|| file.display().to_string())?;
    target.ensure_folder(folder).await?;
    let mut existing = Existing::of(target, folder).await?;
    let bar = progress(len, &format!("{} → {folder}", file.display()));
    let mut spool = Spool::new()?;
    // Reading the file is blocking, a message at a time.
    while let Some(meta) = tokio::task::block_in_place(|| reader.next_message(&mut spool))? {
        let (path, size, sha256) = spool.finish()?;
        let incoming = Incoming {
            path: &path,
            size,
            sha256,
            meta: &meta,
        };
        import_one(
            target,
            folder,
            &mut existing,
            &incoming,
            max_bytes,
            tally,
            &bar,
        )
        .await?;
        bar.set_position(reader.position);
    }
    bar.finish_and_clear();
    Ok(())
}

async fn import_maildir(
    target: &Target,
    dir: &Path,
    folder: Option<&str>,
    max_bytes: u64,
    tally: &mut Tally,
) -> Result<()> {
    let folders = maildir::folders(dir, folder)?;
    for (source, name) in folders {
        let files = maildir::messages(&source)?;
        target.ensure_folder(&name).await?;
        let mut existing = Existing::of(target, &name).await?;
        let bar = progress(
            files.len() as u64,
            &format!("{} → {name}", source.display()),
        );
        for file in files {
            let (size, sha256, message_id) = tokio::task::block_in_place(|| hash_file(&file.path))?;
            let meta = MessageMeta {
                flags: file.flags,
                internal_date: Some(file.mtime),
                message_id,
                field: None,
            };
            let incoming = Incoming {
                path: &file.path,
                size,
                sha256,
                meta: &meta,
            };
            import_one(
                target,
                &name,
                &mut existing,
                &incoming,
                max_bytes,
                tally,
                &bar,
            )
            .await?;
            bar.inc(1);
        }
        bar.finish_and_clear();
    }
    Ok(())
}

/// Most header bytes searched for the Message-ID.
const MAX_HEADER_SCAN: usize = 256 * 1024;

/// A file's size, SHA-256 and Message-ID (from the first 256 KiB of its
/// header), read once, in 1 MiB pieces.
fn hash_file(path: &Path) -> Result<(u64, [u8; 32], Option<String>)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1024 * 1024];
    let mut head = Vec::new();
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        if head.len() < MAX_HEADER_SCAN {
            let take = n.min(MAX_HEADER_SCAN - head.len());
            head.extend_from_slice(&buffer[..take]);
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize().into(), header_message_id(&head)))
}

/// The Message-ID field of a message's header (unfolded, trimmed).
pub fn header_message_id(head: &[u8]) -> Option<String> {
    let mut lines = head.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        if line.len() >= 11 && line[..11].eq_ignore_ascii_case(b"message-id:") {
            let mut value = String::from_utf8_lossy(&line[11..]).into_owned();
            while let Some(next) = lines.peek() {
                if next.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                    let next = next.strip_suffix(b"\r").unwrap_or(next);
                    value.push_str(&String::from_utf8_lossy(next));
                    lines.next();
                } else {
                    break;
                }
            }
            return Some(value.trim().to_string());
        }
    }
    None
}

/// `cpm-store export`.
pub async fn export(config: &Config, args: ExportArgs) -> Result<()> {
    let target = Target::connect(config, &args.login).await?;
    let result = export_with(&target, &args).await;
    target.close().await;
    let (folders, messages) = result?;
    println!(
        "exported {messages} messages of {folders} folders of {}",
        args.login
    );
    Ok(())
}

async fn export_with(target: &Target, args: &ExportArgs) -> Result<(u64, u64)> {
    let folders = match &args.folder {
        Some(name) => vec![name.clone()],
        None => target.folders().await?,
    };
    let mut messages = 0u64;
    for name in &folders {
        let (dir, root) = match (&args.mbox, &args.maildir) {
            (Some(dir), _) => (dir, false),
            (_, Some(dir)) => (dir, args.folder.is_some()),
            _ => bail!("give --mbox DIR or --maildir DIR"),
        };
        let bar = progress(0, name);
        let mut sink = if args.mbox.is_some() {
            Sink::Mbox(mbox_file(dir, name)?)
        } else {
            Sink::Maildir(maildir::MaildirWriter::create(dir, name, root)?)
        };
        let mut after = 0;
        loop {
            let page = target.list(name, after).await?;
            bar.inc_length(page.objects.len() as u64);
            for listed in &page.objects {
                after = after.max(listed.uid);
                sink.write(target, name, listed).await?;
                messages += 1;
                bar.inc(1);
            }
            if !page.more || page.objects.is_empty() {
                break;
            }
        }
        sink.finish()?;
        bar.finish_and_clear();
    }
    Ok((folders.len() as u64, messages))
}

/// `DIR/A/B.mbox` for folder A/B, its directories created.
fn mbox_file(dir: &Path, folder: &str) -> Result<std::io::BufWriter<std::fs::File>> {
    let mut path = dir.to_path_buf();
    for part in folder.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            bail!("folder name {folder:?} cannot be a file name");
        }
        path.push(part);
    }
    path.set_extension(match path.extension() {
        Some(e) => format!("{}.mbox", e.to_string_lossy()),
        None => "mbox".into(),
    });
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(std::io::BufWriter::new(file))
}

/// Where an export writes a folder.
enum Sink {
    Mbox(std::io::BufWriter<std::fs::File>),
    Maildir(maildir::MaildirWriter),
}

impl Sink {
    async fn write(&mut self, target: &Target, folder: &str, listed: &Listed) -> Result<()> {
        // The message's bytes go to a temporary file first (bounded
        // memory), then into the format.
        let mut content = tempfile::tempfile().context("cannot create a temporary file")?;
        target.read(folder, listed, &mut content).await?;
        tokio::task::block_in_place(|| -> Result<()> {
            std::io::Seek::seek(&mut content, std::io::SeekFrom::Start(0))?;
            match self {
                Sink::Mbox(out) => mbox::write_message(
                    out,
                    &mut std::io::BufReader::new(content),
                    listed.internal_date,
                    &listed.flags,
                ),
                Sink::Maildir(writer) => writer.write(&mut content, listed),
            }
        })
    }

    fn finish(self) -> Result<()> {
        match self {
            Sink::Mbox(mut out) => {
                out.flush()?;
                out.get_ref().sync_all()?;
                Ok(())
            }
            Sink::Maildir(writer) => writer.finish(),
        }
    }
}
