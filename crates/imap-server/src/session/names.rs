//! Mailbox names as the client sees them (RFC 2342 namespaces) and the
//! folders they name in store-core.
//!
//! - The personal namespace has no prefix: `INBOX`, `Sent`, `a/b`.
//! - Folders other accounts share through their ACL appear under
//!   `Shared/{owner}/{name}` (the "other users" namespace).
//!
//! The hierarchy delimiter is `/` in both, as in the store.

use store_core::{FolderInfo, FolderRef};

/// The "other users" namespace prefix, without its delimiter.
pub use store_core::names::SHARED_ROOT;

/// The hierarchy delimiter.
pub const DELIMITER: char = '/';

/// The folder a client's mailbox name stands for; `None` for a name that is
/// only a level of the shared namespace (`Shared`, `Shared/bob`), which
/// cannot be selected.
pub fn folder_ref(name: &str) -> Option<FolderRef> {
    match name.split_once(DELIMITER) {
        Some((root, rest)) if root == SHARED_ROOT => {
            let (owner, folder) = rest.split_once(DELIMITER)?;
            (!owner.is_empty() && !folder.is_empty()).then(|| FolderRef::of(owner, folder))
        }
        _ if name == SHARED_ROOT => None,
        _ => Some(FolderRef::own(name)),
    }
}

/// The name a listed folder has for the client.
pub fn display_name(info: &FolderInfo) -> String {
    match &info.owner {
        Some(owner) => format!("{SHARED_ROOT}/{owner}/{}", info.folder.name),
        None => info.folder.name.clone(),
    }
}

/// The name store-core keeps a subscription under: the folder's name, or
/// `{owner}/{name}` for another account's folder (as
/// [`store_core::FolderInfo::subscribed`] looks it up).
pub fn subscription_name(folder: &FolderRef) -> String {
    match &folder.owner {
        Some(owner) => format!("{owner}{DELIMITER}{}", folder.name),
        None => folder.name.clone(),
    }
}

/// RFC 3501 6.3.8 wildcard matching: `*` matches anything, `%` anything
/// but the delimiter. INBOX matches case-insensitively.
pub fn matches(pattern: &str, name: &str) -> bool {
    // Dynamic programming, O(len(pattern) * len(name)): a hostile pattern
    // of many wildcards cannot make it backtrack exponentially. Two rows,
    // reused: LIST calls this for every folder it reads.
    fn go(p: &[char], n: &[char]) -> bool {
        let mut row = vec![false; n.len() + 1];
        let mut next = vec![false; n.len() + 1];
        row[0] = true;
        for &pc in p {
            next[0] = row[0] && (pc == '*' || pc == '%');
            for j in 1..=n.len() {
                next[j] = match pc {
                    '*' => row[j] || next[j - 1],
                    '%' => row[j] || (next[j - 1] && n[j - 1] != DELIMITER),
                    c => row[j - 1] && n[j - 1] == c,
                };
            }
            std::mem::swap(&mut row, &mut next);
        }
        row[n.len()]
    }
    if pattern == "*" {
        // The commonest pattern matches every name.
        return true;
    }
    let canon = |s: &str| -> Vec<char> { canonical_pattern(s).chars().collect() };
    go(&canon(pattern), &canon(name))
}

/// A pattern or name as [`matches`] compares it: a first level that is
/// `INBOX` in any case (the whole string, or followed by `/`) written
/// `INBOX` (RFC 3501 5.1); anything else as it is.
fn canonical_pattern(s: &str) -> std::borrow::Cow<'_, str> {
    // `get`: a name whose fifth byte is inside a character (`Entwürfe`)
    // is not INBOX, and must not panic.
    let inbox_rest = s
        .get(..5)
        .filter(|head| head.eq_ignore_ascii_case("INBOX"))
        .and_then(|_| s.get(5..))
        .filter(|rest| rest.is_empty() || rest.starts_with(DELIMITER));
    match inbox_rest {
        Some(rest) => format!("INBOX{rest}").into(),
        None => s.into(),
    }
}

/// The name prefixes a LIST pattern can match, in the store's own-folder
/// name space (issue 16: the ranges of the 0x11 name index to read): the
/// literal start, up to the first `*` or `%`, of the pattern as
/// [`matches`] reads it (a first level that is `INBOX` in any case, the
/// whole pattern or followed by `/`, written `INBOX`; `Inbox%` stays
/// `Inbox`, as it matches `Inboxes` and not `INBOX`), and `INBOX` itself
/// when that start is a case-insensitive prefix of `INBOX` (`in*`). Every
/// own folder name [`matches`] accepts starts with one of them.
pub fn own_prefixes(pattern: &str) -> Vec<String> {
    let pattern = canonical_pattern(pattern);
    let literal = &pattern[..pattern.find(['*', '%']).unwrap_or(pattern.len())];
    let mut out = vec![literal.to_string()];
    let inbox = "INBOX".as_bytes();
    if literal.len() <= inbox.len()
        && inbox[..literal.len()].eq_ignore_ascii_case(literal.as_bytes())
    {
        out.push("INBOX".to_string());
    }
    out
}

