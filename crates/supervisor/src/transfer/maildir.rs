//! Maildirs (<https://cr.yp.to/proto/maildir.html>) and Maildir++
//! subfolders, listed and written with the `maildir` crate.
//!
//! - Flags are the info letters after `:2,`: `D` \Draft, `F` \Flagged,
//!   `R` \Answered, `S` \Seen, `T` \Deleted; the letters `a`–`z` are the
//!   keywords Dovecot lists in the Maildir's `dovecot-keywords` file
//!   (`N name` per line, `a` being 0).
//! - INTERNALDATE is the file's mtime, as Dovecot keeps it.
//! - Subfolders: `.A.B` is folder A/B (Maildir++ uses `.` as the hierarchy
//!   separator); INBOX is the Maildir's root.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Listed;

/// The letters of the system flags (Maildir info, version 2).
const FLAG_LETTERS: [(char, &str); 5] = [
    ('D', "\\Draft"),
    ('F', "\\Flagged"),
    ('R', "\\Answered"),
    ('S', "\\Seen"),
    ('T', "\\Deleted"),
];

/// Most keyword letters (`a`–`z`).
const MAX_KEYWORDS: usize = 26;

/// One message file of a Maildir.
#[derive(Debug)]
pub struct MaildirFile {
    /// Its path.
    pub path: PathBuf,
    /// Its flags and keywords.
    pub flags: Vec<String>,
    /// Its mtime, Unix seconds: the INTERNALDATE.
    pub mtime: i64,
}

/// The Maildir `dir` and its Maildir++ subfolders, each with the folder it
/// is imported into: the root into `folder` (default INBOX), `.A.B` into
/// `folder/A/B` when `folder` is given, else into A/B.
///
/// Errors: `dir` is not a Maildir (no `cur/` and no `new/`).
pub fn folders(dir: &Path, folder: Option<&str>) -> Result<Vec<(PathBuf, String)>> {
    if !dir.join("cur").is_dir() && !dir.join("new").is_dir() {
        anyhow::bail!("{} is not a Maildir (no cur/ or new/)", dir.display());
    }
    let root_name = folder.unwrap_or("INBOX").to_string();
    let mut out = vec![(dir.to_path_buf(), root_name)];
    let mut subfolders = Vec::new();
    for sub in ::maildir::Maildir::from(dir.to_path_buf()).list_subdirs() {
        let sub = sub.with_context(|| format!("cannot list {}", dir.display()))?;
        let Some(name) = sub
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix('.'))
            .map(str::to_string)
        else {
            continue;
        };
        if name.is_empty() || name.split('.').any(str::is_empty) {
            continue;
        }
        let path = name.replace('.', "/");
        let name = match folder {
            Some(parent) => format!("{parent}/{path}"),
            None => path,
        };
        subfolders.push((sub.path().to_path_buf(), name));
    }
    subfolders.sort_by(|a, b| a.1.cmp(&b.1));
    out.extend(subfolders);
    Ok(out)
}

/// The keywords of `dovecot-keywords` in `dir`, by letter index.
fn read_keywords(dir: &Path) -> BTreeMap<usize, String> {
    let Ok(text) = std::fs::read_to_string(dir.join("dovecot-keywords")) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|line| {
            let (n, name) = line.split_once(' ')?;
            let n: usize = n.parse().ok()?;
            (n < MAX_KEYWORDS).then(|| (n, name.trim().to_string()))
        })
        .collect()
}

/// The message files of the Maildir `dir` (its `new/` and `cur/`, not its
/// subfolders), oldest first (by mtime, then name), so UIDs follow dates.
///
/// Errors: a directory cannot be read, or a file's name is not a Maildir
/// name.
pub fn messages(dir: &Path) -> Result<Vec<MaildirFile>> {
    let keywords = read_keywords(dir);
    let maildir = ::maildir::Maildir::from(dir.to_path_buf());
    let mut out = Vec::new();
    for entry in maildir.list_new().chain(maildir.list_cur()) {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let mut flags = Vec::new();
        for letter in entry.flags().chars() {
            if let Some((_, flag)) = FLAG_LETTERS.iter().find(|(l, _)| *l == letter) {
                flags.push(flag.to_string());
            } else if letter.is_ascii_lowercase() {
                if let Some(name) = keywords.get(&((letter as u8 - b'a') as usize)) {
                    flags.push(name.clone());
                }
            }
        }
        flags.sort();
        flags.dedup();
        let mtime = std::fs::metadata(entry.path())
            .and_then(|m| m.modified())
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        let mtime = match mtime.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        out.push(MaildirFile {
            path: entry.path().clone(),
            flags,
            mtime,
        });
    }
    out.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.path.cmp(&b.path)));
    Ok(out)
}

