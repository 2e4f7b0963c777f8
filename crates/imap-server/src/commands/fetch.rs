//! FETCH (RFC 3501 6.4.5) and UID FETCH. Flags and UIDs come from the
//! session's view; ENVELOPE and BODYSTRUCTURE from the summary store-core
//! cached at store time (without the decoded text, which only SEARCH
//! reads); body sections are byte ranges of the stored content, streamed
//! from the blob to the client as literals in chunks as the socket drains,
//! so a large message never sits in memory, however slowly it is read. The
//! blob is opened before a message's response starts, so a literal's `{n}`
//! is written only once its bytes can follow.
//!
//! CONDSTORE and QRESYNC (RFC 7162): the MODSEQ item, the CHANGEDSINCE
//! modifier (only messages changed since, each with its MODSEQ), and for
//! UID FETCH the VANISHED modifier (`* VANISHED (EARLIER)` for the UIDs of
//! the set expunged since, `*` standing for the highest UID ever given, so
//! that expunges above the highest remaining UID are reported too).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::SeekFrom;

use store_core::blob::BlobReader;
use store_core::mime::{MessageSummary, MAX_HEADER_BLOCK};
use store_core::model::Flags;
use store_core::model::{Object, Uid};
use store_core::section;
use store_core::{objectid, FlagUpdate, StoreError};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::principal;
use crate::protocol::command::{FetchAttribute, Section, SectionText};
use crate::protocol::response::{self, Completion};
use crate::protocol::sequence::{compact_ranges, SequenceSet};
use crate::session::error::{CommandError, CommandResult};
use crate::session::Session;

/// A FETCH command's arguments.
pub struct FetchRequest<'a> {
    /// The messages.
    pub set: &'a SequenceSet,
    /// The data items.
    pub items: &'a [FetchAttribute],
    /// UID FETCH.
    pub uid: bool,
    /// CHANGEDSINCE (RFC 7162 3.1.4).
    pub changed_since: Option<u64>,
    /// VANISHED (RFC 7162 3.2.6).
    pub vanished: bool,
}

