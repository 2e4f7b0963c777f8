//! `/objects/operations/{operation}` (TS 6.7–6.9, and the bulk operations
//! deployed clients send): `search` (POST), `pathToId` (GET `?path=`,
//! POST a path list), `bulkCreation` (POST), `bulkUpdate` (POST) and
//! `bulkDelete` (DELETE with a JSON body).

use std::collections::BTreeMap;

use hyper::{Method, Request, Response, StatusCode};
use store_core::mime::MessageSummary;
use store_core::model::{Flags, Object, Uid};
use store_core::search::SearchKey;
use store_core::{FlagUpdate, FolderRef, StoreError};

use http_front::{Body, RequestBody};

use crate::criteria::{self, Position, Search, SortValue};
use crate::error::{bulk_success, NmsError, NmsResult};
use crate::json;
use crate::locate::FoundObject;
use crate::representation::{self, name_of_path};
use crate::resources::flags::check_names;
use crate::resources::object::represent;
use crate::resources::objects::store_one;
use crate::route::Resource;
use crate::service::Ctx;
use crate::types::{
    BulkDeleteRoot, BulkResponse, BulkResponseList, BulkResponseListRoot, BulkUpdateRoot, Flag,
    FlagOperation, ObjectList, ObjectListRoot, ObjectReferenceList, ObjectReferenceListRoot,
    PathListRoot, Reference, ReferenceRoot, SelectionCriteria, SelectionCriteriaRoot, SortType,
};
use crate::upload::Upload;

/// Dispatches an object operation by name and method.
///
/// Errors: SVC0004 (404) for an unknown operation; 405 with `Allow` for
/// a method it does not take; those of each operation.
pub async fn handle(
    ctx: &Ctx<'_>,
    operation: &str,
    method: Method,
    request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    let allow = match operation {
        "search" | "bulkCreation" | "bulkUpdate" => "POST",
        "pathToId" => "GET, POST",
        "bulkDelete" => "DELETE",
        _ => return Err(ctx.not_found()),
    };
    match (operation, method) {
        ("search", Method::POST) => search(ctx, request).await,
        ("pathToId", Method::GET) => path_to_id(ctx).await,
        ("pathToId", Method::POST) => paths_to_ids(ctx, request).await,
        ("bulkCreation", Method::POST) => bulk_creation(ctx, request).await,
        ("bulkUpdate", Method::POST) => bulk_update(ctx, request).await,
        ("bulkDelete", Method::DELETE) => bulk_delete(ctx, request).await,
        _ => Ok(http_front::method_not_allowed(allow)),
    }
}

/// The number of entries a list answers: `maxEntries` capped at `[nms]
/// max_entries`, `[nms] default_entries` when absent or zero.
fn entries(ctx: &Ctx<'_>, asked: Option<u32>) -> usize {
    match asked {
        Some(n) if n > 0 => (n as usize).min(ctx.config.max_entries),
        _ => ctx.config.default_entries,
    }
}

/// POST `search` (TS 6.7.5): `{"objectList": …}` of the objects the
/// criteria select, sorted, one page (`maxEntries`, `fromCursor`,
/// `cursor`); for `CreatedObjects` with a `creationCursor`; for
/// `VanishedObjects`, `{"objectReferenceList": …}`.
///
/// Errors: SVC0002 / SVC0003 for bad criteria ([`criteria::search`]) or
/// cursor; SVC0004 for a `searchScope` of no folder.
pub async fn search(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    let sent: SelectionCriteriaRoot = json::read(ctx, request, "selectionCriteria").await?;
    let selection = sent.selection_criteria;
    let limit = entries(ctx, selection.max_entries);
    match criteria::search(selection.search_criteria.as_ref())? {
        Search::Vanished => vanished(ctx, limit).await,
        Search::Created(after) => created(ctx, &selection, after, limit).await,
        Search::Matching(key) => {
            let (hits, next) = select(ctx, &selection, key, limit).await?;
            let mut object = Vec::with_capacity(hits.len());
            for hit in &hits {
                match represent(ctx, hit).await {
                    Ok(o) => object.push(o),
                    // Removed since it was selected: left out.
                    Err(e) if e.status == StatusCode::NOT_FOUND => {}
                    Err(e) => return Err(e),
                }
            }
            let object_list = ObjectList {
                object,
                cursor: next.map(|p| p.cursor()),
                creation_cursor: None,
            };
            Ok(json::response(
                StatusCode::OK,
                &ObjectListRoot { object_list },
            ))
        }
    }
}

