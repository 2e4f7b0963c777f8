//! macOS metadata files: the AppleDouble companions `._{name}` (RFC 1740
//! appendix B) that macOS writes next to every file it copies to a volume
//! without resource forks, such as a WebDAV mount, and the Finder's
//! `.DS_Store`. File managers need them stored (Finder reads them back),
//! but they are no messages: phones listing the folder over IMAP must not
//! show them. This module holds the one rule of what such a file is, for
//! every protocol; [`MacosMetadata`] says what the store does with them.

/// What happens to macOS metadata files (`[webdav] macos_metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MacosMetadata {
    /// Stored, readable over WebDAV, left out of every IMAP view of the
    /// folder (SELECT/EXAMINE, FETCH, SEARCH, STATUS, NOTIFY): the
    /// default.
    #[default]
    Hide,
    /// Refused when written (WebDAV PUT, COPY or MOVE to such a name: 403);
    /// those stored earlier stay hidden as with [`MacosMetadata::Hide`].
    Refuse,
    /// Stored and shown like any other file, IMAP included.
    Store,
}

impl MacosMetadata {
    /// Whether objects named as macOS metadata are left out of IMAP views.
    pub fn hides(self) -> bool {
        self != MacosMetadata::Store
    }
}

/// The name prefix of AppleDouble files (RFC 1740 appendix B: macOS
/// stores `name`'s resource fork and Finder info in `._name`).
pub const APPLE_DOUBLE_PREFIX: &str = "._";

/// The Finder's folder view settings file.
pub const DS_STORE: &str = ".DS_Store";

/// Whether a file named `name` (the last path segment) is macOS metadata:
/// `._*` (AppleDouble, `._.` included for a folder's own) or `.DS_Store`.
/// Case-sensitive, as macOS writes them.
pub fn is_macos_metadata(name: &str) -> bool {
    name.starts_with(APPLE_DOUBLE_PREFIX) || name == DS_STORE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_apple_double_and_ds_store() {
        for name in ["._photo.jpg", "._.", ".DS_Store"] {
            assert!(is_macos_metadata(name), "{name}");
        }
        for name in [
            "photo.jpg",
            "_photo.jpg",
            ".photo",
            "x._y",
            ".ds_store",
            "DS_Store",
        ] {
            assert!(!is_macos_metadata(name), "{name}");
        }
        assert!(MacosMetadata::default().hides());
        assert!(MacosMetadata::Refuse.hides());
        assert!(!MacosMetadata::Store.hides());
    }
}