/// Runs FETCH or UID FETCH.
pub async fn execute(session: &mut Session, request: FetchRequest<'_>) -> CommandResult {
    let FetchRequest {
        set,
        items,
        uid,
        changed_since,
        vanished,
    } = request;
    let principal = principal(session)?;
    if vanished && !(uid && changed_since.is_some() && session.enabled.qresync) {
        // RFC 7162 3.2.6.
        return Ok(Completion::bad(
            "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC",
        ));
    }
    if changed_since.is_some() || items.contains(&FetchAttribute::ModSeq) {
        // CONDSTORE enabling (RFC 7162 3.1).
        super::enable_condstore(session);
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let mut items = items.to_vec();
    if uid && !items.contains(&FetchAttribute::Uid) {
        // RFC 3501 6.4.8: UID FETCH always returns the UID.
        items.insert(0, FetchAttribute::Uid);
    }
    if changed_since.is_some() && !items.contains(&FetchAttribute::ModSeq) {
        // RFC 7162 3.1.4.1: CHANGEDSINCE implies MODSEQ.
        items.push(FetchAttribute::ModSeq);
    }
    let (targets, changes) = match changed_since {
        // Only the messages changed since the MODSEQ are read: the store's
        // changes, kept when the set names them (RFC 7162 3.1.4.1), and
        // those held back in the view (expunged elsewhere, not yet
        // reported), whose retained records the changes no longer hold.
        // A `1:*` over a large mailbox costs the changes, not the targets.
        Some(since) => {
            let found = session
                .state
                .store
                .mail_changes_since(&principal, &mailbox.folder, since)
                .await?;
            let largest = match uid {
                true => mailbox.uids().last().unwrap_or(0),
                false => mailbox.exists(),
            };
            let named = |seq: u32, u: Uid| set.contains(if uid { u } else { seq }, largest);
            let mut chosen: Vec<(u32, Uid)> = found
                .changed
                .iter()
                .filter_map(|o| mailbox.seq_of(o.uid).map(|seq| (seq, o.uid)))
                .filter(|&(seq, u)| named(seq, u))
                .collect();
            let held: Vec<(u32, Uid)> = mailbox
                .held_back()
                .filter_map(|u| mailbox.seq_of(u).map(|seq| (seq, u)))
                .filter(|&(seq, u)| named(seq, u))
                .collect();
            for chunk in held.chunks(CHUNK) {
                let uids: Vec<Uid> = chunk.iter().map(|&(_, u)| u).collect();
                let changed: HashSet<Uid> = session
                    .state
                    .store
                    .object_states(&principal, &mailbox.folder, &uids, mailbox.view())
                    .await?
                    .into_iter()
                    .filter(|o| o.modseq > since)
                    .map(|o| o.uid)
                    .collect();
                chosen.extend(chunk.iter().filter(|&&(_, u)| changed.contains(&u)));
            }
            chosen.sort_unstable();
            chosen.dedup();
            (chosen, Some(found))
        }
        None => (mailbox.resolve(set, uid), None),
    };
    if let Some(changes) = changes {
        if vanished {
            let highest_ever = mailbox.uid_next.saturating_sub(1);
            let gone: Vec<(Uid, Uid)> = match changes.complete {
                // A UID still in the view is held back (RFC 3501 7.4.1):
                // it gets its own VANISHED when the session reports
                // expunges, never a VANISHED (EARLIER) the client would
                // not count (RFC 7162 3.2.10).
                true => changes
                    .vanished
                    .into_iter()
                    .filter(|&u| set.contains(u, highest_ever) && !mailbox.uids().contains(u))
                    .map(|u| (u, u))
                    .collect(),
                // RFC 7162 3.2.5.2, as for SELECT (QRESYNC).
                false => super::select::vanished_earlier(mailbox, Some(set)),
            };
            if !gone.is_empty() {
                let _ = write!(
                    session.out,
                    "* VANISHED (EARLIER) {}\r\n",
                    compact_ranges(gone)
                );
            }
        }
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let needs_record = items.iter().any(|i| {
        !matches!(
            i,
            FetchAttribute::Flags
                | FetchAttribute::Uid
                | FetchAttribute::ModSeq
                | FetchAttribute::Annotation { .. }
        )
    });
    let sets_seen = !mailbox.read_only && items.iter().any(marks_seen);
    // Only UIDs asked (`FETCH 1:* (UID)`): the session's map answers, with
    // no store read, also for a message expunged elsewhere whose record
    // is no longer retained (RFC 3501 7.4.1: it keeps its number, and its
    // UID, until the client is told).
    let needs_state = needs_record || items.iter().any(|i| *i != FetchAttribute::Uid);

    let mut missing = false;
    for chunk in targets.chunks(CHUNK) {
        let mut entries = match needs_state {
            true => read_chunk(session, &principal, chunk, needs_record).await?,
            false => chunk
                .iter()
                .map(|&(_, u)| {
                    let entry = Entry {
                        record: None,
                        flags: Flags::new(),
                        modseq: 0,
                    };
                    (u, entry)
                })
                .collect(),
        };
        let mut seen_now: HashSet<Uid> = HashSet::new();
        if sets_seen {
            seen_now = mark_seen(session, &principal, chunk, &mut entries).await?;
        }
        if let Some(mailbox) = session.selected.as_mut() {
            mailbox.announce_keywords(entries.values().map(|e| &e.flags), &mut session.out);
        }
        'messages: for &(seq, u) in chunk {
            let Some(entry) = entries.remove(&u) else {
                // Expunged elsewhere, and no longer retained for this view.
                missing = true;
                continue;
            };
            let Entry {
                record,
                flags,
                modseq,
            } = entry;
            let mut content = match &record {
                Some((object, _)) if items.iter().any(reads_content) => {
                    match session.state.store.open_blob(object).await {
                        Ok(file) => Some(file),
                        // Removed (expunged elsewhere) since the record was read.
                        Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                            missing = true;
                            continue;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => None,
            };
            if let Some((_, summary)) = &record {
                // RFC 3516 4.3: refused before the message's line starts.
                if let Some(refusal) = binary_refusal(&items, summary) {
                    return Ok(refusal);
                }
            }
            let flags_line = session.selected.as_ref().ok_or_else(no_mailbox)?.flags_of(
                u,
                &flags,
                session.enabled,
            );
            // Everything the response needs is gathered first: if any of it
            // cannot be had, nothing of this message has been written.
            let mut response = Assembled::default();
            let _ = write!(response.text, "* {seq} FETCH (");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    response.text.push(' ');
                }
                if *item == FetchAttribute::ModSeq {
                    let _ = write!(response.text, "MODSEQ ({modseq})");
                    continue;
                }
                if let FetchAttribute::Annotation {
                    entries,
                    attributes,
                } = item
                {
                    let at = session.out.len();
                    if let Err(e) =
                        super::annotate::write_annotation(session, u, entries, attributes).await
                    {
                        session.out.truncate(at);
                        return Err(e);
                    }
                    response.text.push_str(&session.out.split_off(at));
                    continue;
                }
                if let (FetchAttribute::Preview { lazy }, Some((object, _))) = (item, &record) {
                    match session.state.store.preview_of(object, *lazy).await {
                        Ok(preview) => {
                            response.text.push_str("PREVIEW ");
                            response::nstring(&mut response.text, preview.as_deref());
                        }
                        // Gone since its record was read: like the other
                        // items, skipped and reported at the end.
                        Err(StoreError::NoSuchObject) => {
                            missing = true;
                            continue 'messages;
                        }
                        Err(e) => return Err(e.into()),
                    }
                    continue;
                }
                write_item(
                    &mut response,
                    item,
                    u,
                    &flags_line,
                    record.as_ref(),
                    content.as_mut(),
                    session.enabled.utf8_accept,
                )
                .await?;
            }
            if seen_now.contains(&u) && !items.contains(&FetchAttribute::Flags) {
                let _ = write!(response.text, " FLAGS {flags_line}");
                if session.enabled.qresync && !items.contains(&FetchAttribute::Uid) {
                    // RFC 7162 3.2.4: a flag change carries its UID.
                    let _ = write!(response.text, " UID {u}");
                }
                if session.enabled.condstore && !items.contains(&FetchAttribute::ModSeq) {
                    // RFC 7162 3.2: a flag change carries its MODSEQ.
                    let _ = write!(response.text, " MODSEQ ({modseq})");
                }
            }
            response.text.push_str(")\r\n");
            let line = session.line_mark();
            if let Err(e) = response.write(session, content.as_mut()).await {
                // Only I/O fails here; a line cut short ends the connection.
                return Err(session.abandon_line(line, e));
            }
        }
    }
    if missing {
        // RFC 2180 4.1.2: answer what exists, NO for the rest.
        return Ok(
            Completion::no("Some messages were expunged by another session")
                .with_code("EXPUNGEISSUED"),
        );
    }
    Ok(Completion::ok("FETCH completed"))
}

fn no_mailbox() -> Completion {
    Completion::bad("No mailbox selected")
}

/// How many messages one batched store read of FETCH covers: the records
/// of one chunk are held at once, whatever the size of the set.
const CHUNK: usize = 256;

/// What FETCH knows of one message of a chunk: its record and summary
/// (when an item needs them), its flags and MODSEQ.
struct Entry {
    record: Option<(Object, MessageSummary)>,
    flags: Flags,
    modseq: u64,
}

/// The entries of `chunk`'s messages, read with one batched store call
/// (records and summaries with `needs_record`, else flags and MODSEQs
/// only). A message missing from the map is gone (and no longer retained
/// for the session's view).
async fn read_chunk(
    session: &Session,
    principal: &store_core::Principal,
    chunk: &[(u32, Uid)],
    needs_record: bool,
) -> Result<HashMap<Uid, Entry>, CommandError> {
    let mailbox = session.selected.as_ref().ok_or_else(no_mailbox)?;
    let uids: Vec<Uid> = chunk.iter().map(|&(_, u)| u).collect();
    let store = &session.state.store;
    let (folder, view) = (&mailbox.folder, mailbox.view());
    Ok(match needs_record {
        true => store
            .fetch_objects(principal, folder, &uids, view)
            .await?
            .into_iter()
            .map(|(o, summary)| {
                let entry = Entry {
                    flags: o.flags.clone(),
                    modseq: o.modseq,
                    record: None,
                };
                (
                    o.uid,
                    Entry {
                        record: Some((o, summary)),
                        ..entry
                    },
                )
            })
            .collect(),
        false => store
            .object_states(principal, folder, &uids, view)
            .await?
            .into_iter()
            .map(|o| {
                let entry = Entry {
                    record: None,
                    flags: o.flags,
                    modseq: o.modseq,
                };
                (o.uid, entry)
            })
            .collect(),
    })
}

/// Sets `\Seen` on the messages of `entries` that lack it (a FETCH of a
/// body without PEEK, RFC 3501 6.4.5), updating their entries; returns
/// the UIDs it changed. Without the `s` right the content is still
/// returned (RFC 4314 4): the flag just does not change.
async fn mark_seen(
    session: &mut Session,
    principal: &store_core::Principal,
    chunk: &[(u32, Uid)],
    entries: &mut HashMap<Uid, Entry>,
) -> Result<HashSet<Uid>, CommandError> {
    let mailbox = session.selected.as_ref().ok_or_else(no_mailbox)?;
    let unseen: Vec<Uid> = chunk
        .iter()
        .map(|&(_, u)| u)
        .filter(|u| {
            !mailbox.is_expunged(*u) && entries.get(u).is_some_and(|e| !e.flags.contains("\\Seen"))
        })
        .collect();
    let mut seen_now = HashSet::new();
    if unseen.is_empty() {
        return Ok(seen_now);
    }
    let seen: Flags = ["\\Seen"].into_iter().collect();
    let result = session
        .state
        .store
        .update_flags(
            principal,
            &mailbox.folder,
            &unseen,
            FlagUpdate::Add(seen),
            None,
        )
        .await;
    if let Ok(result) = result {
        let mailbox = session.selected.as_mut().ok_or_else(no_mailbox)?;
        for (u, modseq, flags) in result.updated {
            mailbox.note_reported(u, modseq);
            if let Some(e) = entries.get_mut(&u) {
                e.flags = flags;
                e.modseq = modseq;
            }
            seen_now.insert(u);
        }
    }
    Ok(seen_now)
}

/// Whether the item returns bytes of the stored content (a literal).
fn reads_content(item: &FetchAttribute) -> bool {
    matches!(
        item,
        FetchAttribute::Rfc822
            | FetchAttribute::Rfc822Header
            | FetchAttribute::Rfc822Text
            | FetchAttribute::Section { .. }
            | FetchAttribute::Binary { .. }
            | FetchAttribute::BinarySize { .. }
    )
}

/// Whether fetching the item sets `\Seen` (RFC 3501 6.4.5).
fn marks_seen(item: &FetchAttribute) -> bool {
    matches!(
        item,
        FetchAttribute::Rfc822
            | FetchAttribute::Rfc822Text
            | FetchAttribute::Section { peek: false, .. }
            | FetchAttribute::Binary { peek: false, .. }
    )
}

/// What a body item returns: a byte range of the content, bytes made from
/// a range at write time (HEADER.FIELDS, decoded BINARY), or NIL for a
/// part that does not exist. Nothing here holds content bytes: a message's
/// response costs O(items) memory however many literals it asks for, and
/// the bytes are made one literal at a time while writing.
enum Content {
    Range(u64, u64),
    /// The header fields of header block `range` named (or, with `not`,
    /// not named) in `fields`, then `partial` of them (RFC 3501 6.4.5).
    HeaderFields {
        range: std::ops::Range<u64>,
        fields: Vec<String>,
        not: bool,
        partial: Option<(u32, u32)>,
    },
    /// Decoded BINARY content of `range`, then `partial` of it: a literal8
    /// when it holds NUL (RFC 3516 4.1).
    Binary {
        decoding: section::TransferDecoding,
        range: std::ops::Range<u64>,
        partial: Option<(u32, u32)>,
    },
    Nil,
}

/// A message's FETCH response, assembled before any of it is written:
/// text, each literal after the text before it, then the closing text.
#[derive(Default)]
struct Assembled {
    /// (text, the literal after it) in order.
    parts: Vec<(String, Content)>,
    /// The text after the last literal.
    text: String,
}

impl Assembled {
    /// Ends the current text with a literal.
    fn literal(&mut self, content: Content) {
        let text = std::mem::take(&mut self.text);
        self.parts.push((text, content));
    }

    /// Writes the response: the text into `session.out`, each literal
    /// from `file` (ranges) or memory.
    ///
    /// Errors: I/O of the file or the connection.
    async fn write(
        self,
        session: &mut Session,
        mut file: Option<&mut BlobReader>,
    ) -> Result<(), CommandError> {
        for (text, content) in self.parts {
            session.out.push_str(&text);
            match content {
                Content::Nil => session.out.push_str("NIL"),
                Content::Range(start, end) => {
                    stream_literal(session, open(&mut file)?, start, end).await?;
                }
                Content::HeaderFields {
                    range,
                    fields,
                    not,
                    partial,
                } => {
                    let head = read_header_block(open(&mut file)?, range).await?;
                    let bytes = header_fields(&head, &fields, not);
                    drop(head);
                    let bytes = clip_bytes(&bytes, partial);
                    let _ = write!(session.out, "{{{}}}\r\n", bytes.len());
                    session.emit().await?;
                    session.io()?.write_all(bytes).await?;
                }
                Content::Binary {
                    decoding,
                    range,
                    partial,
                } => {
                    let decoded = decode_range(open(&mut file)?, decoding, range).await?;
                    write_literal8(session, clip_bytes(&decoded, partial)).await?;
                }
            }
        }
        session.out.push_str(&self.text);
        Ok(())
    }
}

/// The message's open blob, which `execute` opens whenever an item reads
/// content.
fn open<'a>(file: &'a mut Option<&mut BlobReader>) -> std::io::Result<&'a mut BlobReader> {
    file.as_deref_mut()
        .ok_or_else(|| std::io::Error::other("content not open"))
}

