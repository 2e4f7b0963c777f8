//! The folder a CPM conversation's objects are kept in, one rule for every
//! protocol (SIP deposits today; NMS and others later): a Conversation-ID
//! (and a Contribution-ID for a session history, OMA CPM
//! Message Storage) names one level of the folder hierarchy, never a path.
//!
//! The mapping ([`folder_name`]):
//! - An ordinary id (letters, digits and most punctuation) is the folder
//!   name unchanged, as before this rule, so existing deposits keep their
//!   folders.
//! - `/` (the hierarchy delimiter), `%` and `*` (IMAP LIST wildcards), `~`
//!   (the escape itself), `\`, `"` and control characters are written
//!   `~XX`, their byte in two upper-case hex digits: `Shared/bob/x` becomes
//!   `Shared~2Fbob~2Fx`, a folder of its own at the top level, never inside
//!   another one nor in the reserved `Shared/` namespace. A level that is
//!   `.` or `..` has its dots escaped.
//! - A conversation folder named like a reserved or special-use folder
//!   (`INBOX`, `Shared`, `Trash`, `Sent`, `Drafts`, `Junk`, `Archive`,
//!   `All`, `Flagged`, `Important`, case-insensitively) gets a `~` in front
//!   (`~INBOX`, `~Trash`): its deposits never land in the mailbox a client
//!   treats specially.
//! - An id longer than [`MAX_ID_BYTES`] once escaped is cut at a character
//!   boundary and ends with `~h` and 16 lower-case hex digits of its
//!   SHA-256, so two long ids sharing a prefix keep two folders.
//!
//! The mapping is one-to-one (up to a collision of 64 bits of SHA-256
//! between two long ids): a `~` in a result starts an escape (`~` and two
//! upper-case hex digits), the hash suffix (`~h`, which no escape
//! produces: `h` is not an upper-case hex digit), or is the reserved-name
//! mark in front (followed by a reserved name, none of which starts with
//! `h` or a hex digit). The stored objects keep the original id in their
//! `Conversation-ID` header. (Long ids mapped with a bare `~` suffix before
//! this rule was fixed go to a new folder; the old one stays as it is.)

use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};
use crate::model::Principal;
use crate::names::{self, DELIMITER};

/// The top folder of the RCS layout ([`FolderLayout::Rcs`]): every
/// conversation folder lies below it, and only trusted network elements
/// write it.
pub const RCS_ROOT: &str = "Default";

/// Where deposited conversations are filed (`[sip] folder_layout`), and
/// which folders that reserves to trusted network elements.
///
/// - [`FolderLayout::Cpm`] (the default): a conversation's folder is its
///   Conversation-ID at the top level, a session's inside it
///   ([`folder_name`]); nothing is reserved.
/// - [`FolderLayout::Rcs`]: the GSMA RCS Common Message Store layout
///   (RCC.07 Common Message Store, "Default" folder): a one-to-one
///   conversation's objects are in `Default/<the other party's address>`
///   ([`rcs_one_to_one_folder`]) and a group conversation's in
///   `Default/<Conversation-ID>/<Contribution-ID>` ([`rcs_group_folder`]).
///   `Default` and everything below it are written only by trusted
///   network elements (a principal made by [`crate::Store::trusted_element`]
///   or [`crate::Store::act_for`]): clients read, flag and expunge there,
///   but do not store objects nor create, rename or remove folders. The
///   rule is checked in store-core where objects are stored (APPEND, PUT,
///   NMS creation, COPY or MOVE into the tree) and folders are created,
///   renamed or removed, for every protocol
///   ([`FolderLayout::check_write`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FolderLayout {
    /// Conversation folders at the top level ([`folder_name`]).
    #[default]
    Cpm,
    /// The RCS layout under [`RCS_ROOT`], reserved to network elements.
    Rcs,
}

impl FolderLayout {
    /// Whether the folder `name` (canonical) is reserved to trusted
    /// network elements under this layout: `Default` and below it in the
    /// RCS layout, nothing in the CPM one.
    pub fn reserves(self, name: &str) -> bool {
        self == FolderLayout::Rcs && names::is_within(name, RCS_ROOT)
    }

