//! COPY and MOVE (RFC 4918 9.8, 9.9): `Destination` on this server,
//! `Overwrite` (T by default; F gives 412 over an existing resource),
//! `Depth` (COPY of a collection: 0, the collection and its properties
//! without members (RFC 4918 9.8.3), or infinity; MOVE: infinity). A file
//! goes through store-core's "object copy/move" under its new name, a
//! collection's MOVE is "folder move", its COPY a tree copy. 201 when the
//! destination is new, 204 when it was replaced.

use crate::service::RequestBody;
use hyper::{Request, Response, StatusCode};
use store_core::Placement;

use crate::conditions::{check_http, Preconditions};
use crate::error::{DavError, DavResult};
use crate::path::{destination, DavPath};
use crate::resource::{folder_ref, lookup, Lookup, Resource};
use crate::service::{header_str, status, Body, Ctx};
use crate::tree;

/// Handles COPY (`is_move` false) and MOVE.
pub async fn handle(
    ctx: &Ctx<'_>,
    request: Request<RequestBody>,
    is_move: bool,
) -> DavResult<Response<Body>> {
    let dest = destination(
        header_str(&request, "destination")
            .ok_or_else(|| DavError::bad_request("Destination is required"))?,
        header_str(&request, "host"),
    )?;
    let overwrite = match header_str(&request, "overwrite").map(str::trim) {
        None | Some("T") | Some("t") => true,
        Some("F") | Some("f") => false,
        Some(_) => return Err(DavError::bad_request("Overwrite must be T or F")),
    };
    let deep = match header_str(&request, "depth").map(str::trim) {
        None => true,
        Some(d) if d.eq_ignore_ascii_case("infinity") => true,
        Some("0") if !is_move => false,
        Some(_) => return Err(DavError::bad_request("bad Depth for COPY or MOVE")),
    };
    let Lookup::Found(source) = lookup(ctx.store, &ctx.principal, &ctx.path).await? else {
        return Err(DavError::not_found());
    };
    if matches!(source, Resource::Root | Resource::Account(_)) {
        return Err(DavError::forbidden(
            "an account root cannot be copied or moved",
        ));
    }
    if !source.is_collection() {
        crate::media::check_macos_metadata(ctx.store, dest.name().unwrap_or_default())?;
    }
    if dest == ctx.path || (source.is_collection() && dest.is_within(&ctx.path)) {
        return Err(DavError::forbidden(
            "the destination is the source or inside it",
        ));
    }
    let modified = match &source {
        Resource::File(f) => Some(f.object.internal_date),
        _ => None,
    };
    check_http(request.headers(), source.etag().as_deref(), modified, false)?;
    let preconditions = Preconditions::from_headers(request.headers())?;
    preconditions
        .check_if(ctx.store, &ctx.principal, &ctx.path)
        .await?;
    if is_move {
        let locks = ctx.store.locks_affecting(&ctx.path.lock_key()).await?;
        preconditions.check_locks(&ctx.principal, &locks)?;
        preconditions
            .check_membership(ctx.store, &ctx.principal, &ctx.path)
            .await?;
    }
    let locks = ctx.store.locks_affecting(&dest.lock_key()).await?;
    preconditions.check_locks(&ctx.principal, &locks)?;
    preconditions
        .check_membership(ctx.store, &ctx.principal, &dest)
        .await?;

    let (existing, dest_parent) = match lookup(ctx.store, &ctx.principal, &dest).await? {
        Lookup::Found(r) => {
            if !overwrite {
                return Err(DavError::precondition_failed());
            }
            (Some(r), None)
        }
        Lookup::Missing { parent: Some(p) } => (None, Some(p)),
        Lookup::Missing { parent: None } => {
            return Err(DavError::conflict(
                "the destination's parent does not exist",
            ))
        }
    };
    let mut replaces = None;
    match &existing {
        Some(Resource::Collection(c)) => tree::delete(ctx.store, &ctx.principal, c).await?,
        Some(Resource::File(f)) if source.is_collection() => {
            ctx.store
                .remove_objects(&ctx.principal, &f.folder, &[f.object.uid])
                .await?;
        }
        Some(Resource::File(f)) => replaces = Some(f.object.uid),
        Some(_) => return Err(DavError::forbidden("an account root cannot be replaced")),
        None => {}
    }
    match &source {
        Resource::File(f) => {
            let parent = match dest_parent {
                Some(Resource::Collection(c)) => c.folder,
                Some(_) => {
                    return Err(DavError::conflict(
                        "files live in folders, not account roots",
                    ))
                }
                None => folder_ref(
                    &ctx.principal,
                    dest.account().unwrap_or_default(),
                    parent_levels(&dest),
                ),
            };
            let placement = Placement {
                folder: parent,
                name: dest.name().unwrap_or_default().to_string(),
                replaces,
                remove_source: is_move,
            };
            ctx.store
                .place_object(&ctx.principal, &f.folder, f.object.uid, &placement)
                .await?;
        }
        Resource::Collection(c) => {
            if matches!(dest_parent, Some(Resource::Root)) {
                return Err(DavError::forbidden("accounts are not made over WebDAV"));
            }
            let owner = dest.account().unwrap_or_default();
            if is_move {
                let to = folder_ref(&ctx.principal, owner, dest.levels());
                ctx.store
                    .rename_folder(&ctx.principal, &c.folder, &to)
                    .await?;
            } else {
                tree::copy(ctx.store, &ctx.principal, c, owner, dest.levels(), deep).await?;
            }
        }
        Resource::Root | Resource::Account(_) => {
            return Err(DavError::forbidden(
                "an account root cannot be copied or moved",
            ))
        }
    }
    Ok(status(if existing.is_some() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    }))
}

fn parent_levels(path: &DavPath) -> &[String] {
    let levels = path.levels();
    &levels[..levels.len().saturating_sub(1)]
}
