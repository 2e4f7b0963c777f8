//! URLAUTH (RFC 4467): GENURLAUTH, RESETKEY and URLFETCH, over store-core's
//! references (operations "generate reference" and "fetch by reference",
//! seed 003), so that a URL made here is one SIP fetch by reference takes,
//! and one `cpm-store account reference` prints is one URLFETCH takes.
//!
//! Choices: the only mechanism is INTERNAL; the token is a random 256-bit
//! value the store keeps (not a MAC of the URL), bound to the message's
//! UID and UIDVALIDITY. GENURLAUTH needs the URL's user to be the logged-in
//! one (or absent) and the `r` right. RESETKEY revokes every reference into
//! the mailbox (or into all of the user's mailboxes). URLFETCH answers NIL
//! for any URL it will not serve, without saying why (RFC 4467 7.5).

use store_core::ReferenceAccess;

use store_core::section::{self, SectionText, TransferDecoding};

use super::fetch::{decode_range, stream_literal, write_literal8};
use super::{folder_of, principal};
use crate::protocol::command::{UrlAuthCommand, UrlFetchParam};
use crate::protocol::response::{self, Completion};
use crate::protocol::url::ImapUrl;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs one URLAUTH command.
pub async fn execute(session: &mut Session, command: UrlAuthCommand) -> CommandResult {
    match command {
        UrlAuthCommand::Generate { urls } => generate(session, &urls).await,
        UrlAuthCommand::ResetKey { mailbox } => reset_key(session, mailbox.as_deref()).await,
        UrlAuthCommand::Fetch { urls } => fetch(session, &urls).await,
    }
}

async fn generate(session: &mut Session, urls: &[(String, String)]) -> CommandResult {
    let principal = principal(session)?;
    let mut made = Vec::new();
    for (url, mechanism) in urls {
        if mechanism != "INTERNAL" {
            return Ok(Completion::no(format!(
                "Mechanism {mechanism} is not supported (INTERNAL)"
            )));
        }
        let parsed = match ImapUrl::parse(url) {
            Ok(u) => u,
            Err(e) => return Ok(Completion::bad(format!("Invalid URL: {e}"))),
        };
        let Some(access) = parsed.access.as_deref() else {
            return Ok(Completion::bad(
                "The URL has no ;URLAUTH= access identifier",
            ));
        };
        let access = match access.split_once('+') {
            None if access.eq_ignore_ascii_case("anonymous") => ReferenceAccess::Anonymous,
            None if access.eq_ignore_ascii_case("authuser") => ReferenceAccess::AuthenticatedUser,
            Some((kind, login)) if kind.eq_ignore_ascii_case("user") => {
                ReferenceAccess::User(login.to_string())
            }
            Some((kind, login)) if kind.eq_ignore_ascii_case("submit") => {
                ReferenceAccess::Submit(login.to_string())
            }
            _ => {
                return Ok(Completion::bad(format!(
                    "Unknown access identifier {access}"
                )))
            }
        };
        if parsed
            .user
            .as_deref()
            .is_some_and(|u| u != principal.login())
        {
            return Ok(Completion::no("The URL names another user's mailbox"));
        }
        let folder = folder_of(&parsed.mailbox)?;
        let store = &session.state.store;
        if let Some(validity) = parsed.uid_validity {
            let (f, _) = store.folder_status(&principal, &folder).await?;
            if f.uid_validity != validity {
                return Ok(Completion::no("UIDVALIDITY has changed"));
            }
        }
        let reference = store
            .generate_reference(
                &principal,
                &folder,
                parsed.uid,
                parsed.section.clone(),
                parsed.expire,
                access,
                store_core::ReferenceUrl::Given(parsed.authorized_part.clone()),
            )
            .await?;
        made.push(reference.1);
    }
    let mut line = String::from("* GENURLAUTH");
    for url in made {
        line.push(' ');
        response::string(&mut line, &url);
    }
    line.push_str("\r\n");
    session.out.push_str(&line);
    Ok(Completion::ok("GENURLAUTH completed"))
}

async fn reset_key(session: &mut Session, mailbox: Option<&str>) -> CommandResult {
    let principal = principal(session)?;
    let store = session.state.store.clone();
    let folders = match mailbox {
        Some(name) => vec![folder_of(name)?],
        None => store
            .list_folders(&principal)
            .await?
            .into_iter()
            .filter(|f| f.owner.is_none())
            .map(|f| store_core::FolderRef::own(f.folder.name))
            .collect(),
    };
    for folder in folders {
        store.revoke_references(&principal, &folder).await?;
    }
    Ok(Completion::ok("RESETKEY completed"))
}

