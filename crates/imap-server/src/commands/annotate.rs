//! ANNOTATE (RFC 5257): per-message annotations (seed 003 6.1.3.1, the
//! metadata of a stored object addressed by UID), fetched with the FETCH
//! item `ANNOTATION (entries attributes)` and set with `STORE set
//! ANNOTATION (entry (attribute value ...) ...)`, kept by store-core as
//! the object's metadata: `value.priv` of entry `/comment` is the
//! object's `/private/comment`, `value.shared` its `/shared/comment`.
//!
//! Choices: attributes `value`, `value.priv`, `value.shared`, `size`,
//! `size.priv`, `size.shared`; an entry named without wildcards is
//! returned even when it has no value (NIL), wildcard matches only when
//! they have one. STORE answers no FETCH (the client knows what it set).
//! Setting `/shared` values needs the `w` right, `/private` ones `r`.

use store_core::{MetadataLimit, MetadataTarget, StoreError};

use super::metadata::write_value;
use super::principal;
use crate::protocol::command::AnnotationUpdate;
use crate::protocol::response::Completion;
use crate::protocol::sequence::SequenceSet;
use crate::session::error::{CommandError, CommandResult};
use crate::session::names;
use crate::session::Session;

/// The entries of one message matching `patterns`, each with its private
/// and shared value.
type Annotations = Vec<(String, Option<Vec<u8>>, Option<Vec<u8>>)>;

/// Writes `ANNOTATION (entry (attribute value ...) ...)` for message `uid`
/// of the selected mailbox.
pub async fn write_annotation(
    session: &mut Session,
    uid: u32,
    patterns: &[String],
    attributes: &[String],
) -> Result<(), CommandError> {
    let principal = principal(session)?;
    let Some(mailbox) = session.selected.as_ref() else {
        return Err(Completion::bad("No mailbox selected").into());
    };
    let target = MetadataTarget::Object(mailbox.folder.clone(), uid);
    let stored = session
        .state
        .store
        .get_metadata(
            &principal,
            &target,
            &["/private".to_string(), "/shared".to_string()],
            None,
        )
        .await?;
    let mut found: Annotations = Vec::new();
    for (name, value) in stored {
        let (entry, private) = match name.strip_prefix("/private") {
            Some(e) => (e.to_string(), true),
            None => (
                name.strip_prefix("/shared").unwrap_or(&name).to_string(),
                false,
            ),
        };
        if !patterns.iter().any(|p| names::matches(p, &entry)) {
            continue;
        }
        let index = match found.iter().position(|(e, _, _)| *e == entry) {
            Some(i) => i,
            None => {
                found.push((entry, None, None));
                found.len() - 1
            }
        };
        let slot = &mut found[index];
        if private {
            slot.1 = Some(value);
        } else {
            slot.2 = Some(value);
        }
    }
    for p in patterns.iter().filter(|p| !p.contains(['*', '%'])) {
        if !found.iter().any(|(e, _, _)| e == p) {
            found.push((p.clone(), None, None));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let wants = |a: &str| attributes.iter().any(|x| x == a);
    session.out.push_str("ANNOTATION (");
    for (i, (entry, private, shared)) in found.iter().enumerate() {
        if i > 0 {
            session.out.push(' ');
        }
        session.out.push_str(entry);
        session.out.push_str(" (");
        let mut first = true;
        for (attribute, value) in [("value.priv", private), ("value.shared", shared)] {
            if wants(attribute) || wants("value") {
                if !first {
                    session.out.push(' ');
                }
                first = false;
                session.out.push_str(attribute);
                session.out.push(' ');
                write_value(session, value.as_deref()).await?;
            }
        }
        for (attribute, value) in [("size.priv", private), ("size.shared", shared)] {
            if wants(attribute) || wants("size") {
                if !first {
                    session.out.push(' ');
                }
                first = false;
                let size = value.as_ref().map_or(0, Vec::len);
                session.out.push_str(&format!("{attribute} \"{size}\""));
            }
        }
        session.out.push(')');
    }
    session.out.push(')');
    Ok(())
}

/// Runs STORE / UID STORE of ANNOTATION.
pub async fn store(
    session: &mut Session,
    set: &SequenceSet,
    annotations: Vec<AnnotationUpdate>,
    uid: bool,
) -> CommandResult {
    let principal = principal(session)?;
    let mut entries = Vec::new();
    for (entry, attributes) in annotations {
        if !entry.starts_with('/') || entry.contains(['*', '%']) {
            return Ok(Completion::bad(format!("Bad annotation entry {entry}")));
        }
        for (attribute, value) in attributes {
            let scope = match attribute.as_str() {
                "value.priv" => "/private",
                "value.shared" => "/shared",
                other => {
                    return Ok(Completion::bad(format!(
                        "Cannot store attribute {other} (value.priv, value.shared)"
                    )))
                }
            };
            entries.push((format!("{scope}{entry}"), value));
        }
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    if mailbox.read_only {
        return Ok(Completion::no("Mailbox is read-only").with_code("READ-ONLY"));
    }
    let folder = mailbox.folder.clone();
    let targets: Vec<u32> = mailbox
        .resolve(set, uid)
        .into_iter()
        .map(|(_, u)| u)
        .filter(|&u| !mailbox.is_expunged(u))
        .collect();
    for u in targets {
        let target = MetadataTarget::Object(folder.clone(), u);
        match session
            .state
            .store
            .set_metadata(&principal, &target, entries.clone())
            .await
        {
            Ok(()) | Err(StoreError::NoSuchObject) => {}
            Err(StoreError::MetadataLimit(MetadataLimit::TooManyEntries { .. })) => {
                return Ok(Completion::no("Too many annotations").with_code("ANNOTATE TOOMANY"))
            }
            Err(StoreError::MetadataLimit(MetadataLimit::ValueTooLarge { .. })) => {
                return Ok(Completion::no("Annotation too large").with_code("ANNOTATE TOOBIG"))
            }
            Err(StoreError::InvalidArgument(why)) => return Ok(Completion::bad(why)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Completion::ok("STORE completed"))
}