async fn write_item(
    response: &mut Assembled,
    item: &FetchAttribute,
    uid: Uid,
    flags: &str,
    record: Option<&(Object, MessageSummary)>,
    content: Option<&mut BlobReader>,
    utf8: bool,
) -> Result<(), CommandError> {
    let out = &mut response.text;
    // UID and FLAGS come from the session's view; everything else needs
    // the stored record, which `execute` loads whenever such an item is
    // asked for.
    match item {
        FetchAttribute::Uid => {
            let _ = write!(out, "UID {uid}");
            return Ok(());
        }
        FetchAttribute::Flags => {
            let _ = write!(out, "FLAGS {flags}");
            return Ok(());
        }
        _ => {}
    }
    let Some((object, summary)) = record else {
        return Err(Completion::no("Message record unavailable")
            .with_code("SERVERBUG")
            .into());
    };
    let whole = Section::default();
    let header = Section {
        part: Vec::new(),
        text: Some(SectionText::Header),
    };
    let text = Section {
        part: Vec::new(),
        text: Some(SectionText::Text),
    };
    let (label, section, partial) = match item {
        FetchAttribute::Uid
        | FetchAttribute::Flags
        | FetchAttribute::ModSeq
        | FetchAttribute::Annotation { .. } => return Ok(()),
        FetchAttribute::InternalDate => {
            out.push_str("INTERNALDATE ");
            response::date_time(out, object.internal_date);
            return Ok(());
        }
        FetchAttribute::Rfc822Size => {
            let _ = write!(out, "RFC822.SIZE {}", object.size);
            return Ok(());
        }
        FetchAttribute::EmailId => {
            let _ = write!(out, "EMAILID ({})", objectid::email_id(object.email_id));
            return Ok(());
        }
        FetchAttribute::ThreadId => {
            let _ = write!(out, "THREADID ({})", objectid::thread_id(object.thread_id));
            return Ok(());
        }
        FetchAttribute::SaveDate => {
            out.push_str("SAVEDATE ");
            match object.save_date {
                Some(t) => response::date_time(out, t),
                // Stored before save dates were kept (RFC 8514 3).
                None => out.push_str("NIL"),
            }
            return Ok(());
        }
        FetchAttribute::Preview { .. } => return Ok(()),
        FetchAttribute::Envelope => {
            out.push_str("ENVELOPE ");
            response::envelope(out, &summary.envelope, utf8);
            return Ok(());
        }
        FetchAttribute::BodyStructure | FetchAttribute::Body => {
            let extensible = *item == FetchAttribute::BodyStructure;
            out.push_str(if extensible {
                "BODYSTRUCTURE "
            } else {
                "BODY "
            });
            response::body_structure(out, &summary.body, extensible, utf8);
            return Ok(());
        }
        FetchAttribute::Binary { part, partial, .. } => {
            return write_binary(response, content, object, summary, part, Some(*partial)).await;
        }
        FetchAttribute::BinarySize { part } => {
            return write_binary(response, content, object, summary, part, None).await;
        }
        FetchAttribute::Rfc822 => ("RFC822".to_string(), &whole, None),
        FetchAttribute::Rfc822Header => ("RFC822.HEADER".to_string(), &header, None),
        FetchAttribute::Rfc822Text => ("RFC822.TEXT".to_string(), &text, None),
        FetchAttribute::Section {
            section, partial, ..
        } => {
            let mut label = section_label(section);
            if let Some((origin, _)) = partial {
                let _ = write!(label, "<{origin}>");
            }
            (label, section, *partial)
        }
    };
    if content.is_none() {
        return Err(Completion::no("Message content unavailable")
            .with_code("SERVERBUG")
            .into());
    }
    let content = section_content(object, summary, section, partial);
    out.push_str(&label);
    out.push(' ');
    response.literal(content);
    Ok(())
}