/// `VanishedObjects`: references to the box's objects removed for good
/// within the change window, oldest removal first (the list type has no
/// cursor: at most one page).
async fn vanished(ctx: &Ctx<'_>, limit: usize) -> NmsResult<Response<Body>> {
    if ctx.owner.is_some() {
        // Only an account's own removals are kept for it.
        return Ok(json::response(
            StatusCode::OK,
            &ObjectReferenceListRoot::default(),
        ));
    }
    let gone = ctx
        .store
        .vanished_objects(&ctx.principal, 0, limit)
        .await
        .map_err(|e| ctx.store_error(e))?;
    let object_reference = gone
        .iter()
        .map(|v| Reference {
            resource_url: ctx.urls.object(v.number),
            path: None,
        })
        .collect();
    Ok(json::response(
        StatusCode::OK,
        &ObjectReferenceListRoot {
            object_reference_list: ObjectReferenceList { object_reference },
        },
    ))
}

/// `CreatedObjects` (TS 5.1.5.2): the box's objects created after the
/// creation cursor `after` (an object number: numbers only grow), with the
/// `creationCursor` for the next such search and a `cursor` while more
/// may follow.
async fn created(
    ctx: &Ctx<'_>,
    selection: &SelectionCriteria,
    after: u64,
    limit: usize,
) -> NmsResult<Response<Body>> {
    let after = match &selection.from_cursor {
        Some(c) => c
            .trim()
            .parse()
            .map_err(|_| NmsError::invalid_input("fromCursor"))?,
        None => after,
    };
    let (found, resume, more) = match &ctx.owner {
        Some(_) => (Vec::new(), after, false),
        None => ctx
            .store
            .objects_created_after(&ctx.principal, after, limit)
            .await
            .map_err(|e| ctx.store_error(e))?,
    };
    let mut object = Vec::with_capacity(found.len());
    for (folder, uid, number) in found {
        let Some(name) = ctx
            .store
            .folder_name_by_id(&ctx.principal, folder)
            .await
            .map_err(|e| ctx.store_error(e))?
        else {
            continue;
        };
        let hit = FoundObject {
            folder: ctx.folder_ref(&name),
            uid,
            number,
        };
        match represent(ctx, &hit).await {
            Ok(o) => object.push(o),
            Err(e) if e.status == StatusCode::NOT_FOUND => {}
            Err(e) => return Err(e),
        }
    }
    let object_list = ObjectList {
        object,
        cursor: more.then(|| resume.to_string()),
        creation_cursor: Some(resume.to_string()),
    };
    Ok(json::response(
        StatusCode::OK,
        &ObjectListRoot { object_list },
    ))
}

/// The folders a selection searches (`searchScope`, recursive unless
/// `nonRecursiveScope`; the whole box when absent), by name.
///
/// Errors: SVC0002 / SVC2008 for a scope of no folder.
async fn scope(ctx: &Ctx<'_>, selection: &SelectionCriteria) -> NmsResult<Vec<FolderRef>> {
    let start = match &selection.search_scope {
        None => None,
        Some(r) if !r.resource_url.is_empty() => {
            Some(ctx.folder_by_url(&r.resource_url, "searchScope").await?)
        }
        Some(r) => match &r.path {
            Some(path) => Some(ctx.folder_by_path(path).await?),
            None => return Err(NmsError::invalid_input("searchScope")),
        },
    };
    let recursive = selection.non_recursive_scope != Some(true);
    let names: Vec<String> = match (start.as_ref().and_then(|f| f.place.name()), recursive) {
        (Some(name), false) => vec![name.to_string()],
        // The root holds no objects itself.
        (None, false) if start.is_some() => Vec::new(),
        (name, _) => ctx
            .subtree(name)
            .await?
            .into_iter()
            .map(|f| f.folder.name)
            .collect(),
    };
    Ok(names.iter().map(|n| ctx.folder_ref(n)).collect())
}

