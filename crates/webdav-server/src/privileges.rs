//! WebDAV access control properties (RFC 3744) derived from the RFC 4314
//! rights store-core keeps for each folder: `DAV:current-user-privilege-set`
//! (RFC 3744 5.4), `DAV:supported-privilege-set` (5.3) and `DAV:acl` (5.5).
//! Nothing here grants anything: store-core checks the rights of every
//! operation; these properties only tell a client in advance what will
//! succeed.
//!
//! | RFC 3744 privilege (section)          | held with the RFC 4314 rights |
//! |----------------------------------------|-------------------------------|
//! | `read` (3.1)                           | `r` (GET, PROPFIND of members; `l` alone only lists the folder) |
//! | `read-current-user-privilege-set` (3.7)| always (whoever sees the resource) |
//! | `write-properties` (3.3)               | `w` (dead properties, `displayname`: shared metadata needs `w`) |
//! | `write-content` (3.2)                  | `i`, `t` and `e` (a PUT over a file replaces the object) |
//! | `bind` (3.9)                           | `i` (PUT of a new member; MKCOL needs `k` on the folder too) |
//! | `unbind` (3.10)                        | `t` and `e` (DELETE, the source of a MOVE) |
//! | `read-acl` (3.5), `write-acl` (3.6)    | `a` |
//! | `write` (3.2, aggregate)               | all four of write-properties, write-content, bind, unbind |
//! | `all` (3.12, aggregate)                | every right: the owner |
//!
//! A file has the privileges its folder gives. `/dav/` and an account root
//! give `read`, and the owner all of them on its own root.

use store_core::model::Folder;
use store_core::rights::{Right, Rights};

use crate::path::DavPath;
use crate::resource::Resource;
use crate::xml::text;

/// The privileges this server names, each with the RFC 4314 rights that
/// grant it, in the order they are listed.
const PRIVILEGES: [(&str, &[Right]); 8] = [
    ("read", &[Right::Read]),
    ("read-current-user-privilege-set", &[]),
    ("write-properties", &[Right::Write]),
    (
        "write-content",
        &[Right::Insert, Right::DeleteObject, Right::Expunge],
    ),
    ("bind", &[Right::Insert]),
    ("unbind", &[Right::DeleteObject, Right::Expunge]),
    ("read-acl", &[Right::Administer]),
    ("write-acl", &[Right::Administer]),
];

/// The RFC 4314 rights the principal has on a resource: those on its
/// folder for a collection or a file; on the account roots, every right
/// for the owner on its own and `l r` otherwise.
pub fn rights_of(resource: &Resource, login: &str) -> Rights {
    match resource {
        Resource::Collection(c) => c.rights,
        Resource::File(f) => f.rights,
        Resource::Account(owner) if owner == login => Rights::all(),
        Resource::Root | Resource::Account(_) => Rights::NONE.with(Right::Lookup).with(Right::Read),
    }
}

/// The names of the RFC 3744 privileges `rights` hold, aggregates
/// (`write`, `all`) included.
pub fn privileges(rights: Rights) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = PRIVILEGES
        .iter()
        .filter(|(_, needs)| needs.iter().all(|r| rights.contains(*r)))
        .map(|(name, _)| *name)
        .collect();
    let write = ["write-properties", "write-content", "bind", "unbind"];
    if write.iter().all(|w| out.contains(w)) {
        out.push("write");
    }
    if rights == Rights::all() {
        out.push("all");
    }
    out
}

fn privilege_elements(names: &[&str]) -> String {
    names
        .iter()
        .map(|p| format!("<D:privilege><D:{p}/></D:privilege>"))
        .collect()
}

/// The content of `DAV:current-user-privilege-set` (RFC 3744 5.4).
pub fn current_user_privilege_set(rights: Rights) -> String {
    privilege_elements(&privileges(rights))
}