/// The NO a FETCH gets before a message's line is written when one of
/// its BINARY items names a part this server cannot decode (RFC 3516 4.3
/// `UNKNOWN-CTE`) or one too large to decode in memory.
fn binary_refusal(items: &[FetchAttribute], summary: &MessageSummary) -> Option<Completion> {
    items.iter().find_map(|item| {
        let (FetchAttribute::Binary { part, .. } | FetchAttribute::BinarySize { part }) = item
        else {
            return None;
        };
        match section::transfer_decoding(&summary.body, part) {
            Err(e) => Some(Completion::no(e.to_string()).with_code("UNKNOWN-CTE")),
            Ok(Some(d)) if d != section::TransferDecoding::Identity => {
                let p = section::find_part(&summary.body, part)?;
                (p.size() > section::MAX_BINARY_DECODE)
                    .then(|| Completion::no("The part is too large to decode").with_code("LIMIT"))
            }
            Ok(_) => None,
        }
    })
}

/// Writes `BINARY[part]<origin> literal` (`partial` is `Some`, its inner
/// value the client's `<origin.length>`) or `BINARY.SIZE[part] n`
/// (`partial` is `None`), RFC 3516 4.1-4.2: the part with its transfer
/// encoding undone by store-core, as a literal8 (`~{n}`) when it holds
/// NUL; NIL (size 0) for a part that does not exist. `7bit`/`8bit` parts
/// are streamed from the blob; others are decoded in memory (at most
/// [`section::MAX_BINARY_DECODE`] bytes, which [`binary_refusal`] checked).
async fn write_binary(
    response: &mut Assembled,
    file: Option<&mut BlobReader>,
    object: &Object,
    summary: &MessageSummary,
    part: &[u32],
    partial: Option<Option<(u32, u32)>>,
) -> Result<(), CommandError> {
    let numbers: Vec<String> = part.iter().map(u32::to_string).collect();
    let mut label = match partial {
        Some(_) => format!("BINARY[{}]", numbers.join(".")),
        None => format!("BINARY.SIZE[{}]", numbers.join(".")),
    };
    if let Some(Some((origin, _))) = partial {
        let _ = write!(label, "<{origin}>");
    }
    let Some(file) = file else {
        return Err(Completion::no("Message content unavailable")
            .with_code("SERVERBUG")
            .into());
    };
    let decoding = section::transfer_decoding(&summary.body, part)
        .map_err(|e| Completion::no(e.to_string()).with_code("UNKNOWN-CTE"))?;
    let range =
        section::section_range(&summary.body, object.size, part, section::SectionText::Body);
    let out = &mut response.text;
    let (Some(decoding), Some(range)) = (decoding, range) else {
        let nil = if partial.is_some() { "NIL" } else { "0" };
        let _ = write!(out, "{label} {nil}");
        return Ok(());
    };
    if decoding == section::TransferDecoding::Identity {
        match partial {
            None => {
                let _ = write!(out, "{label} {}", range.end - range.start);
            }
            Some(partial) => {
                let (start, end) = clip_range(range.start, range.end, partial);
                let _ = write!(out, "{label} ");
                response.literal(Content::Range(start, end));
            }
        }
        return Ok(());
    }
    let Some(partial) = partial else {
        // Only the length is kept; the decoded bytes are dropped here.
        let decoded = decode_range(file, decoding, range).await?;
        let _ = write!(out, "{label} {}", decoded.len());
        return Ok(());
    };
    let _ = write!(out, "{label} ");
    response.literal(Content::Binary {
        decoding,
        range,
        partial,
    });
    Ok(())
}

