//! Whole collection trees: the recursive DELETE and COPY of RFC 4918 9.6
//! and 9.8.3, composed of store-core's folder and object operations
//! (store-core removes only childless folders, as Dovecot does).

use store_core::{FolderRef, MetadataTarget, Principal, Store};

use crate::error::DavResult;
use crate::properties::DEAD_PREFIX;
use crate::resource::{folder_ref, Collection};

/// The names of the folders at or below `root` in its owner's tree, as
/// the principal sees them, deepest first.
async fn subtree(
    store: &Store,
    principal: &Principal,
    root: &Collection,
) -> DavResult<Vec<String>> {
    let folder = FolderRef {
        owner: root.folder.owner.clone(),
        name: root.record.name.clone(),
    };
    let mut names: Vec<String> = store
        .list_subtree(principal, &folder)
        .await?
        .into_iter()
        .map(|f| f.folder.name)
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.matches('/').count()));
    Ok(names)
}

fn named(collection: &Collection, name: String) -> FolderRef {
    FolderRef {
        owner: collection.folder.owner.clone(),
        name,
    }
}

/// Removes a collection with every folder and object below it.
pub async fn delete(store: &Store, principal: &Principal, root: &Collection) -> DavResult<()> {
    for name in subtree(store, principal, root).await? {
        store.remove_folder(principal, &named(root, name)).await?;
    }
    Ok(())
}

/// Copies a collection and its dead properties to the new folder of
/// `owner` at `levels`; with `deep` (Depth infinity) its members too, its
/// objects and child folders, recursively. Without it (Depth 0) no member
/// is copied (RFC 4918 9.8.3).
pub async fn copy(
    store: &Store,
    principal: &Principal,
    from: &Collection,
    owner: &str,
    levels: &[String],
    deep: bool,
) -> DavResult<()> {
    let mut names = subtree(store, principal, from).await?;
    names.reverse();
    let base = from.record.name.clone();
    for name in names {
        if name != base && !deep {
            continue;
        }
        let mut target = levels.to_vec();
        if let Some(rest) = name
            .strip_prefix(base.as_str())
            .and_then(|r| r.strip_prefix('/'))
        {
            target.extend(rest.split('/').map(String::from));
        }
        let source = named(from, name);
        let dest = folder_ref(principal, owner, &target);
        store.create_folder(principal, &dest, None).await?;
        let properties = store
            .get_metadata(
                principal,
                &MetadataTarget::Folder(source.clone()),
                &[DEAD_PREFIX.to_string()],
                None,
            )
            .await?;
        if !properties.is_empty() {
            let entries = properties.into_iter().map(|(k, v)| (k, Some(v))).collect();
            store
                .set_metadata(principal, &MetadataTarget::Folder(dest.clone()), entries)
                .await?;
        }
        if !deep {
            continue;
        }
        let uids: Vec<u32> = store
            .list_objects(principal, &source)
            .await?
            .iter()
            .map(|o| o.uid)
            .collect();
        if !uids.is_empty() {
            store.copy_objects(principal, &source, &uids, &dest).await?;
        }
    }
    Ok(())
}