/// The values `sort` orders an object by: `Date` is when it was stored
/// (TS 5.3.3.3); an `Attribute` is its header field (case-folded), the
/// `Date` attribute the Date header's time.
fn sort_values(
    sort: &[crate::types::SortCriterion],
    object: &Object,
    summary: &MessageSummary,
) -> Vec<SortValue> {
    sort.iter()
        .map(|c| match (c.kind, c.name.as_deref()) {
            (SortType::Date, _) => SortValue::Number(object.internal_date),
            (SortType::Attribute, Some(n)) if n.eq_ignore_ascii_case("Date") => {
                SortValue::Number(summary.sent.map_or(object.internal_date, |(t, _)| t))
            }
            (SortType::Attribute, name) => SortValue::Text(
                summary
                    .header(name.unwrap_or_default())
                    .unwrap_or_default()
                    .trim()
                    .to_lowercase(),
            ),
        })
        .collect()
}

/// The objects of one page of a search: those `key` selects in the
/// selection's scope, in its sort order, after its `fromCursor`, at most
/// `limit`; and the position to resume after when more follow. The time
/// grows with the matches (each folder's search); the memory with the
/// largest folder's matches and the page.
///
/// Errors: SVC0002 for a bad cursor or sort; those of [`scope`].
async fn select(
    ctx: &Ctx<'_>,
    selection: &SelectionCriteria,
    key: SearchKey,
    limit: usize,
) -> NmsResult<(Vec<FoundObject>, Option<Position>)> {
    let sort = selection.sort_criteria.clone();
    criteria::check_sort(&sort)?;
    let after = match &selection.from_cursor {
        Some(c) => Some(Position::from_cursor(c)?),
        None => None,
    };
    let mut positions: Vec<(Position, FolderRef)> = Vec::new();
    for folder in scope(ctx, selection).await? {
        let sort_for = sort.clone();
        let found = ctx
            .store
            .search_extract(&ctx.principal, &folder, &key, move |o, s| {
                (o.uid, sort_values(&sort_for, o, s))
            })
            .await;
        let found = match found {
            Ok(f) => f,
            // Gone or not readable since it was listed: nothing there.
            Err(StoreError::NoSuchFolder | StoreError::PermissionDenied(_)) => continue,
            Err(e) => return Err(ctx.store_error(e)),
        };
        let (stored, _) = match ctx.store.folder_status(&ctx.principal, &folder).await {
            Ok(s) => s,
            Err(_) => continue,
        };
        for (uid, values) in found {
            let position = Position {
                values,
                folder: stored.id,
                uid,
            };
            if after
                .as_ref()
                .is_none_or(|a| criteria::compare(&sort, &position, a).is_gt())
            {
                positions.push((position, folder.clone()));
            }
        }
        // Only the page and one more are answered: what sorts after them
        // is dropped as the folders come, so memory stays with the page.
        if positions.len() > 2 * (limit + 1) {
            positions.sort_by(|a, b| criteria::compare(&sort, &a.0, &b.0));
            positions.truncate(limit + 1);
        }
    }
    positions.sort_by(|a, b| criteria::compare(&sort, &a.0, &b.0));
    let more = positions.len() > limit;
    positions.truncate(limit);
    let next = more
        .then(|| positions.last().map(|(p, _)| p.clone()))
        .flatten();
    let mut hits = Vec::with_capacity(positions.len());
    for (position, folder) in positions {
        match ctx
            .store
            .object_number(&ctx.principal, &folder, position.uid)
            .await
        {
            Ok(number) => hits.push(FoundObject {
                folder,
                uid: position.uid,
                number,
            }),
            Err(StoreError::NoSuchObject | StoreError::NoSuchFolder) => {}
            Err(e) => return Err(ctx.store_error(e)),
        }
    }
    Ok((hits, next))
}

/// The object an object path names (`/INBOX/17`: its folder's path and
/// its id), as a reference.
///
/// Errors: SVC0002 for a malformed path; SVC2008 (404) for a path of no
/// object the principal may read.
async fn object_at(ctx: &Ctx<'_>, path: &str) -> NmsResult<Reference> {
    let (folder_path, id) = path
        .rsplit_once('/')
        .ok_or_else(|| NmsError::invalid_input(path.to_string()))?;
    let number: u64 = id
        .parse()
        .map_err(|_| NmsError::invalid_input(path.to_string()))?;
    let folder = match folder_path {
        "" => None,
        p if p.ends_with('/') => return Err(NmsError::invalid_input(path.to_string())),
        p => name_of_path(p).map_err(NmsError::invalid_input)?,
    };
    let unknown = || NmsError::unknown("path", path);
    let found = ctx.object(number).await.map_err(|_| unknown())?;
    if folder.as_deref() != Some(found.folder.name.as_str()) {
        return Err(unknown());
    }
    Ok(object_reference(ctx, &found))
}