/// Bytes `range` of an open blob with `decoding` undone (at most
/// [`section::MAX_BINARY_DECODE`] of them are read).
pub async fn decode_range(
    file: &mut BlobReader,
    decoding: section::TransferDecoding,
    range: std::ops::Range<u64>,
) -> std::io::Result<Vec<u8>> {
    let len = (range.end - range.start).min(section::MAX_BINARY_DECODE);
    let mut raw = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(range.start)).await?;
    file.read_exact(&mut raw).await?;
    Ok(section::decode_transfer(decoding, &raw))
}

/// Sends `bytes` as a literal, or a literal8 (`~{n}`) when they hold NUL
/// (RFC 3516 4.1, RFC 5524 3).
pub async fn write_literal8(session: &mut Session, bytes: &[u8]) -> Result<(), CommandError> {
    let tilde = if bytes.contains(&0) { "~" } else { "" };
    let _ = write!(session.out, "{tilde}{{{}}}\r\n", bytes.len());
    session.emit().await?;
    session.io()?.write_all(bytes).await?;
    Ok(())
}

/// Sends bytes `start..end` of an open blob as a literal: its `{n}` CRLF
/// header (after whatever `session.out` holds), then the bytes, read from
/// the file in chunks (`tokio::io::copy`'s buffer, 8 KiB) only as fast as
/// the client's socket takes them, so a slow reader holds no more than
/// that.
///
/// Errors: I/O of the file or the connection; a blob shorter than its
/// record ends the connection (the literal's length is already sent).
pub async fn stream_literal(
    session: &mut Session,
    file: &mut BlobReader,
    start: u64,
    end: u64,
) -> Result<(), CommandError> {
    let len = end.saturating_sub(start);
    file.seek(SeekFrom::Start(start)).await?;
    let _ = write!(session.out, "{{{len}}}\r\n");
    session.emit().await?;
    if len == 0 {
        return Ok(());
    }
    let mut limited = file.take(len);
    let copied = tokio::io::copy(&mut limited, session.io()?).await?;
    if copied != len {
        return Err(std::io::Error::other("stored content shorter than recorded").into());
    }
    Ok(())
}

