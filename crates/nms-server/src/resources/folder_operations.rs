//! `/folders/operations/{operation}` (TS 6.13–6.16): `search` (POST),
//! `pathToId` (GET `?path=`, POST a path list), `copyToFolder` and
//! `moveToFolder` (POST a TargetSourceRef).

use hyper::{Method, Request, Response, StatusCode};
use store_core::FolderInfo;

use http_front::{Body, RequestBody};

use crate::criteria::SortValue;
use crate::error::{bulk_success, NmsError, NmsResult};
use crate::json;
use crate::locate::FoundFolder;
use crate::representation::{self, leaf_name, CountedAttributes, Place};
use crate::resources::object_operations::{bulk_response, object_reference};
use crate::route::{FolderIdent, Resource};
use crate::service::Ctx;
use crate::types::{
    BulkResponse, FolderList, FolderListRoot, FolderReferenceList, LogicalOperator,
    ObjectReferenceList, PathListRoot, Reference, ReferenceRoot, SearchCriterion, SearchType,
    SelectionCriteriaRoot, SortCriterion, SortType, TargetSourceRefRoot,
};

/// Dispatches a folder operation by name and method.
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
        "search" | "copyToFolder" | "moveToFolder" => "POST",
        "pathToId" => "GET, POST",
        _ => return Err(ctx.not_found()),
    };
    match (operation, method) {
        ("search", Method::POST) => search(ctx, request).await,
        ("pathToId", Method::GET) => path_to_id(ctx).await,
        ("pathToId", Method::POST) => paths_to_ids(ctx, request).await,
        ("copyToFolder", Method::POST) => copy_or_move(ctx, request, false).await,
        ("moveToFolder", Method::POST) => copy_or_move(ctx, request, true).await,
        _ => Ok(http_front::method_not_allowed(allow)),
    }
}

/// The box's folders, the root first, then by name.
async fn all_folders(ctx: &Ctx<'_>) -> NmsResult<Vec<(Place, Option<FolderInfo>)>> {
    let mut out = vec![(Place::root(), None)];
    let listed = ctx.box_folders().await?;
    out.extend(listed.into_iter().map(|f| (Place::of(&f.folder), Some(f))));
    Ok(out)
}

/// Whether a folder matches one criterion of a folder search (TS 6.13):
/// `Attribute` `Root` (`Yes` for the root only) or `Name` (equal,
/// ignoring case), `AllTextAttributes` (a substring of the name),
/// `Date` (`created` within the range, as the object search reads it).
///
/// Errors: SVC0002 for a malformed date range; SVC0003 for criteria a
/// folder search does not take.
fn folder_matches(c: &SearchCriterion, place: &Place, created: Option<i64>) -> NmsResult<bool> {
    let name = place.name().map(leaf_name).unwrap_or_default();
    let value = c.value.trim();
    Ok(match c.kind {
        SearchType::Attribute => match c.name.as_deref().unwrap_or_default() {
            n if n.eq_ignore_ascii_case("Root") => {
                (place.ident == FolderIdent::Root) == value.eq_ignore_ascii_case("yes")
            }
            n if n.eq_ignore_ascii_case("Name") => name.eq_ignore_ascii_case(value),
            _ => false,
        },
        SearchType::AllTextAttributes => name.to_lowercase().contains(&value.to_lowercase()),
        SearchType::Date => {
            let (from, until) = crate::criteria::date_range(&c.value)?;
            created.is_some_and(|t| from.is_none_or(|f| t >= f) && until.is_none_or(|u| t < u))
        }
        _ => {
            return Err(NmsError::invalid_value(
                "folder search type",
                &["Attribute", "AllTextAttributes", "Date"],
            ))
        }
    })
}

/// Where a folder stands in a folder search's order: its sort values,
/// then its path. A cursor is the position of the last folder sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct FolderPosition {
    values: Vec<SortValue>,
    path: String,
}

impl FolderPosition {
    fn cursor(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn from_cursor(cursor: &str) -> NmsResult<FolderPosition> {
        hex::decode(cursor.trim())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| NmsError::invalid_input("fromCursor"))
    }
}

/// The values a folder sorts by: `Date` (and the `Date` attribute) when
/// it was created; the `Name` attribute its name, case-folded; any other
/// attribute sorts as empty.
fn folder_sort_values(
    sort: &[SortCriterion],
    place: &Place,
    created: Option<i64>,
) -> Vec<SortValue> {
    let name = place.name().map(leaf_name).unwrap_or_default();
    sort.iter()
        .map(|c| match (c.kind, c.name.as_deref()) {
            (SortType::Date, _) => SortValue::Number(created.unwrap_or(0)),
            (SortType::Attribute, Some(n)) if n.eq_ignore_ascii_case("Date") => {
                SortValue::Number(created.unwrap_or(0))
            }
            (SortType::Attribute, Some(n)) if n.eq_ignore_ascii_case("Name") => {
                SortValue::Text(name.to_lowercase())
            }
            (SortType::Attribute, _) => SortValue::Text(String::new()),
        })
        .collect()
}

