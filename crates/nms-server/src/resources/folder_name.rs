//! `/folders/{folderId}/folderName` (TS 6.12, a light-weight resource of
//! Appendix F): GET a folder's name, PUT a new one (a rename in place:
//! the folder keeps its id, its objects and its subfolders).

use hyper::{Request, Response, StatusCode};

use http_front::{Body, RequestBody};

use crate::error::{NmsError, NmsResult};
use crate::json;
use crate::representation::{leaf_name, parent_name};
use crate::route::FolderIdent;
use crate::service::Ctx;
use crate::types::NameRoot;

/// GET (TS 6.12.3): `{"name": "…"}`; the root's name is empty.
///
/// Errors: SVC0004 (404) for a folder the principal may not see.
pub async fn get(ctx: &Ctx<'_>, ident: FolderIdent) -> NmsResult<Response<Body>> {
    let found = ctx.folder_by_id(ident).await?;
    let name = found
        .place
        .name()
        .map(leaf_name)
        .unwrap_or_default()
        .to_string();
    Ok(json::response(StatusCode::OK, &NameRoot { name }))
}

/// Checks a new folder name (one level: no `/`, not empty, not `.` or
/// `..`); store-core checks the rest as for IMAP names.
///
/// Errors: SVC0002 naming `name`.
pub fn check_leaf(name: &str) -> NmsResult<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(NmsError::invalid_input("name"));
    }
    Ok(())
}

/// PUT (TS 6.12.4): renames the folder; answers the new name (200).
///
/// Errors: POL1030 (403) for the root; SVC0002 for a bad name; SVC0004
/// (404) for a folder the principal may not see; POL0001 (403) for a
/// name in use or without the rights to rename.
pub async fn put(
    ctx: &Ctx<'_>,
    ident: FolderIdent,
    request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    let found = ctx.folder_by_id(ident).await?;
    let Some(from) = found.place.name().map(str::to_string) else {
        return Err(NmsError::rename_refused());
    };
    let sent: NameRoot = json::read(ctx, request, "name").await?;
    check_leaf(&sent.name)?;
    let to = match parent_name(&from) {
        Some(parent) => format!("{parent}/{}", sent.name),
        None => sent.name.clone(),
    };
    if to != from {
        ctx.store
            .rename_folder(&ctx.principal, &ctx.folder_ref(&from), &ctx.folder_ref(&to))
            .await
            .map_err(|e| ctx.store_error(e))?;
    }
    Ok(json::response(
        StatusCode::OK,
        &NameRoot { name: sent.name },
    ))
}
