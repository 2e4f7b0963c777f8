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
//!
//! Cost (issue 16): O(folders within the patterns' literal prefixes +
//! matches + shared folders). Own folders are read from the store's name
//! index by the prefixes of [`names::own_prefixes`], and a folder record
//! is read only for a name that matches (or, with RECURSIVEMATCH, lies
//! below a match); subscriptions by [`names::subscription_prefixes`]; a
//! RECURSIVEMATCH parent's `\HasChildren` is one neighbour lookup. The
//! subtree of a folder no pattern can reach below
//! ([`names::could_match_below`]) is skipped with one seek, so an exact
//! name is a point read and a neighbour lookup; other accounts' shares
//! are read only for a pattern that can reach `Shared/`, and only the
//! named owner's for `Shared/{owner}/...` ([`names::shared_scope`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use store_core::{FolderInfo, FolderRef, Principal, SharedScope, Store, StoreError};

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
    /// Whether the principal subscribed to it.
    subscribed: bool,
}

/// One untagged response of the answer, in name order.
pub(crate) struct Line {
    /// The mailbox name.
    pub name: String,
    /// The response, CRLF-terminated.
    pub text: String,
    /// Whether a LIST-STATUS `* STATUS` follows it.
    pub selectable: bool,
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
    let full = full_patterns(reference, patterns);
    let store = session.state.store.clone();
    for line in answer(&store, &principal, full, lsub, options).await? {
        session.out.push_str(&line.text);
        if let (Some(items), true) = (&options.return_status, line.selectable) {
            // RFC 5819: a mailbox that cannot be read gets no STATUS.
            if let Ok(status) = status_line(session, &line.name, items).await {
                session.out.push_str(&status);
            }
        }
    }
    Ok(Completion::ok(format!("{verb} completed")))
}

/// The patterns joined to the reference (RFC 3501 6.3.8).
pub(crate) fn full_patterns(reference: &str, patterns: &[String]) -> Vec<String> {
    patterns
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
        .collect()
}

/// Whether any of `patterns` matches `name`.
fn matches_any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| names::matches(p, name))
}