fn clip_range(start: u64, end: u64, partial: Option<(u32, u32)>) -> (u64, u64) {
    match partial {
        None => (start, end),
        Some((origin, length)) => {
            let s = start.saturating_add(origin as u64).min(end);
            (s, s.saturating_add(length as u64).min(end))
        }
    }
}

fn clip_bytes(bytes: &[u8], partial: Option<(u32, u32)>) -> &[u8] {
    let (s, e) = clip_range(0, bytes.len() as u64, partial);
    &bytes[s as usize..e as usize]
}

/// `BODY[<section>]` as the response names it.
fn section_label(section: &Section) -> String {
    let mut label = String::from("BODY[");
    let part: Vec<String> = section.part.iter().map(u32::to_string).collect();
    label.push_str(&part.join("."));
    if let Some(text) = &section.text {
        if !part.is_empty() {
            label.push('.');
        }
        match text {
            SectionText::Header => label.push_str("HEADER"),
            SectionText::Text => label.push_str("TEXT"),
            SectionText::Mime => label.push_str("MIME"),
            SectionText::HeaderFields { fields, not } => {
                label.push_str(if *not {
                    "HEADER.FIELDS.NOT ("
                } else {
                    "HEADER.FIELDS ("
                });
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        label.push(' ');
                    }
                    response::astring(&mut label, f);
                }
                label.push(')');
            }
        }
    }
    label.push(']');
    label
}