/// Writes one folder as a Maildir.
pub struct MaildirWriter {
    maildir: ::maildir::Maildir,
    /// Keywords given letters, in order.
    keywords: Vec<String>,
}

impl MaildirWriter {
    /// The Maildir for `folder` under `dir`: `dir` itself for INBOX (or
    /// when `root`), else the Maildir++ subfolder `.A.B` for A/B; its
    /// `cur/`, `new/` and `tmp/` created.
    ///
    /// Errors: a folder name part holds a `.` (it would read back as two
    /// levels) or the directories cannot be created.
    pub fn create(dir: &Path, folder: &str, root: bool) -> Result<MaildirWriter> {
        let path = if root || folder.eq_ignore_ascii_case("INBOX") {
            dir.to_path_buf()
        } else {
            if folder.split('/').any(|p| p.contains('.') || p.is_empty()) {
                anyhow::bail!(
                    "folder {folder:?} has a name part with a '.', the Maildir++ separator"
                );
            }
            dir.join(format!(".{}", folder.replace('/', ".")))
        };
        let maildir = ::maildir::Maildir::from(path);
        maildir
            .create_dirs()
            .with_context(|| format!("cannot create {}", maildir.path().display()))?;
        Ok(MaildirWriter {
            keywords: read_keywords(maildir.path()).into_values().collect(),
            maildir,
        })
    }

    /// Writes one message from `content` (at its start) into `cur/` with
    /// its flags as info letters, its mtime set to its INTERNALDATE, and
    /// synced before it is renamed into place.
    pub fn write(&mut self, content: &mut std::fs::File, listed: &Listed) -> Result<()> {
        let mut letters = String::new();
        for flag in &listed.flags {
            if let Some((letter, _)) = FLAG_LETTERS
                .iter()
                .find(|(_, f)| f.eq_ignore_ascii_case(flag))
            {
                letters.push(*letter);
            } else if !flag.starts_with('\\') {
                if let Some(letter) = self.keyword_letter(flag) {
                    letters.push(letter);
                }
            }
        }
        let mut tmp = self.maildir.open_file_in_tmp().map_err(|e| {
            anyhow::anyhow!(
                "cannot create a file in {}: {e}",
                self.maildir.path().display()
            )
        })?;
        std::io::copy(content, &mut tmp).context("cannot write a message file")?;
        tmp.flush()?;
        let when = if listed.internal_date >= 0 {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(listed.internal_date as u64)
        } else {
            std::time::UNIX_EPOCH
        };
        {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(tmp.path())
                .context("cannot reopen a message file")?;
            file.set_modified(when)?;
            file.sync_all()?;
        }
        self.maildir
            .move_tmp_to_cur_with_flags(tmp, &letters)
            .map_err(|e| anyhow::anyhow!("cannot move a message into cur/: {e}"))?;
        Ok(())
    }

    /// The letter of `keyword`, given one if it has none and one is free.
    fn keyword_letter(&mut self, keyword: &str) -> Option<char> {
        let index = match self.keywords.iter().position(|k| k == keyword) {
            Some(i) => i,
            None if self.keywords.len() < MAX_KEYWORDS => {
                self.keywords.push(keyword.to_string());
                self.keywords.len() - 1
            }
            None => return None,
        };
        Some((b'a' + index as u8) as char)
    }

    /// Writes `dovecot-keywords` when keywords were used, and syncs the
    /// Maildir's `cur/`.
    pub fn finish(self) -> Result<()> {
        if !self.keywords.is_empty() {
            let text: String = self
                .keywords
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{i} {k}\n"))
                .collect();
            std::fs::write(self.maildir.path().join("dovecot-keywords"), text)?;
        }
        std::fs::File::open(self.maildir.path().join("cur"))?.sync_all()?;
        Ok(())
    }
}
