//! `/objects` (TS 6.1): create an object from a `multipart/form-data`
//! body (`root-fields` and its `attachments`, [`crate::upload`]).
//! Bulk creation (TS 6.9, `/objects/operations/bulkCreation`) stores
//! several the same way, one at a time ([`store_one`]).

use hyper::{Request, Response};
use store_core::NewObject;

use http_front::{Body, RequestBody};

use crate::error::{NmsError, NmsResult};
use crate::json;
use crate::locate::FoundFolder;
use crate::representation::{self, name_of_path};
use crate::resources::flags::check_names;
use crate::service::Ctx;
use crate::types::{Flag, Object, ObjectRoot, Reference, ReferenceRoot};
use crate::upload::Upload;

/// The folder new objects go to when the request names none (TS
/// 6.1.5.4: the server chooses).
pub const DEFAULT_FOLDER: &str = "INBOX";

/// POST (TS 6.1.5): stores the object; 201 with `Location` and
/// `{"reference": {resourceURL, path}}` (D.1).
///
/// Errors: SVC0002 for a malformed body, attributes or flags, or a
/// `parentFolder` of no folder of this box; POL0001 (403) without the
/// right to insert (`i`) or over quota; 413 past `[nms]
/// max_object_bytes`.
pub async fn create(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    let mut upload = Upload::new(ctx, request)?;
    let fields = upload.root_fields(ctx.config.max_json_bytes).await?;
    let sent: ObjectRoot = json::decode(&fields, "object")?;
    let reference = store_one(ctx, &mut upload, &sent.object).await?;
    Ok(json::created(
        &reference.resource_url.clone(),
        &ReferenceRoot { reference },
    ))
}

/// Stores one object of a creation request: stages its message (which
/// reads its `attachments` part, so that a failed item of a bulk
/// creation leaves the next part to the next item), finds or makes its
/// parent folder, and stores it with its flags.
///
/// The parent is `parentFolder` (a resource URL of this box, which must
/// exist), else `parentFolderPath` (created with any missing levels, TS
/// 6.1.5.2), else [`DEFAULT_FOLDER`].
///
/// Errors: as [`create`].
pub async fn store_one(
    ctx: &Ctx<'_>,
    upload: &mut Upload,
    object: &Object,
) -> NmsResult<Reference> {
    let blob = upload.stage(ctx, object).await?;
    let flags = check_names(object.flags.flag.iter().map(Flag::as_str))?;
    let parent = parent_folder(ctx, object).await?;
    let name = parent
        .place
        .name()
        .ok_or_else(|| NmsError::creation_refused("/"))?
        .to_string();
    let folder = ctx.folder_ref(&name);
    let mut new = NewObject::new(blob);
    new.flags = flags;
    let stored = ctx
        .store
        .store_object(&ctx.principal, &folder, new)
        .await
        .map_err(|e| ctx.store_error(e))?;
    let number = ctx
        .store
        .object_number(&ctx.principal, &folder, stored.uid)
        .await
        .map_err(|e| ctx.store_error(e))?;
    Ok(representation::object_reference(
        &ctx.urls,
        &parent.place,
        number,
    ))
}

/// The folder a new object goes to (see [`store_one`]).
///
/// Errors: SVC0002 for a `parentFolder` of no folder of this box or a
/// malformed `parentFolderPath`; POL1031 (403) for the root (objects
/// live in mailboxes); a store error creating the path.
async fn parent_folder(ctx: &Ctx<'_>, object: &Object) -> NmsResult<FoundFolder> {
    if let Some(url) = &object.parent_folder {
        return ctx
            .folder_by_url(url, "parentFolder")
            .await
            .map_err(|_| NmsError::invalid_input(url.clone()));
    }
    let name = match &object.parent_folder_path {
        None => DEFAULT_FOLDER.to_string(),
        Some(path) => name_of_path(path)
            .map_err(NmsError::invalid_input)?
            .ok_or_else(|| NmsError::creation_refused("/"))?,
    };
    match ctx.folder_by_name(Some(&name)).await {
        Ok(found) => Ok(found),
        Err(store_core::StoreError::NoSuchFolder) => {
            let created = ctx
                .store
                .create_folder(&ctx.principal, &ctx.folder_ref(&name), None)
                .await
                .map_err(|e| ctx.store_error(e))?;
            Ok(FoundFolder {
                place: representation::Place::of(&created),
                stored: Some(created),
            })
        }
        Err(e) => Err(ctx.store_error(e)),
    }
}
