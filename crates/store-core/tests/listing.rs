//! The folder listing of issue 16 (store/listing.rs) against a model the
//! test keeps of what it created: on seeded random trees (own folders over
//! a 3-letter alphabet, depth ≤ 4, INBOX children, one tree over 1,024
//! names so that `\HasChildren` crosses a page of the name index; other
//! accounts' folders shared with and without `l`, to the principal and to
//! `anyone`; subscriptions to names that do not exist), every listing
//! call gives what a brute-force scan of the model gives.

use std::collections::{BTreeMap, BTreeSet};

use store_core::names::is_within;
use store_core::rights::{Right, Rights};
use store_core::{AclMode, FolderRef, Principal, SharedScope, Store, StoreConfig, TreeRng};

/// One listed folder as the model sees it: owner, name, rights, subscribed,
/// has children.
type Row = (Option<String>, String, String, bool, bool);

/// What the test made.
struct Model {
    own: BTreeSet<String>,
    /// Per owner (by account id order): name → rights granted to alice and
    /// anyone together, for every granted folder.
    shared: Vec<(String, BTreeMap<String, Rights>)>,
    subscriptions: BTreeSet<String>,
}

impl Model {
    fn listing(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for name in &self.own {
            let below = self.own.iter().any(|n| n != name && is_within(n, name));
            rows.push((
                None,
                name.clone(),
                Rights::all().to_string(),
                self.subscriptions.contains(name),
                below,
            ));
        }
        for (owner, granted) in &self.shared {
            for (name, rights) in granted {
                if !rights.contains(Right::Lookup) {
                    continue;
                }
                // RFC 4314 4: only children alice may look up count.
                let below = granted
                    .iter()
                    .any(|(n, r)| n != name && is_within(n, name) && r.contains(Right::Lookup));
                rows.push((
                    Some(owner.clone()),
                    name.clone(),
                    rights.to_string(),
                    self.subscriptions.contains(&format!("{owner}/{name}")),
                    below,
                ));
            }
        }
        rows
    }
}

fn rows(infos: Vec<store_core::FolderInfo>) -> Vec<Row> {
    infos
        .into_iter()
        .map(|i| {
            (
                i.owner,
                i.folder.name,
                i.rights.to_string(),
                i.subscribed,
                i.has_children,
            )
        })
        .collect()
}

/// Asserts `got == expected`, naming the first row that differs.
fn same(got: Vec<Row>, expected: &[Row], what: &str) {
    if let Some(i) = (0..got.len().max(expected.len())).find(|&i| got.get(i) != expected.get(i)) {
        panic!(
            "{what}: row {i}: got {:?}, expected {:?} ({} vs {} rows)",
            got.get(i),
            expected.get(i),
            got.len(),
            expected.len()
        );
    }
}

async fn build(store: &Store, rng: &mut TreeRng, count: usize) -> (Principal, Model) {
    let alice = TreeRng::accounts(store).await.expect("accounts");
    let own = TreeRng::with_parents(&(0..count).map(|_| rng.name()).collect::<Vec<_>>());
    store.bulk_folders(&alice, &own).await.expect("own");
    let mut model = Model {
        own: own.into_iter().collect(),
        shared: Vec::new(),
        subscriptions: BTreeSet::new(),
    };
    // Every account has these, subscribed.
    let defaults = ["INBOX", "Sent", "Drafts", "Trash", "Archive"].map(String::from);
    model.own.extend(defaults.clone());
    model.subscriptions.extend(defaults);
    for owner in ["bob", "carol"] {
        let p = store.trusted_element(owner).await.expect("owner");
        let theirs = TreeRng::with_parents(
            &(0..1 + rng.below(40))
                .map(|_| rng.name())
                .collect::<Vec<_>>(),
        );
        store.bulk_folders(&p, &theirs).await.expect("shared");
        let mut granted = BTreeMap::new();
        for name in theirs {
            let (who, given) = match rng.below(4) {
                0 => continue,
                1 => ("anyone", "l"),
                2 => ("alice", "lr"),
                _ => ("alice", "r"),
            };
            let rights = Rights::parse(given).expect("rights");
            store
                .set_acl(
                    &p,
                    &FolderRef::own(name.as_str()),
                    who,
                    rights,
                    AclMode::Replace,
                )
                .await
                .expect("acl");
            granted.insert(name, rights);
        }
        model.shared.push((owner.to_string(), granted));
    }
    let mut subs: Vec<String> = model
        .own
        .iter()
        .filter(|_| rng.below(5) == 0)
        .cloned()
        .collect();
    subs.truncate(40);
    subs.extend(["zz/q", "a/zzz", "bob/a", "bob/zz", "carol/b/c"].map(String::from));
    for name in subs {
        store
            .set_subscribed(&alice, &name, true)
            .await
            .expect("sub");
        model.subscriptions.insert(name);
    }
    (alice, model)
}

