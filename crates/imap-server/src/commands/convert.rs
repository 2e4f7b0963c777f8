//! CONVERT and UID CONVERT (RFC 5259 6), and CONVERSIONS (5.1): image
//! parts of stored objects converted to PNG or JPEG thumbnails through
//! store-core's preview operation (the one WebDAV `?preview=` uses; seed
//! 003 6.1.1.3 "preview fetch").
//!
//! The form served: `CONVERT set BINARY[part ("image/jpeg" ("pix-x" "W"
//! "pix-y" "H"))]` (with `UID` among the items if wanted), answered with
//! `* n CONVERTED (TAG "t") (UID u BINARY[part (...)] ~{len}` and the
//! converted bytes as a literal8 (RFC 3516). Conversions: a PNG, JPEG or
//! GIF image part to `image/png` or `image/jpeg`, fitting `pix-x` by
//! `pix-y` pixels (default 128 each, at most store-core's
//! `MAX_PREVIEW_DIMENSION`) with the aspect ratio kept.
//!
//! At most 100 messages per command (`NO [MAXCONVERTMESSAGES 100]`).
//! Errors: a target type or parameter the server does not support:
//! `NO [BADPARAMETERS]`; a source part that cannot be converted (not an
//! image, unreadable, too large): `NO [UNKNOWN-CDATA]`; both name the
//! reason in the text.

use std::fmt::Write as _;

use store_core::{PreviewFormat, PreviewRequest, StoreError, MAX_PREVIEW_DIMENSION};
use tokio::io::AsyncWriteExt;

use super::principal;
use crate::protocol::command::ConvertItem;
use crate::protocol::response::{self, Completion};
use crate::protocol::sequence::SequenceSet;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Most messages one CONVERT converts (RFC 5259 `MAXCONVERTMESSAGES`):
/// each conversion decodes an image.
const MAX_CONVERT_MESSAGES: usize = 100;
/// Thumbnail size when the client gives none, in pixels.
const DEFAULT_DIMENSION: u32 = 128;
/// Source types converted (RFC 5259 5.1 CONVERSIONS answers these).
const SOURCES: [&str; 3] = ["image/png", "image/jpeg", "image/gif"];
/// Target types made.
const TARGETS: [&str; 2] = ["image/png", "image/jpeg"];

/// Runs CONVERT or UID CONVERT.
pub async fn execute(
    session: &mut Session,
    tag: &str,
    set: &SequenceSet,
    items: &[ConvertItem],
    uid: bool,
) -> CommandResult {
    let principal = principal(session)?;
    // Check every requested conversion before converting anything.
    let mut requests = Vec::new();
    for item in items {
        if let ConvertItem::Binary {
            part,
            media_type,
            params,
        } = item
        {
            match preview_request(part, media_type, params) {
                Ok(r) => requests.push((item, r)),
                Err(why) => return Ok(Completion::no(why).with_code("BADPARAMETERS")),
            }
        }
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let folder = mailbox.folder.clone();
    let targets: Vec<(u32, u32)> = mailbox
        .resolve(set, uid)
        .into_iter()
        .filter(|&(_, u)| !mailbox.is_expunged(u))
        .collect();
    if targets.len() > MAX_CONVERT_MESSAGES {
        return Ok(Completion::no("Too many messages to convert at once")
            .with_code(format!("MAXCONVERTMESSAGES {MAX_CONVERT_MESSAGES}")));
    }
    let with_uid = uid || items.contains(&ConvertItem::Uid);
    for (seq, u) in targets {
        let mut converted = Vec::new();
        for (item, request) in &requests {
            let store = &session.state.store;
            match store.preview(&principal, &folder, u, request).await {
                Ok(p) => converted.push((*item, p.bytes)),
                Err(StoreError::Unconvertible(why) | StoreError::InvalidArgument(why)) => {
                    return Ok(
                        Completion::no(format!("Message {seq}: {why}")).with_code("UNKNOWN-CDATA")
                    )
                }
                Err(StoreError::NoSuchObject) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let _ = write!(session.out, "* {seq} CONVERTED (TAG ");
        response::string(&mut session.out, tag);
        session.out.push_str(") (");
        if with_uid {
            let _ = write!(session.out, "UID {u}");
        }
        for (i, (item, bytes)) in converted.into_iter().enumerate() {
            if with_uid || i > 0 {
                session.out.push(' ');
            }
            session.out.push_str(&label(item));
            let _ = write!(session.out, " ~{{{}}}\r\n", bytes.len());
            session.emit().await?;
            session.io()?.write_all(&bytes).await?;
        }
        session.out.push_str(")\r\n");
    }
    Ok(Completion::ok("CONVERT completed"))
}

/// The preview a BINARY item asks for, or why it cannot be made.
fn preview_request(
    part: &[u32],
    media_type: &str,
    params: &[(String, String)],
) -> Result<PreviewRequest, String> {
    let format = PreviewFormat::from_media_type(media_type)
        .ok_or_else(|| format!("Cannot convert to {media_type} (image/png, image/jpeg)"))?;
    let mut request = PreviewRequest {
        part: part.to_vec(),
        width: DEFAULT_DIMENSION,
        height: DEFAULT_DIMENSION,
        format: Some(format),
    };
    for (name, value) in params {
        let pixels = value
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PREVIEW_DIMENSION).contains(n))
            .ok_or_else(|| format!("{name} must be 1 to {MAX_PREVIEW_DIMENSION} pixels"));
        match name.as_str() {
            "pix-x" => request.width = pixels?,
            "pix-y" => request.height = pixels?,
            other => return Err(format!("Unknown conversion parameter {other}")),
        }
    }
    Ok(request)
}

/// `BINARY[part ("type" ("name" "value" ...))]` as the response repeats it.
fn label(item: &ConvertItem) -> String {
    let ConvertItem::Binary {
        part,
        media_type,
        params,
    } = item
    else {
        return String::new();
    };
    let part: Vec<String> = part.iter().map(u32::to_string).collect();
    let mut out = format!("BINARY[{} (", part.join("."));
    response::string(&mut out, media_type);
    if !params.is_empty() {
        out.push_str(" (");
        for (i, (n, v)) in params.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            response::string(&mut out, n);
            out.push(' ');
            response::string(&mut out, v);
        }
        out.push(')');
    }
    out.push_str(")]");
    out
}

/// Runs CONVERSIONS: `* CONVERSION "from" "to" ("pix-x" "pix-y")` for each
/// conversion matching the two patterns (`*`, `type/*` or a type).
pub fn conversions(session: &mut Session, source: &str, target: &str) -> CommandResult {
    let matches = |pattern: &str, t: &str| {
        pattern == "*"
            || pattern == t
            || pattern
                .strip_suffix("/*")
                .is_some_and(|top| t.split('/').next() == Some(top))
    };
    for from in SOURCES.iter().filter(|s| matches(source, s)) {
        for to in TARGETS.iter().filter(|t| matches(target, t)) {
            let _ = write!(
                session.out,
                "* CONVERSION \"{from}\" \"{to}\" (\"pix-x\" \"pix-y\")\r\n"
            );
        }
    }
    Ok(Completion::ok("CONVERSIONS completed"))
}
