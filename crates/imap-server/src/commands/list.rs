//! LIST (RFC 3501 6.3.8) and LSUB (6.3.9), with the RFC 6154 special-use
//! attributes and the shared namespace's levels (`Shared`,
//! `Shared/{owner}`) as `\Noselect` mailboxes.

use std::collections::{BTreeMap, BTreeSet};

use super::principal;
use crate::protocol::response::{self, Completion};
use crate::session::error::CommandResult;
use crate::session::names::{self, DELIMITER, SHARED_ROOT};
use crate::session::Session;

/// One line of the answer: attributes and name.
struct Entry {
    attributes: Vec<&'static str>,
    name: String,
}

/// Runs LIST (`lsub` false) or LSUB.
pub async fn execute(
    session: &mut Session,
    reference: &str,
    pattern: &str,
    lsub: bool,
) -> CommandResult {
    let principal = principal(session)?;
    let verb = if lsub { "LSUB" } else { "LIST" };
    if pattern.is_empty() && !lsub {
        // RFC 3501 6.3.8: the delimiter and the root of the reference.
        let root = reference.split(DELIMITER).next().unwrap_or("");
        let mut line = String::from("* LIST (\\Noselect) \"/\" ");
        response::mailbox(&mut line, root);
        line.push_str("\r\n");
        session.out.push_str(&line);
        return Ok(Completion::ok("LIST completed"));
    }
    let full =
        if reference.is_empty() || reference.ends_with(DELIMITER) || pattern.starts_with(DELIMITER)
        {
            format!("{reference}{pattern}")
        } else {
            format!("{reference}{DELIMITER}{pattern}")
        };

    let folders = session.state.store.list_folders(&principal).await?;
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut shared_levels: BTreeSet<String> = BTreeSet::new();
    let subscribed: BTreeSet<String> = if lsub {
        session
            .state
            .store
            .subscriptions(&principal)
            .await?
            .into_iter()
            .collect()
    } else {
        BTreeSet::new()
    };
    for info in &folders {
        let name = names::display_name(info);
        if let Some(owner) = &info.owner {
            shared_levels.insert(SHARED_ROOT.to_string());
            shared_levels.insert(format!("{SHARED_ROOT}/{owner}"));
        }
        if lsub && !subscribed.contains(&name) && !info.subscribed {
            continue;
        }
        let mut attributes = vec![if info.has_children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }];
        if let Some(u) = info.folder.special_use {
            attributes.push(u.attribute());
        }
        entries.insert(name.clone(), Entry { attributes, name });
    }
    if !lsub {
        for level in shared_levels {
            entries.insert(
                level.clone(),
                Entry {
                    attributes: vec!["\\Noselect", "\\HasChildren"],
                    name: level,
                },
            );
        }
    }
    for entry in entries.values().filter(|e| names::matches(&full, &e.name)) {
        let mut line = format!("* {verb} ");
        response::flag_list(&mut line, entry.attributes.iter().copied());
        line.push_str(" \"/\" ");
        response::mailbox(&mut line, &entry.name);
        line.push_str("\r\n");
        session.out.push_str(&line);
    }
    Ok(Completion::ok(format!("{verb} completed")))
}
