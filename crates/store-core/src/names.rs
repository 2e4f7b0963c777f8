//! Folder names: hierarchical with `/` (ARCHITECTURE.md), `INBOX`
//! case-insensitive (RFC 3501 5.1). Names are kept as UTF-8; the IMAP front
//! end converts them from and to modified UTF-7.

use crate::error::{Result, StoreError};

/// The hierarchy delimiter.
pub const DELIMITER: char = '/';
/// Longest folder name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Deepest hierarchy.
pub const MAX_DEPTH: usize = 32;

/// Validates `name` and returns it in canonical form: one trailing `/`
/// removed (RFC 3501 6.3.3 allows `CREATE foo/`), a first level equal to
/// `INBOX` in any case spelled `INBOX`.
///
/// `*` and `%` are ordinary characters of a name (rclone's `Done 100%`,
/// `What*`): RFC 3501 6.3.8 gives them their wildcard meaning only in a
/// LIST pattern, and IMAP sends such a name as a quoted string or literal.
///
/// Errors: [`StoreError::InvalidName`] for an empty name or level, a name
/// longer than [`MAX_NAME_BYTES`] or deeper than [`MAX_DEPTH`], a control
/// character, or a `.` or `..` level.
pub fn canonical(name: &str) -> Result<String> {
    let trimmed = name.strip_suffix(DELIMITER).unwrap_or(name);
    let bad = |why: &str| Err(StoreError::InvalidName(why.to_string()));
    if trimmed.is_empty() {
        return bad("empty name");
    }
    if trimmed.len() > MAX_NAME_BYTES {
        return bad("name too long");
    }
    if trimmed.chars().any(char::is_control) {
        return bad("name contains a control character");
    }
    let levels: Vec<&str> = trimmed.split(DELIMITER).collect();
    if levels.len() > MAX_DEPTH {
        return bad("hierarchy too deep");
    }
    if levels.iter().any(|l| l.is_empty()) {
        return bad("empty hierarchy level");
    }
    if levels.iter().any(|l| *l == "." || *l == "..") {
        return bad("'.' and '..' are not folder names");
    }
    let mut out = String::with_capacity(trimmed.len());
    for (i, level) in levels.iter().enumerate() {
        if i > 0 {
            out.push(DELIMITER);
        }
        if i == 0 && level.eq_ignore_ascii_case("INBOX") {
            out.push_str("INBOX");
        } else {
            out.push_str(level);
        }
    }
    Ok(out)
}

/// The first level reserved for other accounts' folders: front ends show
/// the folders shared with a principal under `Shared/{owner}/...` (IMAP's
/// "other users" namespace, RFC 2342), so no account may have a folder of
/// its own there.
pub const SHARED_ROOT: &str = "Shared";

/// Validates the name of a folder about to be created or renamed into
/// (over any protocol: IMAP CREATE and RENAME, WebDAV MKCOL, COPY and
/// MOVE, a SIP deposit's folder), returning it in canonical form: as
/// [`canonical`], and outside the reserved [`SHARED_ROOT`] namespace (a
/// folder `Shared/x` of one's own would be listed by IMAP where no folder
/// of the account can be selected).
///
/// Errors: [`StoreError::InvalidName`].
pub fn creatable(name: &str) -> Result<String> {
    let name = canonical(name)?;
    if name.split(DELIMITER).next() == Some(SHARED_ROOT) {
        return Err(StoreError::InvalidName(format!(
            "the {SHARED_ROOT}/ namespace is reserved for other accounts' folders"
        )));
    }
    Ok(name)
}

/// Every proper ancestor of `name`, outermost first (`a/b/c` gives `a`, `a/b`).
pub fn ancestors(name: &str) -> Vec<&str> {
    name.match_indices(DELIMITER)
        .map(|(i, _)| &name[..i])
        .collect()
}

/// Whether `name` is `parent` or lies below it.
pub fn is_within(name: &str, parent: &str) -> bool {
    name == parent || (name.starts_with(parent) && name[parent.len()..].starts_with(DELIMITER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_is_case_insensitive_and_other_names_keep_case() {
        assert_eq!(canonical("inbox").unwrap(), "INBOX");
        assert_eq!(canonical("InBox/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(canonical("Inboxes").unwrap(), "Inboxes");
        assert_eq!(canonical("Work/").unwrap(), "Work");
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", "/", "a//b", "/a", "a\u{0}b", "../x", "a/./b"] {
            assert!(canonical(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(canonical(&"a/".repeat(40)).is_err());
    }

    #[test]
    fn wildcards_are_ordinary_and_shared_is_reserved() {
        assert_eq!(canonical("Done 100%").unwrap(), "Done 100%");
        assert_eq!(canonical("What*/x").unwrap(), "What*/x");
        for reserved in ["Shared", "Shared/x", "Shared/bob/x"] {
            assert!(creatable(reserved).is_err(), "{reserved}");
        }
        assert_eq!(creatable("Sharedx/y").unwrap(), "Sharedx/y");
        assert_eq!(creatable("a/Shared").unwrap(), "a/Shared");
    }

    #[test]
    fn hierarchy_helpers() {
        assert_eq!(ancestors("a/b/c"), vec!["a", "a/b"]);
        assert!(is_within("a/b", "a"));
        assert!(!is_within("ab", "a"));
    }
}
