//! What a path names in the store, for the principal asking.
//!
//! `/dav/` lists the accounts the principal sees folders of; `/dav/{a}/`
//! is an account's root (a collection that is no folder); deeper paths are
//! folders (collections) or objects (files). An account root or a folder
//! the principal may not look up is "missing", never "forbidden", so its
//! existence does not leak (RFC 4314 section 4).

use store_core::mime::BodyPart;
use store_core::model::{Folder, Object, ObjectKind};
use store_core::rights::Rights;
use store_core::{FolderRef, Principal, Store, StoreError};

use crate::error::DavResult;
use crate::path::DavPath;

/// A folder as a collection.
#[derive(Debug, Clone)]
pub struct Collection {
    /// How the store names it for the principal.
    pub folder: FolderRef,
    /// Its record.
    pub record: Folder,
    /// The principal's rights on it.
    pub rights: Rights,
}

/// The bytes a GET of an object returns.
#[derive(Debug, Clone)]
pub struct Content {
    /// Offset in the stored blob.
    pub start: u64,
    /// Length in bytes.
    pub length: u64,
    /// The media type sent as Content-Type.
    pub media_type: String,
}

/// An object as a file.
#[derive(Debug, Clone)]
pub struct File {
    /// Its folder.
    pub folder: FolderRef,
    /// The principal's rights on the folder.
    pub rights: Rights,
    /// Its record (boxed: a [`Resource`] is moved around, and a file's
    /// record is its largest part).
    pub object: Box<Object>,
    /// What GET returns.
    pub content: Content,
    /// Its dead-property metadata entries (name, value), when they were
    /// read with the folder's listing ([`Store::list_files`]); `None`:
    /// read them when needed.
    pub properties: Option<DeadEntries>,
}

/// Metadata entries (name, value) of a resource's dead properties.
pub type DeadEntries = Box<[(String, Vec<u8>)]>;

/// A resource that exists.
#[derive(Debug, Clone)]
pub enum Resource {
    /// `/dav/`.
    Root,
    /// `/dav/{owner}/`.
    Account(String),
    /// A folder.
    Collection(Collection),
    /// An object.
    File(File),
}

impl Resource {
    /// Whether it is a collection.
    pub fn is_collection(&self) -> bool {
        !matches!(self, Resource::File(_))
    }

    /// Its strong entity tag (RFC 9110 8.8.3): a file's changes with its
    /// UID and content, a folder's with its HIGHESTMODSEQ.
    pub fn etag(&self) -> Option<String> {
        match self {
            Resource::File(f) => Some(file_etag(f.object.uid, &f.object.blob)),
            Resource::Collection(c) => Some(format!(
                "\"c{}-{}\"",
                c.record.uid_validity, c.record.highest_modseq
            )),
            _ => None,
        }
    }
}

/// The strong entity tag of the object `uid` with content `blob`: an
/// object's content never changes, and a replaced one gets a new UID.
pub fn file_etag(uid: store_core::model::Uid, blob: &store_core::blob::BlobId) -> String {
    format!("\"{uid}-{}\"", &blob.to_hex()[..20])
}

/// What a path names.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// An existing resource.
    Found(Resource),
    /// Nothing; `parent` is what the parent path names, if it exists.
    Missing {
        /// The parent resource.
        parent: Option<Resource>,
    },
}

/// The store's name of the folder at `levels` of `owner`'s tree, as the
/// principal addresses it.
pub fn folder_ref(principal: &Principal, owner: &str, levels: &[String]) -> FolderRef {
    let name = levels.join("/");
    if owner == principal.login() {
        FolderRef::own(name)
    } else {
        FolderRef::of(owner, name)
    }
}

/// What GET returns for an object whose MIME summary has the top-level
/// part `body`: the file of a media object stored whole in a single part
/// (its body, unencoded), else the message itself.
pub fn content_of(object: &Object, body: &BodyPart) -> Content {
    let plain_encoding = body.encoding.as_deref().is_none_or(|e| {
        ["binary", "8bit", "7bit"]
            .iter()
            .any(|k| e.eq_ignore_ascii_case(k))
    });
    if object.kind == ObjectKind::MediaObject
        && body.children.is_empty()
        && body.message.is_none()
        && plain_encoding
        && body.end <= object.size
    {
        Content {
            start: body.body_start,
            length: body.size(),
            media_type: media_type_with_params(body),
        }
    } else {
        Content {
            start: 0,
            length: object.size,
            media_type: "message/rfc822".into(),
        }
    }
}

/// `type/subtype` of a part with its parameters (`; name=value`, quoted
/// when not a token, RFC 9110 5.6.6), as the client sent them: a
/// parameter whose value is not visible ASCII (an RFC 2231 decoded one)
/// is left out, since an HTTP header cannot carry it as is.
fn media_type_with_params(part: &store_core::mime::BodyPart) -> String {
    let mut out = format!("{}/{}", part.media_type, part.media_subtype);
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    for (name, value) in &part.params {
        if !token(name) || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            continue;
        }
        if token(value) {
            out.push_str(&format!("; {name}={value}"));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
            out.push_str(&format!("; {name}=\"{quoted}\""));
        }
    }
    out
}