fn is_child(name: &str, parent: Option<&str>) -> bool {
    match parent {
        None => !name.contains('/'),
        Some(p) => name
            .strip_prefix(p)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|l| !l.contains('/')),
    }
}

async fn check(seed: u64, count: usize) {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(StoreConfig::new(dir.path())).expect("store");
    let mut rng = TreeRng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let (alice, model) = build(&store, &mut rng, count).await;
    let all = model.listing();
    same(
        rows(store.list_folders(&alice).await.expect("list")),
        &all,
        "list_folders",
    );

    let prefix_pool = [
        "", "a", "a/", "aa", "b/c", "INBOX", "INBOX/", "c/", "zz", "ab/", "inbox", "Inbox",
    ];
    for round in 0..40 {
        let prefixes: Vec<String> = (0..1 + rng.below(3))
            .map(|_| prefix_pool[rng.below(prefix_pool.len())].to_string())
            .collect();
        let odd = round % 2 == 0;
        let keep = move |f: &FolderRef| !odd || f.name.len() % 2 == 1;
        let expected: Vec<Row> = all
            .iter()
            .filter(|r| {
                keep(&FolderRef {
                    owner: r.0.clone(),
                    name: r.1.clone(),
                })
            })
            .filter(|r| r.0.is_some() || prefixes.iter().any(|p| r.1.starts_with(p.as_str())))
            .cloned()
            .collect();
        let got = rows(
            store
                .list_matching(&alice, &prefixes, keep)
                .await
                .expect("matching"),
        );
        assert_eq!(
            got, expected,
            "seed {seed}: prefixes {prefixes:?} odd {odd}"
        );
        // The same through `list_matching_in`: a scope of shared owners,
        // and a depth limit whose `descend` skips the deeper subtrees.
        let depth = 1 + rng.below(3);
        let levels = |n: &str| n.split('/').count();
        let scope = match rng.below(4) {
            0 => SharedScope::None,
            1 => SharedScope::Owners(vec!["bob".into()]),
            2 => SharedScope::Owners(vec!["carol".into(), "nobody".into()]),
            _ => SharedScope::All,
        };
        let in_scope = |owner: &Option<String>| match (&scope, owner) {
            (_, None) => true,
            (SharedScope::None, Some(_)) => false,
            (SharedScope::Owners(o), Some(w)) => o.contains(w),
            (SharedScope::All, Some(_)) => true,
        };
        let shallow: Vec<Row> = expected
            .iter()
            .filter(|r| in_scope(&r.0) && levels(&r.1) <= depth)
            .cloned()
            .collect();
        let got = rows(
            store
                .list_matching_in(
                    &alice,
                    &prefixes,
                    scope.clone(),
                    move |f: &FolderRef| keep(f) && levels(&f.name) <= depth,
                    move |n: &str| levels(n) < depth,
                )
                .await
                .expect("matching in"),
        );
        same(
            got,
            &shallow,
            &format!("seed {seed}: prefixes {prefixes:?} odd {odd} depth {depth} {scope:?}"),
        );
        let subs: Vec<String> = model
            .subscriptions
            .iter()
            .filter(|s| prefixes.iter().any(|p| s.starts_with(p.as_str())))
            .cloned()
            .collect();
        assert_eq!(
            store
                .subscriptions_matching(&alice, &prefixes)
                .await
                .expect("subs"),
            subs
        );
    }

    let mut parents: Vec<Option<String>> = vec![None, Some("zz".into())];
    parents.extend(all.iter().map(|r| Some(r.1.clone())));
    for parent in parents.iter().step_by(3) {
        for owner in [None, Some("bob"), Some("carol")] {
            let expected: Vec<Row> = all
                .iter()
                .filter(|r| r.0.as_deref() == owner && is_child(&r.1, parent.as_deref()))
                .cloned()
                .collect();
            let got = store
                .list_children(&alice, owner, parent.as_deref())
                .await
                .expect("children");
            same(
                rows(got),
                &expected,
                &format!("seed {seed}: {owner:?} {parent:?}"),
            );
            if let Some(p) = parent {
                let root = FolderRef {
                    owner: owner.map(String::from),
                    name: p.clone(),
                };
                let expected: Vec<Row> = all
                    .iter()
                    .filter(|r| r.0.as_deref() == owner && is_within(&r.1, p))
                    .cloned()
                    .collect();
                let got = store.list_subtree(&alice, &root).await.expect("subtree");
                same(
                    rows(got),
                    &expected,
                    &format!("seed {seed}: subtree {owner:?} {p}"),
                );
            }
        }
    }

    let owners: Vec<String> =
        all.iter()
            .filter_map(|r| r.0.clone())
            .fold(Vec::new(), |mut v, o| {
                if v.last() != Some(&o) {
                    v.push(o);
                }
                v
            });
    assert_eq!(store.shared_owners(&alice).await.expect("owners"), owners);

    let names: Vec<String> = model
        .own
        .iter()
        .cloned()
        .chain(["zz".to_string(), "a/zzz".to_string()])
        .collect();
    let expected: Vec<bool> = names
        .iter()
        .map(|n| model.own.iter().any(|o| o.starts_with(&format!("{n}/"))))
        .collect();
    assert_eq!(
        store
            .own_have_children(&alice, names)
            .await
            .expect("children"),
        expected
    );

    for info in store.list_folders(&alice).await.expect("list") {
        let name = store
            .folder_name_by_id(&alice, info.folder.id)
            .await
            .expect("by id");
        let own = info.owner.is_none().then(|| info.folder.name.clone());
        assert_eq!(name, own, "seed {seed}: folder {}", info.folder.id);
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_equals_a_brute_force_scan_on_random_trees() {
    for seed in 1..=4 {
        check(seed, 1 + (seed as usize * 71) % 300).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_attribute_crosses_a_page_of_the_name_index() {
    check(99, 1500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_and_delete_find_the_subtree_by_prefix() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(StoreConfig::new(dir.path())).expect("store");
    store
        .create_account("alice", None, "password-1")
        .await
        .expect("account");
    let alice = store.trusted_element("alice").await.expect("alice");
    let names = TreeRng::with_parents(&["a/x/y", "a x", "a.x", "ab", "a0"].map(String::from));
    store.bulk_folders(&alice, &names).await.expect("folders");
    let refused = store.remove_folder(&alice, &FolderRef::own("a/x")).await;
    assert!(refused.is_err(), "a folder with a child is not removed");
    store
        .remove_folder(&alice, &FolderRef::own("a x"))
        .await
        .expect("childless");
    store
        .rename_folder(&alice, &FolderRef::own("a"), &FolderRef::own("b"))
        .await
        .expect("rename");
    let listed: BTreeSet<String> = store
        .list_folders(&alice)
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.folder.name)
        .collect();
    for name in ["b", "b/x", "b/x/y", "a.x", "ab", "a0"] {
        assert!(listed.contains(name), "{name} in {listed:?}");
    }
    for name in ["a", "a/x", "a/x/y", "a x"] {
        assert!(!listed.contains(name), "{name} in {listed:?}");
    }
    store.close().await;
}