/// GET `pathToId?path=…` (TS 6.8.3): `{"reference": …}` of the object.
///
/// Errors: SVC0002 without a path or for a malformed one (D.24); SVC2008
/// (404) for a path of no object.
async fn path_to_id(ctx: &Ctx<'_>) -> NmsResult<Response<Body>> {
    let path = ctx
        .query_param("path")
        .ok_or_else(|| NmsError::invalid_input("path"))?;
    let reference = object_at(ctx, &path).await?;
    Ok(json::response(StatusCode::OK, &ReferenceRoot { reference }))
}

/// The paths of a path list body, at most `[nms] max_bulk_items`.
///
/// Errors: SVC0002 for a body that is no path list, or too many paths.
async fn path_list(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Vec<String>> {
    let sent: PathListRoot = json::read(ctx, request, "pathList").await?;
    let paths = sent.path_list.path;
    if paths.is_empty() || paths.len() > ctx.config.max_bulk_items {
        return Err(NmsError::invalid_input("pathList"));
    }
    Ok(paths)
}

/// POST `pathToId` (TS 6.8.5): one bulk response per path, in order
/// (D.25–D.27).
///
/// Errors: as [`path_list`]; each path's own error is its item's.
async fn paths_to_ids(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    let mut response = Vec::new();
    for path in path_list(ctx, request).await? {
        response.push(match object_at(ctx, &path).await {
            Ok(reference) => bulk_success(StatusCode::OK, reference),
            Err(e) => e.bulk_item(),
        });
    }
    Ok(bulk_response(response))
}

/// `{"bulkResponseList": …}` (200).
pub fn bulk_response(response: Vec<BulkResponse>) -> Response<Body> {
    json::response(
        StatusCode::OK,
        &BulkResponseListRoot {
            bulk_response_list: BulkResponseList { response },
        },
    )
}

/// POST `bulkCreation` (TS 6.9.5): stores each object of the `objectList`
/// root fields with the matching `attachments` part, in order; one bulk
/// response per object (201 and its reference, or its error: D.28).
///
/// Errors: SVC0002 for a malformed body or more than `[nms]
/// max_bulk_items` objects; 413 past `[nms] max_object_bytes`.
async fn bulk_creation(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    let mut upload = Upload::new(ctx, request)?;
    let fields = upload.root_fields(ctx.config.max_json_bytes).await?;
    let sent: ObjectListRoot = json::decode(&fields, "objectList")?;
    let objects = sent.object_list.object;
    if objects.is_empty() || objects.len() > ctx.config.max_bulk_items {
        return Err(NmsError::invalid_input("objectList"));
    }
    let mut response = Vec::with_capacity(objects.len());
    for object in &objects {
        response.push(match store_one(ctx, &mut upload, object).await {
            Ok(reference) => bulk_success(StatusCode::CREATED, reference),
            // A broken body leaves nothing for the objects after.
            Err(e) if e.status == StatusCode::PAYLOAD_TOO_LARGE => return Err(e),
            Err(e) => e.bulk_item(),
        });
    }
    Ok(bulk_response(response))
}

/// The objects a bulk operation names: by reference (each one's own
/// outcome slot, `Err` for a reference of no object), or those a
/// selection selects.
///
/// Errors: SVC0002 for neither, or more than `[nms] max_bulk_items`
/// (references, or objects the selection selects).
async fn targets(
    ctx: &Ctx<'_>,
    objects: Option<ObjectReferenceList>,
    selection: Option<SelectionCriteria>,
) -> NmsResult<Vec<Result<FoundObject, (String, NmsError)>>> {
    let max = ctx.config.max_bulk_items;
    if let Some(list) = objects {
        if list.object_reference.is_empty() || list.object_reference.len() > max {
            return Err(NmsError::invalid_input("objects"));
        }
        let mut out = Vec::with_capacity(list.object_reference.len());
        for r in list.object_reference {
            let found = match ctx.urls.resource_of(&r.resource_url) {
                Some(Resource::Object(number)) => ctx
                    .object(number)
                    .await
                    .map_err(|_| NmsError::unknown("object", r.resource_url.clone())),
                _ => Err(NmsError::invalid_input(r.resource_url.clone())),
            };
            out.push(found.map_err(|e| (r.resource_url, e)));
        }
        return Ok(out);
    }
    let Some(selection) = selection else {
        return Err(NmsError::invalid_input("objects"));
    };
    let key = match criteria::search(selection.search_criteria.as_ref())? {
        Search::Matching(key) => key,
        _ => return Err(NmsError::invalid_input("selectionCriteria")),
    };
    let (hits, more) = select(ctx, &selection, key, max).await?;
    if more.is_some() {
        return Err(NmsError::invalid_input(format!(
            "selectionCriteria (selects more than {max} objects)"
        )));
    }
    Ok(hits.into_iter().map(Ok).collect())
}

/// POST `bulkUpdate`: adds or removes flags on every object named; one
/// bulk response per object (200 and its reference, or its error). The
/// objects of one folder are updated in one store write.
///
/// Errors: SVC0002 for a malformed body or bad flags.
async fn bulk_update(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    let sent: BulkUpdateRoot = json::read(ctx, request, "bulkUpdate").await?;
    let update = sent.bulk_update;
    let flags = check_names(update.flags.flag.iter().map(Flag::as_str))?;
    let make = |flags: Flags| match update.operation {
        FlagOperation::AddFlag => FlagUpdate::Add(flags),
        FlagOperation::RemoveFlag => FlagUpdate::Remove(flags),
    };
    let targets = targets(ctx, update.objects, update.selection_criteria).await?;
    let outcomes = per_folder(ctx, &targets, |folder, uids| {
        let update = make(flags.clone());
        async move {
            ctx.store
                .update_flags(&ctx.principal, &folder, &uids, update, None)
                .await
                .map(|_| ())
        }
    })
    .await;
    Ok(bulk_response(items(
        ctx,
        &targets,
        outcomes,
        StatusCode::OK,
    )))
}

/// DELETE `bulkDelete`: removes every object named for good; one bulk
/// response per object.
///
/// Errors: SVC0002 for a malformed body.
async fn bulk_delete(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    let sent: BulkDeleteRoot = json::read(ctx, request, "bulkDelete").await?;
    let delete = sent.bulk_delete;
    let targets = targets(ctx, delete.objects, delete.selection_criteria).await?;
    let outcomes = per_folder(ctx, &targets, |folder, uids| async move {
        ctx.store
            .remove_objects(&ctx.principal, &folder, &uids)
            .await
            .map(|_| ())
    })
    .await;
    Ok(bulk_response(items(
        ctx,
        &targets,
        outcomes,
        StatusCode::OK,
    )))
}

/// Runs `operation` once per folder on the targets found there; the
/// outcome of each folder by name.
async fn per_folder<F, Fut>(
    ctx: &Ctx<'_>,
    targets: &[Result<FoundObject, (String, NmsError)>],
    operation: F,
) -> BTreeMap<String, Result<(), NmsError>>
where
    F: Fn(FolderRef, Vec<Uid>) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    let mut by_folder: BTreeMap<String, (FolderRef, Vec<Uid>)> = BTreeMap::new();
    for found in targets.iter().flatten() {
        by_folder
            .entry(found.folder.name.clone())
            .or_insert_with(|| (found.folder.clone(), Vec::new()))
            .1
            .push(found.uid);
    }
    let mut outcomes = BTreeMap::new();
    for (name, (folder, uids)) in by_folder {
        let outcome = operation(folder, uids)
            .await
            .map_err(|e| ctx.store_error(e));
        outcomes.insert(name, outcome);
    }
    outcomes
}

/// One bulk response per target, in order: `status` and its reference,
/// or the error of its lookup or of its folder's operation.
fn items(
    ctx: &Ctx<'_>,
    targets: &[Result<FoundObject, (String, NmsError)>],
    outcomes: BTreeMap<String, Result<(), NmsError>>,
    status: StatusCode,
) -> Vec<BulkResponse> {
    targets
        .iter()
        .map(|t| match t {
            Err((_, e)) => e.bulk_item(),
            Ok(found) => match outcomes.get(&found.folder.name) {
                Some(Err(e)) => e.bulk_item(),
                _ => bulk_success(status, object_reference(ctx, found)),
            },
        })
        .collect()
}

/// A reference to a located object (TS 5.3.2.11).
pub fn object_reference(ctx: &Ctx<'_>, found: &FoundObject) -> Reference {
    let folder_path = representation::path_of(&found.folder.name);
    Reference {
        resource_url: ctx.urls.object(found.number),
        path: Some(representation::object_path(&folder_path, found.number)),
    }
}