/// URLFETCH (RFC 4467 7.5, RFC 5524 3): for each URL its content, or
/// for the parenthesized form the items asked for (BODYPARTSTRUCTURE, then
/// BINARY or BODY), or NIL for a URL not served. Each URL's blob is opened
/// (and a BINARY decoded) before its data is written.
async fn fetch(session: &mut Session, urls: &[UrlFetchParam]) -> CommandResult {
    let principal = principal(session)?;
    let utf8 = session.enabled.utf8_accept;
    session.out.push_str("* URLFETCH");
    for param in urls {
        let url = &param.url;
        session.out.push(' ');
        response::string(&mut session.out, url);
        let found = session
            .state
            .store
            .fetch_by_reference(Some(&principal), url)
            .await
            .ok();
        let Some((reference, object, summary)) = found else {
            session.out.push_str(" NIL");
            continue;
        };
        let Some(range) = reference
            .content_range(&summary, object.size)
            .map(|(range, _)| range)
        else {
            session.out.push_str(" NIL");
            continue;
        };
        // The blob is opened before the literal's `{n}` is written.
        let Ok(mut file) = session.state.store.open_blob(&object).await else {
            session.out.push_str(" NIL");
            continue;
        };
        if !param.extended {
            session.out.push(' ');
            stream_literal(session, &mut file, range.start, range.end).await?;
            continue;
        }
        // RFC 5524: BODYPARTSTRUCTURE and BINARY name a body part (or the
        // whole message), not a HEADER/TEXT/MIME block.
        let part = reference
            .section_spec()
            .filter(|(_, text)| *text == SectionText::Body)
            .map(|(numbers, _)| numbers);
        let encapsulated = part
            .as_ref()
            .filter(|n| !n.is_empty())
            .and_then(|n| section::find_part(&summary.body, n))
            .filter(|p| p.message.is_some());
        let binary = match (&part, param.binary) {
            (Some(_), true)
                if encapsulated.is_some()
                    && range.end - range.start <= section::MAX_BINARY_DECODE =>
            {
                // A message/rfc822 part: the transfer encodings inside it
                // undone, as Dovecot 2.3 answers (as stored if none).
                let raw = decode_range(&mut file, TransferDecoding::Identity, range.clone())
                    .await
                    .ok();
                raw.and_then(|raw| store_core::mime::decode_leaf_parts(&raw))
                    .map(Some)
            }
            (Some(numbers), true) => match section::transfer_decoding(&summary.body, numbers) {
                Ok(Some(TransferDecoding::Identity)) | Ok(None) => None,
                Ok(Some(d)) => Some(decode_range(&mut file, d, range.clone()).await.ok()),
                Err(_) => Some(None),
            },
            (None, true) => Some(None),
            _ => None,
        };
        session.out.push_str(" (");
        let mut first = true;
        if param.body_part_structure {
            first = false;
            session.out.push_str("BODYPARTSTRUCTURE ");
            match part
                .as_ref()
                .and_then(|n| section::find_part(&summary.body, n))
            {
                // With BINARY, a decoded part's size and lines are those of
                // the octets BINARY returns (as Dovecot 2.3 answers); its
                // encoding field still names the stored encoding.
                Some(p) => match &binary {
                    Some(Some(bytes)) if p.message.is_some() => {
                        let mut decoded = p.clone();
                        decoded.end = p.body_start.saturating_add(bytes.len() as u64);
                        decoded.lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
                        if let Some(inner) = decoded.message.as_mut() {
                            let parsed = store_core::mime::summarize(bytes);
                            sizes_from(&mut inner.1, &parsed.summary.body);
                        }
                        response::body_structure(&mut session.out, &decoded, true, utf8)
                    }
                    Some(Some(bytes)) if p.children.is_empty() && p.message.is_none() => {
                        let mut decoded = p.clone();
                        decoded.end = p.body_start.saturating_add(bytes.len() as u64);
                        decoded.lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
                        response::body_structure(&mut session.out, &decoded, true, utf8)
                    }
                    _ => response::body_structure(&mut session.out, p, true, utf8),
                },
                None => session.out.push_str("NIL"),
            }
        }
        if param.binary || param.body {
            if !first {
                session.out.push(' ');
            }
            session
                .out
                .push_str(if param.binary { "BINARY " } else { "BODY " });
            match binary {
                Some(Some(bytes)) => write_literal8(session, &bytes).await?,
                Some(None) => session.out.push_str("NIL"),
                None => stream_literal(session, &mut file, range.start, range.end).await?,
            }
        }
        session.out.push(')');
    }
    session.out.push_str("\r\n");
    Ok(Completion::ok("URLFETCH completed"))
}

/// Gives `part` (and the parts inside it) the sizes and line counts of
/// `decoded`, the same structure after [`store_core::mime::decode_leaf_parts`]:
/// what BODYPARTSTRUCTURE reports with BINARY (Dovecot 2.3 keeps the
/// stored encoding names).
fn sizes_from(part: &mut store_core::mime::BodyPart, decoded: &store_core::mime::BodyPart) {
    part.body_start = decoded.body_start;
    part.end = decoded.end;
    part.lines = decoded.lines;
    for (child, d) in part.children.iter_mut().zip(&decoded.children) {
        sizes_from(child, d);
    }
    if let (Some(inner), Some(d)) = (part.message.as_mut(), decoded.message.as_ref()) {
        sizes_from(&mut inner.1, &d.1);
    }
}