/// Whether `place` is in a folder search's scope: below the scope folder
/// (`scope`, `None` for the whole box), or directly below it when the
/// search is not recursive.
fn in_scope(place: &Place, scope: Option<&Place>, recursive: bool) -> bool {
    let Some(scope) = scope else {
        return true;
    };
    let Some(name) = place.name() else {
        return false;
    };
    let parent = representation::parent_name(name);
    match (scope.name(), recursive) {
        (None, true) => true,
        (None, false) => parent.is_none(),
        (Some(s), true) => name.starts_with(&format!("{s}/")),
        (Some(s), false) => parent == Some(s),
    }
}

/// POST `search` (TS 6.13.5): `{"folderList": …}` of the folders the
/// criteria select below `searchScope` (recursive unless
/// `nonRecursiveScope`), sorted by `sortCriterion` (Date, the Name or Date
/// attribute; then by path), one page (`maxEntries`, `fromCursor`). The
/// root, when selected, comes with its subfolders and (none) objects.
///
/// Errors: SVC0002 for a bad body, scope or cursor; SVC0003 for criteria
/// a folder search does not take.
async fn search(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    let sent: SelectionCriteriaRoot = json::read(ctx, request, "selectionCriteria").await?;
    let selection = sent.selection_criteria;
    let limit = match selection.max_entries {
        Some(n) if n > 0 => (n as usize).min(ctx.config.max_entries),
        _ => ctx.config.default_entries,
    };
    let after = match &selection.from_cursor {
        Some(c) => Some(FolderPosition::from_cursor(c)?),
        None => None,
    };
    let sort = selection.sort_criteria.clone();
    crate::criteria::check_sort(&sort)?;
    let scope = match &selection.search_scope {
        None => None,
        Some(r) if !r.resource_url.is_empty() => Some(
            ctx.folder_by_url(&r.resource_url, "searchScope")
                .await?
                .place,
        ),
        Some(r) => match &r.path {
            Some(path) => Some(ctx.folder_by_path(path).await?.place),
            None => return Err(NmsError::invalid_input("searchScope")),
        },
    };
    let recursive = selection.non_recursive_scope != Some(true);
    let criteria = selection.search_criteria.unwrap_or_default();
    if criteria.criterion.len() > crate::criteria::MAX_CRITERIA {
        return Err(NmsError::invalid_input("searchCriteria"));
    }
    let operator = criteria.effective_operator();
    let order = |a: &FolderPosition, b: &FolderPosition| {
        crate::criteria::compare_values(&sort, &a.values, &b.values).then(a.path.cmp(&b.path))
    };
    let mut selected = Vec::new();
    for (place, info) in all_folders(ctx).await? {
        if !in_scope(&place, scope.as_ref(), recursive) {
            continue;
        }
        let created = ctx.created(info.as_ref().map(|i| &i.folder)).await;
        let position = FolderPosition {
            values: folder_sort_values(&sort, &place, created),
            path: place.path.clone(),
        };
        if after.as_ref().is_some_and(|a| order(&position, a).is_le()) {
            continue;
        }
        let mut results = Vec::with_capacity(criteria.criterion.len());
        for c in &criteria.criterion {
            results.push(folder_matches(c, &place, created)?);
        }
        let all = results.iter().all(|r| *r);
        let holds = match operator {
            LogicalOperator::And => all,
            LogicalOperator::Or => results.is_empty() || results.iter().any(|r| *r),
            LogicalOperator::Not => !all,
        };
        if holds {
            selected.push((position, place, info, created));
        }
    }
    selected.sort_by(|a, b| order(&a.0, &b.0));
    let more = selected.len() > limit;
    selected.truncate(limit);
    let cursor = more
        .then(|| selected.last().map(|(p, ..)| p.cursor()))
        .flatten();
    let mut folder = Vec::with_capacity(selected.len());
    for (_, place, info, created) in &selected {
        let parent = match place.name() {
            None => None,
            Some(name) => Some(ctx.parent_of(name).await?),
        };
        let mut found = representation::folder(
            &ctx.urls,
            place,
            parent,
            info.as_ref().map(|i| &i.folder),
            *created,
            CountedAttributes::default(),
            true,
        );
        if place.ident == FolderIdent::Root {
            found.last_mod_seq = ctx.root_modseq().await;
            found.sub_folders = Some(root_children(ctx).await?);
            found.objects = Some(ObjectReferenceList::default());
        }
        folder.push(found);
    }
    Ok(json::response(
        StatusCode::OK,
        &FolderListRoot {
            folder_list: FolderList { folder, cursor },
        },
    ))
}

