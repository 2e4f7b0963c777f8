//! Access rights of RFC 4314 (IMAP ACL), section 2.1: `lrswipkxtea`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One RFC 4314 right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Right {
    /// `l`: see the folder in lists (lookup).
    Lookup,
    /// `r`: select the folder, fetch and search its objects (read).
    Read,
    /// `s`: keep \Seen across sessions.
    Seen,
    /// `w`: set flags and keywords other than \Seen and \Deleted.
    Write,
    /// `i`: store (append, copy into) objects (insert).
    Insert,
    /// `p`: send mail to the submission address of the folder (post).
    Post,
    /// `k`: create child folders.
    CreateFolder,
    /// `x`: delete or rename the folder.
    DeleteFolder,
    /// `t`: set or clear \Deleted.
    DeleteObject,
    /// `e`: expunge objects.
    Expunge,
    /// `a`: administer (read and change the ACL).
    Administer,
}

impl Right {
    /// Every right, in RFC 4314's order.
    pub const ALL: [Right; 11] = [
        Right::Lookup,
        Right::Read,
        Right::Seen,
        Right::Write,
        Right::Insert,
        Right::Post,
        Right::CreateFolder,
        Right::DeleteFolder,
        Right::DeleteObject,
        Right::Expunge,
        Right::Administer,
    ];

    /// The right's letter in RFC 4314 syntax.
    pub fn letter(self) -> char {
        match self {
            Right::Lookup => 'l',
            Right::Read => 'r',
            Right::Seen => 's',
            Right::Write => 'w',
            Right::Insert => 'i',
            Right::Post => 'p',
            Right::CreateFolder => 'k',
            Right::DeleteFolder => 'x',
            Right::DeleteObject => 't',
            Right::Expunge => 'e',
            Right::Administer => 'a',
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of rights, as granted to one identifier on one folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rights(u16);

impl Rights {
    /// No right at all.
    pub const NONE: Rights = Rights(0);

    /// Every right: what the owner of a folder has.
    pub fn all() -> Rights {
        Right::ALL.iter().fold(Rights::NONE, |r, x| r.with(*x))
    }

    /// This set plus `right`.
    pub fn with(self, right: Right) -> Rights {
        Rights(self.0 | right.bit())
    }

    /// Whether `right` is in this set.
    pub fn contains(self, right: Right) -> bool {
        self.0 & right.bit() != 0
    }

    /// The union of two sets.
    pub fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// This set without the rights of `other`.
    pub fn without(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses RFC 4314 rights letters. The obsolete RFC 2086 letters are
    /// mapped as RFC 4314 section 2.1.1 says: `c` to `k`, `d` to `xte`.
    ///
    /// Errors: any other letter, returned as the offending character.
    pub fn parse(letters: &str) -> Result<Rights, char> {
        let mut rights = Rights::NONE;
        for c in letters.chars() {
            rights = match c {
                'c' => rights.with(Right::CreateFolder),
                'd' => rights
                    .with(Right::DeleteFolder)
                    .with(Right::DeleteObject)
                    .with(Right::Expunge),
                _ => match Right::ALL.iter().find(|r| r.letter() == c) {
                    Some(r) => rights.with(*r),
                    None => return Err(c),
                },
            };
        }
        Ok(rights)
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in Right::ALL {
            if self.contains(r) {
                write!(f, "{}", r.letter())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip_in_rfc_order() {
        let r = Rights::parse("arl").unwrap();
        assert_eq!(r.to_string(), "lra");
        assert_eq!(Rights::all().to_string(), "lrswipkxtea");
        assert_eq!(Rights::parse("d").unwrap().to_string(), "xte");
        assert_eq!(Rights::parse("lz"), Err('z'));
    }
}
