//! `/folders/{folderId}` (TS 6.11): GET a folder's properties and,
//! asked with `listFilter`, a page of its subfolders and objects; DELETE
//! a folder with everything below it.

use hyper::{Response, StatusCode};
use store_core::StoreError;

use http_front::Body;

use crate::error::{NmsError, NmsResult};
use crate::json;
use crate::locate::FoundFolder;
use crate::representation::{self, CountedAttributes, FolderCounts, Place, COUNTED_ATTRIBUTES};
use crate::route::FolderIdent;
use crate::service::Ctx;
use crate::types::{FolderReferenceList, FolderRoot, ListFilter, ObjectReferenceList};

/// Where a folder listing resumes (TS 5.1.10 `cursor`, opaque to
/// clients): after a subfolder (by name, the listing's order) or after
/// an object (by UID, so an object added meanwhile is not skipped and
/// none is listed twice).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ListCursor {
    /// After the subfolder with this name (the last level).
    AfterFolder(String),
    /// After the object with this UID (the subfolders are done).
    AfterObject(u32),
}

impl ListCursor {
    fn encode(&self) -> String {
        match self {
            ListCursor::AfterFolder(name) => format!("f{}", hex::encode(name)),
            ListCursor::AfterObject(uid) => format!("o{uid}"),
        }
    }

    fn decode(cursor: &str) -> Option<ListCursor> {
        match cursor.split_at_checked(1)? {
            ("f", name) => String::from_utf8(hex::decode(name).ok()?)
                .ok()
                .map(ListCursor::AfterFolder),
            ("o", uid) => uid.parse().ok().map(ListCursor::AfterObject),
            _ => None,
        }
    }
}

/// GET (TS 6.11.3): `{"folder": Folder}`; query parameters `listFilter`
/// (Subfolders, Objects, All), `maxEntries`, `fromCursor`, `path=Yes`,
/// and `attrFilter` (repeatable: the counted attributes of Appendix K).
///
/// Errors: SVC0004 (404) for a folder the principal may not see; SVC0003
/// for an unknown `listFilter` or `attrFilter` value; SVC0002 for a bad
/// `maxEntries` or `fromCursor`.
pub async fn get(ctx: &Ctx<'_>, ident: FolderIdent) -> NmsResult<Response<Body>> {
    let found = ctx.folder_by_id(ident).await?;
    let list = match ctx.query_param("listFilter").as_deref() {
        None => None,
        Some("Subfolders") => Some(ListFilter::Subfolders),
        Some("Objects") => Some(ListFilter::Objects),
        Some("All") => Some(ListFilter::All),
        Some(_) => {
            return Err(NmsError::invalid_value(
                "listFilter",
                &["Subfolders", "Objects", "All"],
            ))
        }
    };
    let with_path = ctx
        .query_param("path")
        .is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let counts = counted_attributes(ctx, &found).await?;
    let parent = match found.place.name() {
        None => None,
        Some(name) => Some(ctx.parent_of(name).await?),
    };
    let created = ctx.created(found.stored.as_ref()).await;
    let mut folder = representation::folder(
        &ctx.urls,
        &found.place,
        parent,
        found.stored.as_ref(),
        created,
        counts,
        with_path,
    );
    if found.stored.is_none() {
        folder.last_mod_seq = ctx.root_modseq().await;
    }
    if let Some(filter) = list {
        let page = list_page(ctx, &found, filter).await?;
        folder.sub_folders = page.sub_folders;
        folder.objects = page.objects;
        folder.cursor = page.cursor.map(|c| c.encode());
    }
    Ok(json::response(StatusCode::OK, &FolderRoot { folder }))
}

/// The counted attributes `attrFilter` asks for.
///
/// Errors: SVC0003 for a name that is not one of [`COUNTED_ATTRIBUTES`].
async fn counted_attributes(ctx: &Ctx<'_>, found: &FoundFolder) -> NmsResult<CountedAttributes> {
    let mut asked = Vec::new();
    for pair in ctx.query.as_deref().unwrap_or_default().split('&') {
        if let Some(value) = pair.trim().strip_prefix("attrFilter=") {
            let value = value.trim();
            if !COUNTED_ATTRIBUTES
                .iter()
                .any(|a| a.eq_ignore_ascii_case(value))
            {
                return Err(NmsError::invalid_value("attrFilter", &COUNTED_ATTRIBUTES));
            }
            asked.push(value.to_ascii_lowercase());
        }
    }
    let own_asked = asked.iter().any(|a| !a.starts_with("subtree"));
    let subtree_asked = asked.iter().any(|a| a.starts_with("subtree"));
    let own = found
        .stored
        .as_ref()
        .map(FolderCounts::of)
        .unwrap_or_default();
    let subtree = match subtree_asked {
        false => None,
        true => {
            let folders = ctx.subtree(found.place.name()).await?;
            Some(folders.iter().fold(FolderCounts::default(), |sum, f| {
                sum + FolderCounts::of(&f.folder)
            }))
        }
    };
    Ok(CountedAttributes {
        own: own_asked.then_some(own),
        subtree,
    })
}