/// The content of `DAV:supported-privilege-set` (RFC 3744 5.3): the
/// privileges of [`PRIVILEGES`] under the aggregates `all` and `write`.
pub fn supported_privilege_set() -> String {
    let leaf = |name: &str, description: &str| {
        format!(
            "<D:supported-privilege><D:privilege><D:{name}/></D:privilege><D:description xml:lang=\"en\">{description}</D:description></D:supported-privilege>"
        )
    };
    format!(
        "<D:supported-privilege><D:privilege><D:all/></D:privilege><D:description xml:lang=\"en\">Any operation</D:description>\
<D:supported-privilege><D:privilege><D:read/></D:privilege><D:description xml:lang=\"en\">Read content and properties (IMAP right r)</D:description>{}</D:supported-privilege>\
<D:supported-privilege><D:privilege><D:write/></D:privilege><D:description xml:lang=\"en\">Write content, properties and members</D:description>{}{}{}{}</D:supported-privilege>\
{}{}</D:supported-privilege>",
        leaf(
            "read-current-user-privilege-set",
            "Read one's own privileges"
        ),
        leaf("write-properties", "Set and remove properties (IMAP right w)"),
        leaf("write-content", "Replace a file (IMAP rights i t e)"),
        leaf("bind", "Add a member (IMAP right i)"),
        leaf("unbind", "Remove a member (IMAP rights t e)"),
        leaf("read-acl", "Read the ACL (IMAP right a)"),
        leaf("write-acl", "Change the ACL, over IMAP SETACL (IMAP right a)"),
    )
}

/// The principal of an RFC 4314 identifier: `anyone` is `DAV:all`, a
/// login its account root (the server has no principal collection).
fn principal_element(identifier: &str) -> String {
    if identifier == "anyone" {
        "<D:all/>".to_string()
    } else {
        format!(
            "<D:href>{}</D:href>",
            text(
                &DavPath {
                    segments: vec![identifier.to_string()]
                }
                .href(true)
            )
        )
    }
}

/// The content of `DAV:acl` (RFC 3744 5.5) of a folder (`record`, owned
/// by `owner`) or of a file in it (`inherited_from`: the folder's href): a
/// protected ACE granting the owner everything, then one ACE per RFC 4314
/// identifier of the folder's ACL giving more than
/// `read-current-user-privilege-set`.
pub fn acl(record: &Folder, owner: &str, inherited_from: Option<&str>) -> String {
    let inherited = inherited_from
        .map(|href| format!("<D:inherited><D:href>{}</D:href></D:inherited>", text(href)))
        .unwrap_or_default();
    let mut out = format!(
        "<D:ace><D:principal>{}</D:principal><D:grant>{}</D:grant><D:protected/>{inherited}</D:ace>",
        principal_element(owner),
        privilege_elements(&["all"])
    );
    for (identifier, rights) in &record.acl {
        let granted = privileges(*rights);
        if granted.len() <= 1 {
            continue;
        }
        out.push_str(&format!(
            "<D:ace><D:principal>{}</D:principal><D:grant>{}</D:grant>{inherited}</D:ace>",
            principal_element(identifier),
            privilege_elements(&granted)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rights(letters: &str) -> Rights {
        Rights::parse(letters).unwrap_or(Rights::NONE)
    }

    #[test]
    fn read_only_grantee_reads() {
        let p = privileges(rights("lr"));
        assert_eq!(p, vec!["read", "read-current-user-privilege-set"]);
    }

    #[test]
    fn read_write_grantee_writes_but_does_not_administer() {
        let p = privileges(rights("lrswite"));
        for w in [
            "write",
            "write-content",
            "bind",
            "unbind",
            "write-properties",
        ] {
            assert!(p.contains(&w), "{w} in {p:?}");
        }
        assert!(!p.contains(&"write-acl") && !p.contains(&"all"));
    }

    #[test]
    fn owner_has_all() {
        let p = privileges(Rights::all());
        assert!(p.contains(&"all") && p.contains(&"read-acl"));
    }
}