/// What a section names, by store-core's resolver (the one URLFETCH and
/// SIP fetch by reference use), clipped to `partial`; HEADER.FIELDS is
/// filtered from the header block when written ([`read_header_block`]).
fn section_content(
    object: &Object,
    summary: &MessageSummary,
    section: &Section,
    partial: Option<(u32, u32)>,
) -> Content {
    let text = match &section.text {
        None => section::SectionText::Body,
        Some(SectionText::Header | SectionText::HeaderFields { .. }) => {
            section::SectionText::Header
        }
        Some(SectionText::Text) => section::SectionText::Text,
        Some(SectionText::Mime) => section::SectionText::Mime,
    };
    let Some(range) = section::section_range(&summary.body, object.size, &section.part, text)
    else {
        return Content::Nil;
    };
    match &section.text {
        Some(SectionText::HeaderFields { fields, not }) => Content::HeaderFields {
            range,
            fields: fields.clone(),
            not: *not,
            partial,
        },
        _ => {
            let (start, end) = clip_range(range.start, range.end, partial);
            Content::Range(start, end)
        }
    }
}

/// Header block `range` of an open blob, at most [`MAX_HEADER_BLOCK`]
/// bytes of it.
async fn read_header_block(
    file: &mut BlobReader,
    range: std::ops::Range<u64>,
) -> std::io::Result<Vec<u8>> {
    let end = range.end.min(range.start + MAX_HEADER_BLOCK as u64);
    let mut head = vec![0u8; end.saturating_sub(range.start) as usize];
    file.seek(SeekFrom::Start(range.start)).await?;
    file.read_exact(&mut head).await?;
    Ok(head)
}

/// The header fields of `head` whose names are (or, with `not`, are not)
/// in `names`, followed by the blank line (RFC 3501 6.4.5).
fn header_fields(head: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name.trim_ascii());
            let listed = names.iter().any(|n| n.eq_ignore_ascii_case(&name));
            keep = listed != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_field_selection() {
        let head = b"Date: x\r\nFrom: a\r\n b\r\nSubject: s\r\n\r\n";
        let names = vec!["FROM".to_string(), "date".to_string()];
        assert_eq!(
            header_fields(head, &names, false),
            b"Date: x\r\nFrom: a\r\n b\r\n\r\n"
        );
        assert_eq!(header_fields(head, &names, true), b"Subject: s\r\n\r\n");
    }

    #[test]
    fn partial_ranges() {
        assert_eq!(clip_range(10, 20, Some((5, 100))), (15, 20));
        assert_eq!(clip_range(10, 20, Some((50, 1))), (20, 20));
        assert_eq!(clip_range(10, 20, None), (10, 20));
    }
}
