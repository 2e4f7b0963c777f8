//! Finding what a request names in the box: a folder by id, path or
//! resource URL, an object by id. Everything the principal may not see
//! is missing (404), as IMAP and WebDAV hide it.

use store_core::model::Folder;
use store_core::model::Uid;
use store_core::{FolderInfo, FolderRef, StoreError};

use crate::error::{NmsError, NmsResult};
use crate::representation::{name_of_path, parent_name, Place};
use crate::route::{FolderIdent, Resource};
use crate::service::Ctx;

/// A folder of the box, as found.
#[derive(Debug, Clone)]
pub struct FoundFolder {
    /// Where it is.
    pub place: Place,
    /// Its stored state (`None` for the root, which is not stored).
    pub stored: Option<Folder>,
}

impl FoundFolder {
    /// The root folder.
    pub fn root() -> FoundFolder {
        FoundFolder {
            place: Place::root(),
            stored: None,
        }
    }
}

/// A located object: its folder, UID and object number.
#[derive(Debug, Clone)]
pub struct FoundObject {
    /// Its folder, as store-core names it.
    pub folder: FolderRef,
    /// Its UID there.
    pub uid: Uid,
    /// Its object number (the objectId).
    pub number: u64,
}

impl Ctx<'_> {
    /// Every folder of the box the principal may see, by name (the root
    /// not included).
    ///
    /// Errors: a store failure.
    pub async fn box_folders(&self) -> NmsResult<Vec<FolderInfo>> {
        let listed = self
            .store
            .list_folders(&self.principal)
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(listed
            .into_iter()
            .filter(|f| f.owner == self.owner)
            .collect())
    }

    /// Folder `name` of the box and every folder below it, by name; the
    /// root's subtree is every folder of the box.
    ///
    /// Errors: a store failure.
    pub async fn subtree(&self, name: Option<&str>) -> NmsResult<Vec<FolderInfo>> {
        match name {
            None => self.box_folders().await,
            Some(name) => self
                .store
                .list_subtree(&self.principal, &self.folder_ref(name))
                .await
                .map_err(|e| self.store_error(e)),
        }
    }

    /// When `folder` was created (Appendix K `Date`), if it can be read.
    pub async fn created(&self, folder: Option<&Folder>) -> Option<store_core::model::UnixTime> {
        let folder = folder?;
        self.store
            .folder_dates(folder)
            .await
            .ok()
            .map(|d| d.created)
    }

    /// The root folder's `lastModSeq` (TS 5.3.2.8): the account's MODSEQ,
    /// which every change in the box raises; `None` for another
    /// account's box (its MODSEQ tells of folders the principal may not
    /// see).
    pub async fn root_modseq(&self) -> Option<u64> {
        match self.owner {
            Some(_) => None,
            None => self.store.account_modseq(&self.principal).await.ok(),
        }
    }

    /// The store-core name of the box's folder `name`.
    pub fn folder_ref(&self, name: &str) -> FolderRef {
        match &self.owner {
            None => FolderRef::own(name),
            Some(owner) => FolderRef::of(owner.clone(), name),
        }
    }

    /// The folder `ident` names.
    ///
    /// Errors: SVC0004 (404) when there is none the principal may see.
    pub async fn folder_by_id(&self, ident: FolderIdent) -> NmsResult<FoundFolder> {
        let FolderIdent::Id(id) = ident else {
            return Ok(FoundFolder::root());
        };
        let found = self
            .store
            .list_by_ids(&self.principal, vec![id])
            .await
            .map_err(|e| self.store_error(e))?;
        found
            .into_iter()
            .find(|info| info.owner == self.owner && info.folder.id == id)
            .map(|info| FoundFolder {
                place: Place::of(&info.folder),
                stored: Some(info.folder),
            })
            .ok_or_else(|| self.not_found())
    }

    /// The folder named by mailbox name (`None`: the root).
    ///
    /// Errors: `StoreError::NoSuchFolder` when there is none the principal
    /// may see (callers answer as their resource does).
    pub async fn folder_by_name(&self, name: Option<&str>) -> Result<FoundFolder, StoreError> {
        let Some(name) = name else {
            return Ok(FoundFolder::root());
        };
        let (folder, _) = self
            .store
            .folder_status(&self.principal, &self.folder_ref(name))
            .await?;
        Ok(FoundFolder {
            place: Place::of(&folder),
            stored: Some(folder),
        })
    }

    /// The folder at NMS path `path`.
    ///
    /// Errors: SVC0002 for a malformed path, SVC2008 (404, "Unknown path")
    /// for a path of no folder the principal may see.
    pub async fn folder_by_path(&self, path: &str) -> NmsResult<FoundFolder> {
        let name = name_of_path(path).map_err(|_| NmsError::invalid_input("path"))?;
        match self.folder_by_name(name.as_deref()).await {
            Ok(found) => Ok(found),
            Err(StoreError::NoSuchFolder | StoreError::PermissionDenied(_)) => {
                Err(NmsError::unknown("path", path))
            }
            Err(e) => Err(self.store_error(e)),
        }
    }

    /// The folder a resource URL names (`parentFolder`, `targetRef`).
    ///
    /// Errors: SVC0002 naming `part` for a URL of no folder of this box;
    /// SVC2008 for a folder that is not there.
    pub async fn folder_by_url(&self, url: &str, part: &str) -> NmsResult<FoundFolder> {
        match self.urls.resource_of(url) {
            Some(Resource::Folder(ident)) => self
                .folder_by_id(ident)
                .await
                .map_err(|_| NmsError::unknown("folder", url)),
            _ => Err(NmsError::invalid_input(part)),
        }
    }

    /// The id of the parent of folder `name` (the root for a top-level
    /// one).
    ///
    /// Errors: as [`Ctx::folder_by_name`] (a parent the principal may not
    /// see: the child is reported under the root).
    pub async fn parent_of(&self, name: &str) -> NmsResult<FolderIdent> {
        match parent_name(name) {
            None => Ok(FolderIdent::Root),
            Some(parent) => match self.folder_by_name(Some(parent)).await {
                Ok(found) => Ok(found.place.ident),
                Err(StoreError::NoSuchFolder | StoreError::PermissionDenied(_)) => {
                    Ok(FolderIdent::Root)
                }
                Err(e) => Err(self.store_error(e)),
            },
        }
    }

    /// Where object `number` is now.
    ///
    /// Errors: SVC0004 (404) when there is no such object the principal
    /// may read.
    pub async fn object(&self, number: u64) -> NmsResult<FoundObject> {
        let (folder, uid) = self
            .store
            .locate_object(&self.principal, self.owner.as_deref(), number)
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(FoundObject {
            folder,
            uid,
            number,
        })
    }

    /// The place (id and path) of a folder store-core named.
    ///
    /// Errors: as [`Ctx::folder_by_name`], mapped to this request's 404.
    pub async fn place_of(&self, folder: &FolderRef) -> NmsResult<Place> {
        match self.folder_by_name(Some(&folder.name)).await {
            Ok(found) => Ok(found.place),
            Err(e) => Err(self.store_error(e)),
        }
    }
}
