//! LIST (RFC 3501 6.3.8) and LSUB (6.3.9), with the RFC 6154 special-use
//! attributes and the shared namespace's levels (`Shared`,
//! `Shared/{owner}`) as `\Noselect` mailboxes.
//!
//! LIST-EXTENDED (RFC 5258): several patterns; the SUBSCRIBED selection
//! (subscribed names, `\NonExistent` for those whose mailbox is gone),
//! SPECIAL-USE selection (RFC 6154 3), RECURSIVEMATCH (a parent that is
//! not selected itself but has a selected descendant is listed with
//! `CHILDINFO`), and the SUBSCRIBED return option. `\HasChildren` /
//! `\HasNoChildren` and special-use attributes are always returned.
//! LIST-STATUS (RFC 5819): `RETURN (STATUS (...))` sends a `* STATUS` after
//! each selectable mailbox listed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use store_core::{FolderInfo, FolderRef};

use super::principal;
use super::status::status_line;
use crate::protocol::command::ListOptions;
use crate::protocol::response::{self, Completion};
use crate::session::error::CommandResult;
use crate::session::names::{self, subscription_name, DELIMITER, SHARED_ROOT};
use crate::session::Session;

/// One line of the answer: attributes and name.
struct Entry {
    attributes: Vec<&'static str>,
    name: String,
    /// Whether it can be selected (STATUS is sent for it).
    selectable: bool,
    /// Whether it has a special use.
    special_use: bool,
}

