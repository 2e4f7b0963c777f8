//! The brute-force oracle of LIST / LSUB (issue 16): the algorithm before
//! the name-index listing (every folder and every subscription read, then
//! matched against the patterns), compared line for line with
//! [`super::answer`] on seeded random trees: up to 300 own names over a
//! 3-letter alphabet and depth ≤ 4, INBOX children spelled in any case,
//! special-use folders at depth, other accounts' folders shared through
//! ACL grants with and without `l` (to the principal and to `anyone`), and
//! subscriptions to names that do not exist.
//!
//! One change from the old algorithm, in both: `\Subscribed` is given by
//! the entry's subscription name (`{owner}/{name}` for a shared folder),
//! where the old code looked the displayed `Shared/{owner}/{name}` up and
//! so never marked a subscribed shared folder (RFC 5258 3.1, 3.4).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use store_core::model::SpecialUse;
use store_core::rights::Rights;
use store_core::{AclMode, FolderInfo, FolderRef, Principal, Store, StoreConfig, TreeRng};

use super::{answer, folder_ref_of, full_patterns};
use crate::protocol::command::ListOptions;
use crate::protocol::response;
use crate::session::names::{self, subscription_name, DELIMITER, SHARED_ROOT};

struct Entry {
    attributes: Vec<&'static str>,
    name: String,
    selectable: bool,
    special_use: bool,
    /// The subscription name of the entry (none for a namespace level).
    key: Option<String>,
}