    /// The rule of this layout for one write that stores into, creates,
    /// renames or removes the folder `name`: a principal that is no
    /// trusted network element ([`Principal::is_network_element`]) may not
    /// write a reserved folder.
    ///
    /// Errors: [`StoreError::ReservedFolder`] naming the folder.
    pub fn check_write(self, principal: &Principal, name: &str) -> Result<()> {
        if self.reserves(name) && !principal.is_network_element() {
            return Err(StoreError::ReservedFolder(name.to_string()));
        }
        Ok(())
    }
}

/// The RCS layout's folder of a one-to-one conversation:
/// `Default/<peer>`, the other party's address (`tel:+15551234567`,
/// `sip:bob@example.com`) as one folder level by this module's rule
/// (escapes, bounded length).
///
/// Errors: [`StoreError::InvalidName`] for an empty address.
pub fn rcs_one_to_one_folder(peer: &str) -> Result<String> {
    names::canonical(&format!("{RCS_ROOT}{DELIMITER}{}", level(peer)?))
}

/// The RCS layout's folder of a group conversation:
/// `Default/<Conversation-ID>/<Contribution-ID>` (RCS identifies a group
/// chat by its Contribution-ID), or `Default/<Conversation-ID>` without a
/// Contribution-ID; each id one folder level by this module's rule.
///
/// Errors: [`StoreError::InvalidName`] for an empty id.
pub fn rcs_group_folder(conversation: &str, contribution: Option<&str>) -> Result<String> {
    let mut name = format!("{RCS_ROOT}{DELIMITER}{}", level(conversation)?);
    if let Some(contribution) = contribution {
        name.push(DELIMITER);
        name.push_str(&level(contribution)?);
    }
    names::canonical(&name)
}

/// Longest folder level made from one id, in bytes (escapes included).
pub const MAX_ID_BYTES: usize = 200;

/// First-level names a conversation folder may not take (compared
/// case-insensitively): INBOX (RFC 3501 5.1), the reserved `Shared`
/// namespace of other users' folders, and the RFC 6154 special-use names.
const RESERVED: &[&str] = &[
    "INBOX",
    "Shared",
    "Trash",
    "Sent",
    "Drafts",
    "Junk",
    "Archive",
    "All",
    "Flagged",
    "Important",
];

/// What starts the hash suffix of a long id: no escape (`~` and two
/// upper-case hex digits) and no reserved-name mark begins so.
const HASH_MARK: &str = "~h";

/// Whether `c` is written as `~XX`.
fn escaped(c: char) -> bool {
    matches!(c, '/' | '%' | '*' | '~' | '\\' | '"') || c.is_control() || c == DELIMITER
}