/// The untagged responses of LIST / LSUB for the joined patterns `full`,
/// in name order.
pub(crate) async fn answer(
    store: &Store,
    principal: &Principal,
    full: Vec<String>,
    lsub: bool,
    options: &ListOptions,
) -> Result<Vec<Line>, StoreError> {
    let verb = if lsub { "LSUB" } else { "LIST" };
    let full = Arc::new(full);
    let matches = |name: &str| matches_any(&full, name);
    let by_subscription = lsub || options.select_subscribed;
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
            subscribed: info.subscribed,
        }
    };
    // Every folder shared with the principal is read (their number does
    // not grow with the account's own); own folders only within the
    // patterns' prefixes, and their records only when wanted.
    let mut entries: Vec<Entry> = Vec::new();
    let folders: Vec<FolderInfo>;
    if by_subscription {
        // RFC 3501 6.3.9 and RFC 5258 3.1: the subscription list,
        // including names whose folder is gone (\Noselect for LSUB,
        // \NonExistent for LIST); those a pattern or a pattern's match
        // above them can concern start with one of these prefixes.
        let prefixes: Vec<String> = full
            .iter()
            .flat_map(|p| names::subscription_prefixes(p))
            .collect();
        let subscribed: BTreeSet<String> = store
            .subscriptions_matching(principal, &prefixes)
            .await?
            .into_iter()
            .collect();
        // A shared folder is subscribed as `{owner}/{name}`: only the
        // owners that first levels of the subscriptions name are read.
        let mut owners: Vec<String> = subscribed
            .iter()
            .filter_map(|s| s.split_once(DELIMITER).map(|(o, _)| o.to_string()))
            .collect();
        owners.dedup();
        let scope = if owners.len() > MAX_OWNERS {
            SharedScope::All
        } else {
            SharedScope::Owners(owners)
        };
        let wanted = Arc::new(subscribed.clone());
        let below = wanted.clone();
        folders = store
            .list_matching_in(
                principal,
                &prefixes,
                scope,
                move |f: &FolderRef| f.owner.is_some() || wanted.contains(&subscription_name(f)),
                move |name: &str| {
                    // A subscription below `name` (sorted: the first at or
                    // after `name/` tells).
                    let prefix = format!("{name}{DELIMITER}");
                    below
                        .range(prefix.clone()..)
                        .next()
                        .is_some_and(|s| s.starts_with(&prefix))
                },
            )
            .await?;
        let by_name: HashMap<String, &FolderInfo> = folders
            .iter()
            .map(|i| (subscription_name(&folder_ref_of(i)), i))
            .collect();
        for name in &subscribed {
            let entry = match by_name.get(name) {
                Some(info) => Entry {
                    subscribed: true,
                    ..entry_of(info)
                },
                None => Entry {
                    attributes: vec![if lsub { "\\Noselect" } else { "\\NonExistent" }],
                    name: name.clone(),
                    selectable: false,
                    special_use: false,
                    subscribed: true,
                },
            };
            entries.push(entry);
        }
    } else {
        let prefixes: Vec<String> = full.iter().flat_map(|p| names::own_prefixes(p)).collect();
        let patterns = full.clone();
        let deeper = full.clone();
        let below = options.recursive_match;
        let scope = full
            .iter()
            .map(|p| names::shared_scope(p))
            .fold(SharedScope::None, union);
        folders = store
            .list_matching_in(
                principal,
                &prefixes,
                scope,
                move |f: &FolderRef| {
                    // RECURSIVEMATCH also needs the selected folders below a
                    // match (RFC 5258 3.5).
                    if f.owner.is_some() {
                        return true;
                    }
                    matches_any(&patterns, &f.name)
                        || (below && ancestors(&f.name).any(|a| matches_any(&patterns, a)))
                },
                // Subtrees no pattern reaches are skipped (`c%` below `c1`).
                move |name: &str| below || deeper.iter().any(|p| names::could_match_below(p, name)),
            )
            .await?;
        for info in &folders {
            if let Some(owner) = &info.owner {
                for level in [SHARED_ROOT.to_string(), format!("{SHARED_ROOT}/{owner}")] {
                    entries.push(Entry {
                        attributes: vec!["\\Noselect", "\\HasChildren"],
                        name: level,
                        selectable: false,
                        special_use: false,
                        subscribed: false,
                    });
                }
            }
            entries.push(entry_of(info));
        }
    }
    // In name order, one entry a name (the last given). Own folders come
    // in name order already, so this costs a pass unless shares follow.
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|later, kept| {
        let same = later.name == kept.name;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
    if options.select_special_use {
        entries.retain(|e| e.special_use);
    }
    if !lsub && (options.return_subscribed || options.select_subscribed) {
        for entry in entries.iter_mut().filter(|e| e.subscribed) {
            entry.attributes.push("\\Subscribed");
        }
    }
    // RFC 5258 3.5: with RECURSIVEMATCH, a mailbox that matches the
    // pattern but not the selection is listed (with CHILDINFO) when one
    // of its descendants is selected; RFC 3501 6.3.9: LSUB with `%` lists
    // a parent that is not subscribed itself (\Noselect) when a
    // subscribed descendant does not match the pattern ("foo" for
    // "foo/bar" and "%"). Only for descendants the patterns do not list
    // themselves.
    let mut parents: BTreeSet<String> = BTreeSet::new();
    if options.recursive_match || lsub {
        let listed = |name: &str| {
            entries
                .binary_search_by(|e| e.name.as_str().cmp(name))
                .is_ok()
        };
        for name in entries
            .iter()
            .map(|e| e.name.as_str())
            .filter(|n| !matches(n))
        {
            for parent in ancestors(name) {
                if matches(parent) && !listed(parent) {
                    parents.insert(parent.to_string());
                }
            }
        }
    }
    let mut lines: Vec<Line> = Vec::with_capacity(entries.len() + parents.len());
    let mut add = |name: String, text: String, selectable: bool| {
        lines.push(Line {
            name,
            text,
            selectable,
        });
    };
    if lsub {
        for name in &parents {
            let mut line = String::from("* LSUB (\\Noselect) \"/\" ");
            response::mailbox(&mut line, name);
            line.push_str("\r\n");
            add(name.clone(), line, false);
        }
    }
    for entry in entries.into_iter().filter(|e| matches(&e.name)) {
        let mut line = format!("* {verb} ");
        response::flag_list(&mut line, entry.attributes.iter().copied());
        line.push_str(" \"/\" ");
        response::mailbox(&mut line, &entry.name);
        line.push_str("\r\n");
        add(entry.name, line, entry.selectable);
    }
    if options.recursive_match && !lsub {
        let criterion = if options.select_subscribed {
            "SUBSCRIBED"
        } else {
            "SPECIAL-USE"
        };
        let parents: Vec<String> = parents.into_iter().collect();
        let own = store.own_have_children(principal, parents.clone()).await?;
        for (name, own_children) in parents.into_iter().zip(own) {
            // RFC 5258 4 (RETURN CHILDREN, here always on): the parent's
            // children attribute, from the folders that exist.
            let prefix = format!("{name}{DELIMITER}");
            let shared_children = folders
                .iter()
                .any(|i| i.owner.is_some() && names::display_name(i).starts_with(&prefix));
            let attribute = if own_children || shared_children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            };
            let mut line = format!("* LIST ({attribute}) \"/\" ");
            response::mailbox(&mut line, &name);
            line.push_str(&format!(" (\"CHILDINFO\" (\"{criterion}\"))\r\n"));
            add(name, line, false);
        }
    }
    // The names are distinct (a parent is added only when not listed).
    lines.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(lines)
}

/// Most owners a subscription listing reads the shares of one by one;
/// beyond, every share with the principal is read once.
const MAX_OWNERS: usize = 16;

/// The shared folders either scope reads.
fn union(a: SharedScope, b: SharedScope) -> SharedScope {
    match (a, b) {
        (SharedScope::None, x) | (x, SharedScope::None) => x,
        (SharedScope::Owners(mut a), SharedScope::Owners(b)) => {
            a.extend(b);
            SharedScope::Owners(a)
        }
        _ => SharedScope::All,
    }
}

/// Every proper ancestor of a mailbox name, innermost first.
fn ancestors(name: &str) -> impl Iterator<Item = &str> {
    name.rmatch_indices(DELIMITER).map(move |(i, _)| &name[..i])
}

fn folder_ref_of(info: &FolderInfo) -> FolderRef {
    FolderRef {
        owner: info.owner.clone(),
        name: info.folder.name.clone(),
    }
}

#[cfg(test)]
#[path = "list_oracle.rs"]
mod oracle;