/// Whether `pattern` can match a name below the own folder `name` (one
/// that starts with `name/`), as [`matches`] reads both: `false` lets a
/// listing skip the subtree (`c%` below `c1`; `INBOX` below `INBOX`).
/// O(len(pattern) × len(name)).
pub fn could_match_below(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = canonical_pattern(pattern).chars().collect();
    // The pattern positions reachable after the text read so far; a
    // wildcard also matches nothing (position i reaches i + 1).
    let close = |states: &mut Vec<bool>| {
        for i in 0..p.len() {
            if states[i] && (p[i] == '*' || p[i] == '%') {
                states[i + 1] = true;
            }
        }
    };
    let mut states = vec![false; p.len() + 1];
    states[0] = true;
    close(&mut states);
    for c in canonical_pattern(name).chars().chain([DELIMITER]) {
        let mut next = vec![false; p.len() + 1];
        for (i, &pc) in p.iter().enumerate().filter(|(i, _)| states[*i]) {
            match pc {
                '*' => next[i] = true,
                '%' if c != DELIMITER => next[i] = true,
                '%' => {}
                literal if literal == c => next[i + 1] = true,
                _ => {}
            }
        }
        close(&mut next);
        states = next;
    }
    // Some pattern is left for the rest of the name below.
    states[..p.len()].iter().any(|&s| s)
}

/// Which other accounts' folders a LIST pattern can name
/// (`Shared/{owner}/{name}`, or the levels `Shared`, `Shared/{owner}`):
/// none when its literal start (up to the first wildcard) is neither a
/// prefix of `Shared/` nor starts with it; one owner's for a start
/// `Shared/{owner}/`; else all.
pub fn shared_scope(pattern: &str) -> store_core::SharedScope {
    use store_core::SharedScope;
    let literal = &pattern[..pattern.find(['*', '%']).unwrap_or(pattern.len())];
    let shared = format!("{SHARED_ROOT}{DELIMITER}");
    match literal.strip_prefix(shared.as_str()) {
        Some(rest) => match rest.split_once(DELIMITER) {
            Some((owner, _)) => SharedScope::Owners(vec![owner.to_string()]),
            None => SharedScope::All,
        },
        None if shared.starts_with(literal) => SharedScope::All,
        None => SharedScope::None,
    }
}

/// The prefixes of the subscription names ([`subscription_name`]) whose
/// mailbox a LIST pattern can match: those of [`own_prefixes`], and for
/// the shared namespace (`Shared/{owner}/{name}` is subscribed as
/// `{owner}/{name}`) the pattern's start without `Shared/`, or every name
/// when the start is itself within `Shared/`.
pub fn subscription_prefixes(pattern: &str) -> Vec<String> {
    let mut out = own_prefixes(pattern);
    let literal = &pattern[..pattern.find(['*', '%']).unwrap_or(pattern.len())];
    let shared = format!("{SHARED_ROOT}{DELIMITER}");
    if let Some(rest) = literal.strip_prefix(shared.as_str()) {
        out.push(rest.to_string());
    } else if shared.starts_with(literal) {
        out.push(String::new());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_names() {
        assert_eq!(
            folder_ref("Shared/bob/INBOX"),
            Some(FolderRef::of("bob", "INBOX"))
        );
        assert_eq!(folder_ref("Shared/bob"), None);
        assert_eq!(folder_ref("Shared"), None);
        assert_eq!(folder_ref("a/b"), Some(FolderRef::own("a/b")));
    }

    #[test]
    fn wildcards() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "a"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("INBOX/%", "INBOX/x"));
        assert!(!matches("in%", "INBOX"));
        assert!(matches("S*t", "Sent"));
        assert!(!matches(&"*a".repeat(200), &"a".repeat(199)));
        assert!(matches("*", "Entwürfe"));
        assert!(!matches("INBOX", "Entwü"));
    }

    #[test]
    fn prefixes() {
        assert_eq!(own_prefixes("c0000%"), vec!["c0000"]);
        assert_eq!(own_prefixes("*"), vec!["", "INBOX"]);
        assert_eq!(own_prefixes("inbox/%"), vec!["INBOX/"]);
        assert_eq!(own_prefixes("in*"), vec!["in", "INBOX"]);
        assert_eq!(own_prefixes("Inbox"), vec!["INBOX", "INBOX"]);
        assert_eq!(own_prefixes("Entwü%"), vec!["Entwü"]);
        // `matches` keeps these as written: they name `Inboxes`,
        // `inbox-old`, not INBOX.
        assert_eq!(own_prefixes("Inbox%"), vec!["Inbox", "INBOX"]);
        assert_eq!(own_prefixes("inbox*"), vec!["inbox", "INBOX"]);
        assert!(matches("Inbox%", "Inboxes") && matches("inbox*", "inbox-old"));
        assert_eq!(
            subscription_prefixes("Shared/bob/%"),
            vec!["Shared/bob/", "bob/"]
        );
        assert!(subscription_prefixes("Sh*").contains(&String::new()));
    }

    #[test]
    fn below_and_shared_scope() {
        use store_core::SharedScope;
        assert!(!could_match_below("c%", "c1"));
        assert!(!could_match_below("INBOX", "INBOX"));
        assert!(!could_match_below("inbox", "INBOX"));
        assert!(!could_match_below("a/%", "a/b"));
        assert!(!could_match_below("b/*", "a"));
        assert!(could_match_below("a/%", "a"));
        assert!(could_match_below("inbox/%", "INBOX"));
        assert!(could_match_below("*", "x"));
        assert!(could_match_below("%/%", "x"));
        assert!(could_match_below("c*", "c1"));
        assert!(could_match_below("*b", "a/b"));
        assert_eq!(shared_scope("INBOX"), SharedScope::None);
        assert_eq!(shared_scope("c%"), SharedScope::None);
        assert_eq!(shared_scope("Shared"), SharedScope::All);
        assert_eq!(shared_scope("Sh%"), SharedScope::All);
        assert_eq!(shared_scope("*"), SharedScope::All);
        assert_eq!(shared_scope("Shared/%"), SharedScope::All);
        assert_eq!(shared_scope("Shared/bo%"), SharedScope::All);
        assert_eq!(
            shared_scope("Shared/bob/%"),
            SharedScope::Owners(vec!["bob".into()])
        );
    }
}