/// The old `list.rs` body, reading `folders` (every folder listed) and
/// `subscribed` (every subscription).
fn old_answer(
    folders: &[FolderInfo],
    subscribed: &BTreeSet<String>,
    full: &[String],
    lsub: bool,
    options: &ListOptions,
) -> Vec<String> {
    let verb = if lsub { "LSUB" } else { "LIST" };
    let matches = |name: &str| full.iter().any(|p| names::matches(p, name));
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
            key: Some(subscription_name(&folder_ref_of(info))),
        }
    };
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    if lsub || options.select_subscribed {
        let by_subscription: HashMap<String, &FolderInfo> = folders
            .iter()
            .map(|i| (subscription_name(&folder_ref_of(i)), i))
            .collect();
        for name in subscribed {
            let entry = match by_subscription.get(name) {
                Some(info) => entry_of(info),
                None => Entry {
                    attributes: vec![if lsub { "\\Noselect" } else { "\\NonExistent" }],
                    name: name.clone(),
                    selectable: false,
                    special_use: false,
                    key: Some(name.clone()),
                },
            };
            entries.insert(entry.name.clone(), entry);
        }
    } else {
        for info in folders {
            if let Some(owner) = &info.owner {
                for level in [SHARED_ROOT.to_string(), format!("{SHARED_ROOT}/{owner}")] {
                    entries.insert(
                        level.clone(),
                        Entry {
                            attributes: vec!["\\Noselect", "\\HasChildren"],
                            name: level,
                            selectable: false,
                            special_use: false,
                            key: None,
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
        for entry in entries.values_mut() {
            if entry.key.as_ref().is_some_and(|k| subscribed.contains(k)) {
                entry.attributes.push("\\Subscribed");
            }
        }
    }
    let mut parents: BTreeMap<String, &'static str> = BTreeMap::new();
    if options.recursive_match {
        let criterion = if options.select_subscribed {
            "SUBSCRIBED"
        } else {
            "SPECIAL-USE"
        };
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
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    for name in lsub_parents {
        let mut line = String::from("* LSUB (\\Noselect) \"/\" ");
        response::mailbox(&mut line, &name);
        line.push_str("\r\n");
        lines.insert(name, line);
    }
    for entry in entries.values().filter(|e| matches(&e.name)) {
        let mut line = format!("* {verb} ");
        response::flag_list(&mut line, entry.attributes.iter().copied());
        line.push_str(" \"/\" ");
        response::mailbox(&mut line, &entry.name);
        line.push_str("\r\n");
        let _ = entry.selectable;
        lines.insert(entry.name.clone(), line);
    }
    for (name, criterion) in parents {
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
        lines.insert(name, line);
    }
    lines.into_values().collect()
}

/// Makes the accounts and a random tree; returns alice.
async fn random_tree(store: &Store, rng: &mut TreeRng) -> Principal {
    let alice = TreeRng::accounts(store).await.expect("accounts");
    let count = 1 + rng.below(300);
    let own: Vec<String> = (0..count).map(|_| rng.name()).collect();
    store
        .bulk_folders(&alice, &TreeRng::with_parents(&own))
        .await
        .expect("own folders");
    for special in [SpecialUse::Flagged, SpecialUse::Junk] {
        let name = format!("{}/z", rng.name());
        let _ = store
            .create_folder(&alice, &FolderRef::own(name), Some(special))
            .await;
    }
    for (login, rights) in [("bob", "lr"), ("carol", "r")] {
        let owner = store.trusted_element(login).await.expect("owner");
        let theirs: Vec<String> = (0..1 + rng.below(30)).map(|_| rng.name()).collect();
        let theirs = TreeRng::with_parents(&theirs);
        store.bulk_folders(&owner, &theirs).await.expect("shared");
        for name in &theirs {
            if rng.below(2) == 0 {
                continue;
            }
            let (who, given) = match rng.below(3) {
                0 => ("anyone", "l"),
                1 => ("alice", rights),
                _ => ("alice", "r"),
            };
            store
                .set_acl(
                    &owner,
                    &FolderRef::own(name.as_str()),
                    who,
                    Rights::parse(given).expect("rights"),
                    AclMode::Replace,
                )
                .await
                .expect("acl");
        }
    }
    let mut subscriptions: Vec<String> =
        own.iter().filter(|_| rng.below(4) == 0).cloned().collect();
    subscriptions.extend(
        [
            "zz/q",
            "a/zzz",
            "bob/a",
            "bob/zz",
            "carol/b",
            "INBOX",
            "inbox-old",
            "Inboxes/a",
        ]
        .map(String::from),
    );
    subscriptions.extend((0..5).map(|_| format!("bob/{}", rng.name())));
    for name in subscriptions.iter().take(60) {
        store
            .set_subscribed(&alice, name, true)
            .await
            .expect("subscribe");
    }
    alice
}

const PATTERNS: &[&str] = &[
    "%",
    "*",
    "",
    "a",
    "a/%",
    "a*",
    "*b",
    "a/%/c",
    "%/%",
    "b/*",
    "INBOX*",
    "inbox/%",
    "Inbox",
    "in*",
    "INBOX",
    "Shared/%",
    "Shared/bob/*",
    "Shared*",
    "Sh%",
    "Shared/%/%",
    "zz/%",
    "c%",
    "aa/b%",
    "%a",
    "inbox*",
    "Inbox%",
    "INBOX%",
    "Inboxes",
    "inbox-old/%",
];

const REFERENCES: &[&str] = &["", "", "", "a", "a/", "Shared/bob", "inbox"];

fn options_list() -> Vec<(bool, ListOptions)> {
    let o = ListOptions::default;
    vec![
        (false, o()),
        (true, o()),
        (
            false,
            ListOptions {
                select_subscribed: true,
                ..o()
            },
        ),
        (
            false,
            ListOptions {
                select_subscribed: true,
                recursive_match: true,
                ..o()
            },
        ),
        (
            false,
            ListOptions {
                select_special_use: true,
                ..o()
            },
        ),
        (
            false,
            ListOptions {
                select_special_use: true,
                recursive_match: true,
                ..o()
            },
        ),
        (
            false,
            ListOptions {
                return_subscribed: true,
                ..o()
            },
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_equals_the_brute_force_oracle_on_random_trees() {
    for seed in 1..=4u64 {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(StoreConfig::new(dir.path())).expect("store");
        let mut rng = TreeRng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let alice = random_tree(&store, &mut rng).await;
        let mut folders = store.list_folders(&alice).await.expect("list");
        // `\HasChildren` by brute force over what alice may look up (the
        // folders listed: own, and others' with `l`, RFC 4314 4), not
        // taken from the store.
        let listed: Vec<(Option<String>, String)> = folders
            .iter()
            .map(|i| (i.owner.clone(), i.folder.name.clone()))
            .collect();
        for info in &mut folders {
            let below = format!("{}{DELIMITER}", info.folder.name);
            info.has_children = listed
                .iter()
                .any(|(owner, name)| *owner == info.owner && name.starts_with(&below));
        }
        let subscribed: BTreeSet<String> = store
            .subscriptions(&alice)
            .await
            .expect("subscriptions")
            .into_iter()
            .collect();
        let mut compared = 0;
        for round in 0..120 {
            let reference = REFERENCES[rng.below(REFERENCES.len())];
            let patterns: Vec<String> = (0..1 + rng.below(2))
                .map(|_| PATTERNS[rng.below(PATTERNS.len())].to_string())
                .collect();
            let full = full_patterns(reference, &patterns);
            for (lsub, options) in options_list() {
                let expected = old_answer(&folders, &subscribed, &full, lsub, &options);
                let got: Vec<String> = answer(&store, &alice, full.clone(), lsub, &options)
                    .await
                    .expect("answer")
                    .into_iter()
                    .map(|l| l.text)
                    .collect();
                assert_eq!(
                    got, expected,
                    "seed {seed} round {round}: reference {reference:?} patterns {patterns:?} lsub {lsub} {options:?}"
                );
                compared += expected.len();
            }
        }
        assert!(
            compared > 1000,
            "seed {seed}: only {compared} lines compared"
        );
        store.close().await;
    }
}