/// Resolves `path` for `principal`.
///
/// Errors: store failures other than "not there".
pub async fn lookup(store: &Store, principal: &Principal, path: &DavPath) -> DavResult<Lookup> {
    let Some(owner) = path.account() else {
        return Ok(Lookup::Found(Resource::Root));
    };
    if path.levels().is_empty() {
        return Ok(if account_visible(store, principal, owner).await? {
            Lookup::Found(Resource::Account(owner.to_string()))
        } else {
            Lookup::Missing {
                parent: Some(Resource::Root),
            }
        });
    }
    if let Some(c) = collection(store, principal, owner, path.levels()).await? {
        return Ok(Lookup::Found(Resource::Collection(c)));
    }
    let parent_levels = &path.levels()[..path.levels().len() - 1];
    let parent = if parent_levels.is_empty() {
        if account_visible(store, principal, owner).await? {
            Resource::Account(owner.to_string())
        } else {
            return Ok(Lookup::Missing { parent: None });
        }
    } else {
        match collection(store, principal, owner, parent_levels).await? {
            Some(c) => Resource::Collection(c),
            None => return Ok(Lookup::Missing { parent: None }),
        }
    };
    let Resource::Collection(parent_collection) = &parent else {
        return Ok(Lookup::Missing {
            parent: Some(parent),
        });
    };
    let name = path.name().unwrap_or_default();
    match file(store, principal, parent_collection, name).await? {
        Some(f) => Ok(Lookup::Found(Resource::File(f))),
        None => Ok(Lookup::Missing {
            parent: Some(parent),
        }),
    }
}

/// Whether `/dav/{owner}/` exists for the principal: its own, or an
/// account with a folder it may look up.
async fn account_visible(store: &Store, principal: &Principal, owner: &str) -> DavResult<bool> {
    if owner == principal.login() {
        return Ok(true);
    }
    Ok(store
        .shared_owners(principal)
        .await?
        .iter()
        .any(|o| o == owner))
}

async fn collection(
    store: &Store,
    principal: &Principal,
    owner: &str,
    levels: &[String],
) -> DavResult<Option<Collection>> {
    let folder = folder_ref(principal, owner, levels);
    match store.folder_status(principal, &folder).await {
        Ok((record, rights)) => Ok(Some(Collection {
            folder,
            record,
            rights,
        })),
        Err(StoreError::NoSuchFolder | StoreError::NoSuchAccount | StoreError::InvalidName(_)) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The object named `name` in a collection, as a file. Without `r` on the
/// folder no object is visible.
pub async fn file(
    store: &Store,
    principal: &Principal,
    parent: &Collection,
    name: &str,
) -> DavResult<Option<File>> {
    let object = match store.find_object(principal, &parent.folder, name).await {
        Ok(Some(o)) => o,
        Ok(None) | Err(StoreError::PermissionDenied(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    file_of(store, principal, parent, object).await
}

/// An object of a collection as a file (with its content's placement).
pub async fn file_of(
    store: &Store,
    principal: &Principal,
    parent: &Collection,
    object: Object,
) -> DavResult<Option<File>> {
    match store
        .fetch_object(principal, &parent.folder, object.uid)
        .await
    {
        Ok((object, summary)) => Ok(Some(File {
            folder: parent.folder.clone(),
            rights: parent.rights,
            content: content_of(&object, &summary.body),
            object: Box::new(object),
            properties: None,
        })),
        Err(StoreError::NoSuchObject) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The members of a collection resource (PROPFIND Depth 1), with their
/// paths: child folders, then (with `r`) objects.
pub async fn members(
    store: &Store,
    principal: &Principal,
    path: &DavPath,
    resource: &Resource,
) -> DavResult<Vec<(DavPath, Resource)>> {
    let mut out = Vec::new();
    match resource {
        Resource::File(_) => {}
        Resource::Root => {
            let mut owners = vec![principal.login().to_string()];
            for o in store.shared_owners(principal).await? {
                if !owners.contains(&o) {
                    owners.push(o);
                }
            }
            for o in owners {
                out.push((path.child(&o), Resource::Account(o)));
            }
        }
        Resource::Account(_) | Resource::Collection(_) => {
            let owner = path.account().unwrap_or_default().to_string();
            let prefix = match resource {
                Resource::Collection(c) => Some(c.record.name.clone()),
                _ => None,
            };
            let theirs = (owner != principal.login()).then_some(owner.as_str());
            for info in store
                .list_children(principal, theirs, prefix.as_deref())
                .await?
            {
                let info_owner = info
                    .owner
                    .clone()
                    .unwrap_or_else(|| principal.login().to_string());
                if info_owner != owner {
                    continue;
                }
                let leaf = match &prefix {
                    Some(p) => info
                        .folder
                        .name
                        .strip_prefix(p.as_str())
                        .and_then(|r| r.strip_prefix('/')),
                    None => Some(info.folder.name.as_str()),
                };
                let Some(leaf) = leaf.filter(|l| !l.is_empty() && !l.contains('/')) else {
                    continue;
                };
                let levels: Vec<String> = info.folder.name.split('/').map(String::from).collect();
                out.push((
                    path.child(leaf),
                    Resource::Collection(Collection {
                        folder: folder_ref(principal, &owner, &levels),
                        rights: info.rights,
                        record: info.folder,
                    }),
                ));
            }
            if let Resource::Collection(c) = resource {
                if c.rights.contains(store_core::rights::Right::Read) {
                    // One pass over the folder: objects, where their
                    // content lies and their dead properties.
                    let files = store
                        .list_files(principal, &c.folder, crate::properties::DEAD_PREFIX)
                        .await?;
                    for (object, body, properties) in files {
                        let name = object.resource_name();
                        out.push((
                            path.child(&name),
                            Resource::File(File {
                                folder: c.folder.clone(),
                                rights: c.rights,
                                content: content_of(&object, &body),
                                object: Box::new(object),
                                properties: Some(properties.into_boxed_slice()),
                            }),
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}