/// One id as one folder level: specials escaped, `.` and `..` escaped,
/// bounded to [`MAX_ID_BYTES`].
///
/// Errors: [`StoreError::InvalidName`] for an empty id.
fn level(id: &str) -> Result<String> {
    if id.is_empty() {
        return Err(StoreError::InvalidName("empty conversation id".into()));
    }
    let mut out = String::with_capacity(id.len());
    if id == "." || id == ".." {
        for _ in 0..id.len() {
            out.push_str("~2E");
        }
        return Ok(out);
    }
    for c in id.chars() {
        if escaped(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("~{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    if out.len() > MAX_ID_BYTES {
        let digest = hex::encode(&Sha256::digest(id.as_bytes())[..8]);
        let mut cut = MAX_ID_BYTES - HASH_MARK.len() - digest.len();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        // Never leave half an escape at the end.
        if let Some(t) = out[..cut].rfind('~').filter(|t| cut - t < 3) {
            cut = t;
        }
        out.truncate(cut);
        out.push_str(HASH_MARK);
        out.push_str(&digest);
    }
    Ok(out)
}

/// The folder of a conversation (`conversation` = its Conversation-ID),
/// or of one session in it (`contribution` = the session's
/// Contribution-ID: a folder inside the conversation's), by the rule of
/// this module; checked by [`names::canonical`].
///
/// Errors: [`StoreError::InvalidName`] for an empty id, or a name the
/// store's name check refuses.
pub fn folder_name(conversation: &str, contribution: Option<&str>) -> Result<String> {
    let mut name = level(conversation)?;
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&name)) {
        name.insert(0, '~');
    }
    if let Some(contribution) = contribution {
        name.push(DELIMITER);
        name.push_str(&level(contribution)?);
    }
    names::canonical(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_ids_keep_their_names() {
        for id in [
            "conv-1",
            "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "a.b@c+d=e:f",
        ] {
            assert_eq!(folder_name(id, None).unwrap(), id);
        }
        assert_eq!(folder_name("conv-1", Some("s-9")).unwrap(), "conv-1/s-9");
    }

    #[test]
    fn paths_and_reserved_names_land_in_own_folders() {
        assert_eq!(
            folder_name("Shared/bob/x", None).unwrap(),
            "Shared~2Fbob~2Fx"
        );
        assert_eq!(folder_name("a/b/c/d", None).unwrap(), "a~2Fb~2Fc~2Fd");
        assert_eq!(folder_name("INBOX", None).unwrap(), "~INBOX");
        assert_eq!(folder_name("inbox", None).unwrap(), "~inbox");
        assert_eq!(folder_name("Trash", None).unwrap(), "~Trash");
        assert_eq!(folder_name("Shared", None).unwrap(), "~Shared");
        assert_eq!(folder_name("100%*", None).unwrap(), "100~25~2A");
        assert_eq!(folder_name("~INBOX", None).unwrap(), "~7EINBOX");
        assert_eq!(folder_name("..", None).unwrap(), "~2E~2E");
        assert_eq!(folder_name("a\r\nb", None).unwrap(), "a~0D~0Ab");
        assert_eq!(folder_name("c", Some("INBOX/x")).unwrap(), "c/INBOX~2Fx");
        assert!(folder_name("", None).is_err());
    }

    #[test]
    fn the_rcs_layout_files_under_default_and_reserves_it() {
        assert_eq!(
            rcs_one_to_one_folder("tel:+15551234567").unwrap(),
            "Default/tel:+15551234567"
        );
        assert_eq!(
            rcs_one_to_one_folder("sip:bob/x@example.com").unwrap(),
            "Default/sip:bob~2Fx@example.com"
        );
        assert_eq!(
            rcs_group_folder("conv-1", Some("grp-7")).unwrap(),
            "Default/conv-1/grp-7"
        );
        assert_eq!(rcs_group_folder("a/b", None).unwrap(), "Default/a~2Fb");
        assert!(rcs_one_to_one_folder("").is_err());
        let rcs = FolderLayout::Rcs;
        for reserved in ["Default", "Default/x", "Default/x/y"] {
            assert!(rcs.reserves(reserved), "{reserved}");
            assert!(!FolderLayout::Cpm.reserves(reserved), "{reserved}");
        }
        for free in ["Defaults", "default", "INBOX", "x/Default"] {
            assert!(!rcs.reserves(free), "{free}");
        }
        let user = Principal::new(1, "alice".into());
        assert!(matches!(
            rcs.check_write(&user, "Default/x"),
            Err(StoreError::ReservedFolder(name)) if name == "Default/x"
        ));
        assert!(rcs.check_write(&user, "INBOX").is_ok());
        assert!(FolderLayout::Cpm.check_write(&user, "Default/x").is_ok());
        let element = Principal {
            network_element: true,
            ..user
        };
        assert!(rcs.check_write(&element, "Default/x").is_ok());
    }

    #[test]
    fn long_ids_are_bounded_and_kept_apart() {
        let a = format!("{}a", "x/".repeat(300));
        let b = format!("{}b", "x/".repeat(300));
        let (fa, fb) = (
            folder_name(&a, None).unwrap(),
            folder_name(&b, None).unwrap(),
        );
        assert!(fa.len() <= MAX_ID_BYTES, "{}", fa.len());
        assert_ne!(fa, fb);
        // Before the `~h` mark, the first one's hash suffix was the
        // second one's escaped `"` and tail: one folder for two ids.
        let a = format!("{}413", "x".repeat(250));
        let b = format!("{}\"35f7fa9f9315c1", "x".repeat(183));
        let (fa, fb) = (
            folder_name(&a, None).unwrap(),
            folder_name(&b, None).unwrap(),
        );
        assert_eq!(fb, format!("{}~2235f7fa9f9315c1", "x".repeat(183)));
        assert!(fa.contains("~h"), "{fa}");
        assert_ne!(fa, fb);
        let emoji = "😀".repeat(100);
        assert!(folder_name(&emoji, None).unwrap().len() <= MAX_ID_BYTES);
    }
}