/// The root's subfolders, as references (a root folder in search results
/// carries its lists, TS 5.3.2.8).
async fn root_children(ctx: &Ctx<'_>) -> NmsResult<FolderReferenceList> {
    let children = ctx
        .store
        .list_children(&ctx.principal, ctx.owner.as_deref(), None)
        .await
        .map_err(|e| ctx.store_error(e))?;
    Ok(FolderReferenceList {
        folder_reference: children
            .iter()
            .map(|c| representation::folder_reference(&ctx.urls, &Place::of(&c.folder)))
            .collect(),
    })
}

/// GET `pathToId` (TS 6.14.3): `{"reference": …}` of the folder at
/// `?path=`; without it, of the root (there is one: D.48).
///
/// Errors: SVC0002 for a malformed path; SVC2008 (404) for a path of no
/// folder.
async fn path_to_id(ctx: &Ctx<'_>) -> NmsResult<Response<Body>> {
    let found = match ctx.query_param("path") {
        None => FoundFolder::root(),
        Some(path) => ctx.folder_by_path(&path).await?,
    };
    let reference = representation::folder_reference(&ctx.urls, &found.place);
    Ok(json::response(StatusCode::OK, &ReferenceRoot { reference }))
}

/// POST `pathToId` (TS 6.14.5): one bulk response per path, in order
/// (D.50, D.51).
///
/// Errors: SVC0002 for a body that is no path list, or too many paths.
async fn paths_to_ids(ctx: &Ctx<'_>, request: Request<RequestBody>) -> NmsResult<Response<Body>> {
    let sent: PathListRoot = json::read(ctx, request, "pathList").await?;
    let paths = sent.path_list.path;
    if paths.is_empty() || paths.len() > ctx.config.max_bulk_items {
        return Err(NmsError::invalid_input("pathList"));
    }
    let mut response = Vec::with_capacity(paths.len());
    for path in paths {
        response.push(match ctx.folder_by_path(&path).await {
            Ok(found) => bulk_success(
                StatusCode::OK,
                representation::folder_reference(&ctx.urls, &found.place),
            ),
            Err(e) if e.status == StatusCode::BAD_REQUEST => {
                NmsError::invalid_input(path).bulk_item()
            }
            Err(e) => e.bulk_item(),
        });
    }
    Ok(bulk_response(response))
}

/// POST `copyToFolder` (TS 6.15) or `moveToFolder` (TS 6.16): each source
/// object and folder into the target folder; one bulk response per
/// source, folders first, then objects (D.52–D.57). A copied object is a
/// new object with a new id; a moved one keeps its id. A folder is
/// copied with everything below it, or moved (renamed under the target,
/// keeping its id).
///
/// Errors: SVC0002 for a malformed body or more than `[nms]
/// max_bulk_items` sources; the target's errors (POL1031 for the root as
/// the target of objects; SVC2008 for no such folder) answer the whole
/// request; each source's its own item.
async fn copy_or_move(
    ctx: &Ctx<'_>,
    request: Request<RequestBody>,
    moving: bool,
) -> NmsResult<Response<Body>> {
    let sent: TargetSourceRefRoot = json::read(ctx, request, "targetSourceRef").await?;
    let refs = sent.target_source_ref;
    let target = match (&refs.target_ref.resource_url, &refs.target_ref.path) {
        (url, _) if !url.is_empty() => ctx.folder_by_url(url, "targetRef").await?,
        (_, Some(path)) => ctx.folder_by_path(path).await?,
        _ => return Err(NmsError::invalid_input("targetRef")),
    };
    let folders = refs.source_refs.folders.folder_reference;
    let objects = refs.source_refs.objects.object_reference;
    if target.place.name().is_none() && !objects.is_empty() {
        // Objects live in mailboxes, never in the root (D.57).
        return Err(NmsError::creation_refused("/"));
    }
    if folders.len() + objects.len() > ctx.config.max_bulk_items {
        return Err(NmsError::invalid_input("sourceRefs"));
    }
    let mut response = Vec::with_capacity(folders.len() + objects.len());
    for source in &folders {
        response.push(folder_item(ctx, &target, source, moving).await);
    }
    for source in &objects {
        response.push(object_item(ctx, &target, source, moving).await);
    }
    Ok(bulk_response(response))
}