/// One page of a folder's listing.
struct ListPage {
    sub_folders: Option<FolderReferenceList>,
    objects: Option<ObjectReferenceList>,
    cursor: Option<ListCursor>,
}

/// The page of subfolders, then objects, that `listFilter`, `maxEntries`
/// and `fromCursor` ask for (TS 6.11.3, 5.1.10).
async fn list_page(ctx: &Ctx<'_>, found: &FoundFolder, filter: ListFilter) -> NmsResult<ListPage> {
    let limit = max_entries(ctx)?;
    let cursor = match ctx.query_param("fromCursor") {
        None => None,
        Some(c) => {
            Some(ListCursor::decode(&c).ok_or_else(|| NmsError::invalid_input("fromCursor"))?)
        }
    };
    let (want_folders, want_objects) = match filter {
        ListFilter::Subfolders => (true, false),
        ListFilter::Objects => (false, true),
        ListFilter::All => (true, true),
    };
    let mut page = ListPage {
        sub_folders: want_folders.then(FolderReferenceList::default),
        objects: want_objects.then(ObjectReferenceList::default),
        cursor: None,
    };
    let mut room = limit;
    let after_uid = match &cursor {
        Some(ListCursor::AfterObject(uid)) => *uid,
        _ => 0,
    };
    if want_folders && !matches!(cursor, Some(ListCursor::AfterObject(_))) {
        let children = ctx
            .store
            .list_children(&ctx.principal, ctx.owner.as_deref(), found.place.name())
            .await
            .map_err(|e| ctx.store_error(e))?;
        let after = match &cursor {
            Some(ListCursor::AfterFolder(name)) => Some(name.as_str()),
            _ => None,
        };
        let mut remaining = children
            .iter()
            .filter(|c| after.is_none_or(|a| representation::leaf_name(&c.folder.name) > a));
        let list = page.sub_folders.get_or_insert_with(Default::default);
        for child in remaining.by_ref().take(room) {
            list.folder_reference.push(representation::folder_reference(
                &ctx.urls,
                &Place::of(&child.folder),
            ));
        }
        room -= list.folder_reference.len();
        if room == 0 {
            let more_folders = remaining.next().is_some();
            if more_folders || (want_objects && found.stored.is_some()) {
                page.cursor = list
                    .folder_reference
                    .last()
                    .and_then(|r| r.path.as_deref())
                    .map(|p| ListCursor::AfterFolder(representation::leaf_name(p).to_string()))
                    .or(cursor.clone());
            }
            return Ok(page);
        }
    }
    if want_objects {
        if let Some(name) = found.place.name() {
            let listed = ctx
                .store
                .objects_after(&ctx.principal, &ctx.folder_ref(name), after_uid, room)
                .await
                .map_err(|e| ctx.store_error(e))?;
            let list = page.objects.get_or_insert_with(Default::default);
            for o in &listed.objects {
                list.object_reference.push(representation::object_reference(
                    &ctx.urls,
                    &found.place,
                    o.number,
                ));
            }
            if listed.more {
                page.cursor = listed
                    .objects
                    .last()
                    .map(|o| ListCursor::AfterObject(o.object.uid));
            }
        }
    }
    Ok(page)
}

/// `maxEntries` of the query (TS 5.1.10), capped at `[nms] max_entries`;
/// `[nms] default_entries` when absent.
///
/// Errors: SVC0002 for a value that is no positive number.
pub fn max_entries(ctx: &Ctx<'_>) -> NmsResult<usize> {
    match ctx.query_param("maxEntries") {
        None => Ok(ctx.config.default_entries),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| n.min(ctx.config.max_entries))
            .ok_or_else(|| NmsError::invalid_input("maxEntries")),
    }
}

/// DELETE (TS 6.11.6): removes the folder, every folder below it and
/// their objects (deepest first); 204.
///
/// Errors: SVC0004 (404) for a folder the principal may not see; POL0001
/// (403) for the root, INBOX, or without the right to delete (`x`).
pub async fn delete(ctx: &Ctx<'_>, ident: FolderIdent) -> NmsResult<Response<Body>> {
    let found = ctx.folder_by_id(ident).await?;
    let Some(name) = found.place.name() else {
        return Err(NmsError::policy_error("the root folder cannot be deleted"));
    };
    let subtree = ctx.subtree(Some(name)).await?;
    for info in subtree.iter().rev() {
        match ctx
            .store
            .remove_folder(&ctx.principal, &ctx.folder_ref(&info.folder.name))
            .await
        {
            Ok(()) | Err(StoreError::NoSuchFolder) => {}
            Err(e) => return Err(ctx.store_error(e)),
        }
    }
    Ok(http_front::status(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        for c in [
            ListCursor::AfterFolder("Media 2026".into()),
            ListCursor::AfterObject(17),
        ] {
            assert_eq!(ListCursor::decode(&c.encode()), Some(c));
        }
        for bad in ["", "x1", "o", "oabc", "fzz"] {
            assert_eq!(ListCursor::decode(bad), None, "{bad}");
        }
    }
}