/// Runs LIST (`lsub` false) or LSUB.
pub async fn execute(
    session: &mut Session,
    reference: &str,
    patterns: &[String],
    lsub: bool,
    options: &ListOptions,
) -> CommandResult {
    let principal = principal(session)?;
    let verb = if lsub { "LSUB" } else { "LIST" };
    if crate::protocol::mutf7::is_invalid(reference) {
        // A reference that is not modified UTF-7 names no level.
        return Ok(Completion::ok(format!("{verb} completed")));
    }
    if patterns.len() == 1 && patterns[0].is_empty() && !lsub {
        // RFC 3501 6.3.8: the delimiter and the root of the reference.
        let root = reference.split(DELIMITER).next().unwrap_or("");
        let mut line = String::from("* LIST (\\Noselect) \"/\" ");
        response::mailbox(&mut line, root);
        line.push_str("\r\n");
        session.out.push_str(&line);
        return Ok(Completion::ok("LIST completed"));
    }
    let full: Vec<String> = patterns
        .iter()
        .map(|pattern| {
            if reference.is_empty()
                || reference.ends_with(DELIMITER)
                || pattern.starts_with(DELIMITER)
            {
                format!("{reference}{pattern}")
            } else {
                format!("{reference}{DELIMITER}{pattern}")
            }
        })
        .collect();
    let matches = |name: &str| full.iter().any(|p| names::matches(p, name));

    let folders = session.state.store.list_folders(&principal).await?;
    let subscribed: BTreeSet<String> = session
        .state
        .store
        .subscriptions(&principal)
        .await?
        .into_iter()
        .collect();
    let entry_of = |info: &FolderInfo| {
        let mut attributes = vec![if info.has_children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }];
        attributes.extend(info.folder.special_use.map(|u| u.attribute()));
        Entry {
            attributes,
            name: names::display_name(info),
            selectable: true,
            special_use: info.folder.special_use.is_some(),
        }
    };
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    if lsub || options.select_subscribed {
        // RFC 3501 6.3.9 and RFC 5258 3.1: the subscription list,
        // including names whose folder is gone (\Noselect for LSUB,
        // \NonExistent for LIST).
        let by_subscription: HashMap<String, &FolderInfo> = folders
            .iter()
            .map(|i| (subscription_name(&folder_ref_of(i)), i))
            .collect();
        for name in &subscribed {
            let entry = match by_subscription.get(name) {
                Some(info) => entry_of(info),
                None => Entry {
                    attributes: vec![if lsub { "\\Noselect" } else { "\\NonExistent" }],
                    name: name.clone(),
                    selectable: false,
                    special_use: false,
                },
            };
            entries.insert(entry.name.clone(), entry);
        }
    } else {
        for info in &folders {
            if let Some(owner) = &info.owner {
                for level in [SHARED_ROOT.to_string(), format!("{SHARED_ROOT}/{owner}")] {
                    entries.insert(
                        level.clone(),
                        Entry {
                            attributes: vec!["\\Noselect", "\\HasChildren"],
                            name: level,
                            selectable: false,
                            special_use: false,
                        },
                    );
                }
            }
            let entry = entry_of(info);
            entries.insert(entry.name.clone(), entry);
        }
    }
    if options.select_special_use {
        entries.retain(|_, e| e.special_use);
    }
    if !lsub && (options.return_subscribed || options.select_subscribed) {
        for (name, entry) in entries.iter_mut() {
            if subscribed.contains(name) {
                entry.attributes.push("\\Subscribed");
            }
        }
    }
    // RFC 5258 3.5: with RECURSIVEMATCH, a mailbox that matches the
    // pattern but not the selection is listed (with CHILDINFO) when one
    // of its descendants is selected.
    let mut parents: BTreeMap<String, &'static str> = BTreeMap::new();
    if options.recursive_match {
        let criterion = if options.select_subscribed {
            "SUBSCRIBED"
        } else {
            "SPECIAL-USE"
        };
        // Only for descendants the patterns do not list themselves
        // (RFC 5258 3.5: the CHILDINFO tells of what is not listed).
        for name in entries.keys().filter(|n| !matches(n)) {
            let mut parent = name.as_str();
            while let Some((up, _)) = parent.rsplit_once(DELIMITER) {
                parent = up;
                if matches(parent) && !entries.contains_key(parent) {
                    parents.insert(parent.to_string(), criterion);
                }
            }
        }
    }
    // RFC 3501 6.3.9: LSUB with `%` lists a parent that is not
    // subscribed itself (\Noselect) when a subscribed descendant does not
    // match the pattern ("foo" for "foo/bar" and "%").
    let mut lsub_parents: BTreeSet<String> = BTreeSet::new();
    if lsub {
        for name in entries.keys().filter(|n| !matches(n)) {
            let mut parent = name.as_str();
            while let Some((up, _)) = parent.rsplit_once(DELIMITER) {
                parent = up;
                if matches(parent) && !entries.contains_key(parent) {
                    lsub_parents.insert(parent.to_string());
                }
            }
        }
    }
    let mut lines: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for name in lsub_parents {
        let mut line = String::from("* LSUB (\\Noselect) \"/\" ");
        response::mailbox(&mut line, &name);
        line.push_str("\r\n");
        lines.insert(name, (line, false));
    }
    for entry in entries.values().filter(|e| matches(&e.name)) {
        let mut line = format!("* {verb} ");
        response::flag_list(&mut line, entry.attributes.iter().copied());
        line.push_str(" \"/\" ");
        response::mailbox(&mut line, &entry.name);
        line.push_str("\r\n");
        lines.insert(entry.name.clone(), (line, entry.selectable));
    }
    for (name, criterion) in parents {
        // RFC 5258 4 (RETURN CHILDREN, here always on): the parent's
        // children attribute, from the folders that exist.
        let prefix = format!("{name}{DELIMITER}");
        let attribute = if folders
            .iter()
            .any(|i| names::display_name(i).starts_with(&prefix))
        {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        };
        let mut line = format!("* LIST ({attribute}) \"/\" ");
        response::mailbox(&mut line, &name);
        line.push_str(&format!(" (\"CHILDINFO\" (\"{criterion}\"))\r\n"));
        lines.insert(name, (line, false));
    }
    for (name, (line, selectable)) in lines {
        session.out.push_str(&line);
        if let (Some(items), true) = (&options.return_status, selectable) {
            // RFC 5819: a mailbox that cannot be read gets no STATUS.
            if let Ok(status) = status_line(session, &name, items).await {
                session.out.push_str(&status);
            }
        }
    }
    Ok(Completion::ok(format!("{verb} completed")))
}

fn folder_ref_of(info: &FolderInfo) -> FolderRef {
    FolderRef {
        owner: info.owner.clone(),
        name: info.folder.name.clone(),
    }
}