/// Copies or moves one source folder under `target`.
async fn folder_item(
    ctx: &Ctx<'_>,
    target: &FoundFolder,
    source: &Reference,
    moving: bool,
) -> BulkResponse {
    let result: NmsResult<Reference> = async {
        let found = match ctx.urls.resource_of(&source.resource_url) {
            Some(Resource::Folder(ident)) => ctx
                .folder_by_id(ident)
                .await
                .map_err(|_| NmsError::unknown("folder", source.resource_url.clone()))?,
            _ => return Err(NmsError::invalid_input(source.resource_url.clone())),
        };
        let Some(from) = found.place.name().map(str::to_string) else {
            return Err(NmsError::policy_error(
                "the root folder cannot be copied or moved",
            ));
        };
        let to = match target.place.name() {
            Some(t) => format!("{t}/{}", leaf_name(&from)),
            None => leaf_name(&from).to_string(),
        };
        if to == from || to.starts_with(&format!("{from}/")) {
            return Err(NmsError::invalid_input("targetRef (inside the source)"));
        }
        if moving {
            ctx.store
                .rename_folder(&ctx.principal, &ctx.folder_ref(&from), &ctx.folder_ref(&to))
                .await
                .map_err(|e| ctx.store_error(e))?;
        } else {
            copy_tree(ctx, &from, &to).await?;
        }
        let moved = ctx
            .folder_by_name(Some(&to))
            .await
            .map_err(|e| ctx.store_error(e))?;
        Ok(representation::folder_reference(&ctx.urls, &moved.place))
    }
    .await;
    match result {
        Ok(reference) => bulk_success(StatusCode::OK, reference),
        Err(e) => e.bulk_item(),
    }
}

/// Copies folder `from` and every folder below it to `to`, objects
/// included (copies share their blobs), a page of objects at a time.
async fn copy_tree(ctx: &Ctx<'_>, from: &str, to: &str) -> NmsResult<()> {
    let tree = ctx.subtree(Some(from)).await?;
    for info in tree {
        let name = info.folder.name;
        let copy = format!("{to}{}", &name[from.len()..]);
        let (source, target) = (ctx.folder_ref(&name), ctx.folder_ref(&copy));
        ctx.store
            .create_folder(&ctx.principal, &target, None)
            .await
            .map_err(|e| ctx.store_error(e))?;
        let mut after = 0;
        loop {
            let page = ctx
                .store
                .objects_after(&ctx.principal, &source, after, store_core::MAX_BATCH)
                .await
                .map_err(|e| ctx.store_error(e))?;
            let uids: Vec<_> = page.objects.iter().map(|o| o.object.uid).collect();
            if let Some(last) = uids.last() {
                after = *last;
                ctx.store
                    .copy_objects(&ctx.principal, &source, &uids, &target)
                    .await
                    .map_err(|e| ctx.store_error(e))?;
            }
            if !page.more {
                break;
            }
        }
    }
    Ok(())
}

/// Copies or moves one source object into `target`.
async fn object_item(
    ctx: &Ctx<'_>,
    target: &FoundFolder,
    source: &Reference,
    moving: bool,
) -> BulkResponse {
    let result: NmsResult<Reference> = async {
        let found = match ctx.urls.resource_of(&source.resource_url) {
            Some(Resource::Object(number)) => ctx
                .object(number)
                .await
                .map_err(|_| NmsError::unknown("object", source.resource_url.clone()))?,
            _ => return Err(NmsError::invalid_input(source.resource_url.clone())),
        };
        let Some(name) = target.place.name() else {
            return Err(NmsError::creation_refused("/"));
        };
        let to = ctx.folder_ref(name);
        let uids = [found.uid];
        let done = match moving {
            true => {
                ctx.store
                    .move_objects(&ctx.principal, &found.folder, &uids, &to)
                    .await
            }
            false => {
                ctx.store
                    .copy_objects(&ctx.principal, &found.folder, &uids, &to)
                    .await
            }
        }
        .map_err(|e| ctx.store_error(e))?;
        let Some(&(_, new_uid)) = done.uids.first() else {
            return Err(NmsError::unknown("object", source.resource_url.clone()));
        };
        let number = ctx
            .store
            .object_number(&ctx.principal, &to, new_uid)
            .await
            .map_err(|e| ctx.store_error(e))?;
        Ok(object_reference(
            ctx,
            &crate::locate::FoundObject {
                folder: to,
                uid: new_uid,
                number,
            },
        ))
    }
    .await;
    match result {
        Ok(reference) => bulk_success(StatusCode::OK, reference),
        Err(e) => e.bulk_item(),
    }
}
