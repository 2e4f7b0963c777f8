//! `/folders` (TS 6.10): create a folder under a parent given by
//! resource URL (`parentFolder`) or path (`parentFolderPath`). Unlike
//! objects, a folder's parent must exist (D.31).

use hyper::{Request, Response};

use http_front::{Body, RequestBody};

use crate::error::{NmsError, NmsResult};
use crate::json;
use crate::representation::{self, Place};
use crate::resources::folder_name::check_leaf;
use crate::service::Ctx;
use crate::types::{FolderRoot, ReferenceRoot};

/// POST (TS 6.10.5): creates the folder; 201 with `Location` and
/// `{"reference": {resourceURL, path}}` (D.29).
///
/// Errors: SVC0002 without a parent (D.33), for a parent path that names
/// no folder (D.31), or a bad name; POL0001 (403) for a name in use or
/// without the right to create (`k`).
pub async fn create(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    let sent: FolderRoot = json::read(ctx, request, "folder").await?;
    let folder = sent.folder;
    let name = folder.name.clone().unwrap_or_default();
    check_leaf(&name)?;
    let parent = match (&folder.parent_folder, &folder.parent_folder_path) {
        (Some(url), _) => ctx.folder_by_url(url, "parentFolder").await?,
        (None, Some(path)) => ctx
            .folder_by_path(path)
            .await
            .map_err(|_| NmsError::invalid_input(path.clone()))?,
        (None, None) => return Err(NmsError::invalid_input("Parent folder (missing)")),
    };
    let full = match parent.place.name() {
        Some(p) => format!("{p}/{name}"),
        None => name,
    };
    let created = ctx
        .store
        .create_folder(&ctx.principal, &ctx.folder_ref(&full), None)
        .await
        .map_err(|e| ctx.store_error(e))?;
    let place = Place::of(&created);
    let reference = representation::folder_reference(&ctx.urls, &place);
    Ok(json::created(
        &reference.resource_url.clone(),
        &ReferenceRoot { reference },
    ))
}
