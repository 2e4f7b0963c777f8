//! LIST (RFC 3501 6.3.8) and LSUB (6.3.9), with the RFC 6154 special-use
//! attributes and the shared namespace's levels (`Shared`,
//! `Shared/{owner}`) as `\Noselect` mailboxes.

use std::collections::{BTreeMap, HashMap};

use store_core::{FolderInfo, FolderRef};

use super::principal;
use crate::protocol::response::{self, Completion};
use crate::session::error::CommandResult;
use crate::session::names::{self, subscription_name, DELIMITER, SHARED_ROOT};
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
    let attributes = |info: &FolderInfo| {
        let mut a = vec![if info.has_children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }];
        a.extend(info.folder.special_use.map(|u| u.attribute()));
        a
    };
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    if lsub {
        // RFC 3501 6.3.9: the subscription list, including names whose
        // folder is gone (those are \Noselect).
        let by_subscription: HashMap<String, &FolderInfo> = folders
            .iter()
            .map(|i| (subscription_name(&folder_ref_of(i)), i))
            .collect();
        for subscribed in session.state.store.subscriptions(&principal).await? {
            let entry = match by_subscription.get(&subscribed) {
                Some(info) => Entry {
                    attributes: attributes(info),
                    name: names::display_name(info),
                },
                None => Entry {
                    attributes: vec!["\\Noselect"],
                    name: subscribed,
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
                        },
                    );
                }
            }
            let name = names::display_name(info);
            entries.insert(
                name.clone(),
                Entry {
                    attributes: attributes(info),
                    name,
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

fn folder_ref_of(info: &FolderInfo) -> FolderRef {
    FolderRef {
        owner: info.owner.clone(),
        name: info.folder.name.clone(),
    }
}
