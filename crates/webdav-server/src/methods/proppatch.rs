//! PROPPATCH (RFC 4918 9.2): dead properties set and removed in document
//! order, all or nothing, as one store-core "metadata update". A protected
//! (live) property cannot be changed: it gets 403 with
//! `DAV:cannot-modify-protected-property` (RFC 4918 16) and every other
//! instruction 424 (RFC 4918 9.2.1), and nothing is applied.
//! `DAV:displayname` is not protected (RFC 4918 15.2): it is stored like a
//! dead property, and PROPFIND gives it instead of the resource's name
//! until it is removed.

use crate::service::RequestBody;
use hyper::{Request, Response, StatusCode};
use store_core::StoreError;

use crate::conditions::Preconditions;
use crate::error::{DavError, DavResult};
use crate::properties::{dead_entry, is_protected, metadata_target};
use crate::resource::{lookup, Lookup};
use crate::service::{read_xml, xml_response, Body, Ctx};
use crate::xml::{self, Name};

/// The status of a protected property; its propstat names the
/// precondition `DAV:cannot-modify-protected-property` (RFC 4918 9.2.1, 16).
const PROTECTED: &str = "403 Forbidden";

/// Handles PROPPATCH.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
    let preconditions = Preconditions::from_headers(request.headers())?;
    let root = read_xml(ctx, request.into_body())
        .await?
        .ok_or_else(|| DavError::bad_request("PROPPATCH needs a body"))?;
    if !root.is_dav("propertyupdate") {
        return Err(DavError::bad_request(
            "the body is not a DAV:propertyupdate",
        ));
    }
    let mut updates: Vec<(Name, Option<String>)> = Vec::new();
    for instruction in root.elements() {
        let set = if instruction.is_dav("set") {
            true
        } else if instruction.is_dav("remove") {
            false
        } else {
            continue;
        };
        for prop in instruction.elements().filter(|e| e.is_dav("prop")) {
            for p in prop.elements() {
                updates.push((p.name.clone(), set.then(|| p.to_xml())));
            }
        }
    }
    let Lookup::Found(resource) = lookup(ctx.store, &ctx.principal, &ctx.path).await? else {
        return Err(DavError::not_found());
    };
    let target = metadata_target(&resource)
        .ok_or_else(|| DavError::forbidden("an account root has no properties"))?;
    preconditions
        .check_write(ctx.store, &ctx.principal, &ctx.path, false)
        .await?;
    let protected: Vec<&Name> = updates
        .iter()
        .map(|(n, _)| n)
        .filter(|n| is_protected(n))
        .collect();
    let outcome: Vec<(Name, &str)> = if !protected.is_empty() {
        updates
            .iter()
            .map(|(n, _)| {
                let status = if is_protected(n) {
                    PROTECTED
                } else {
                    "424 Failed Dependency"
                };
                (n.clone(), status)
            })
            .collect()
    } else {
        let entries = updates
            .iter()
            .map(|(n, v)| (dead_entry(n), v.as_ref().map(|v| v.clone().into_bytes())))
            .collect();
        let status = match ctx
            .store
            .set_metadata(&ctx.principal, &target, entries)
            .await
        {
            Ok(()) => "200 OK",
            Err(StoreError::InvalidArgument(_) | StoreError::MetadataLimit(_)) => {
                "507 Insufficient Storage"
            }
            Err(e) => return Err(e.into()),
        };
        updates.iter().map(|(n, _)| (n.clone(), status)).collect()
    };
    let mut body = xml::reply_start("multistatus");
    body.push_str(&format!(
        "<D:response><D:href>{}</D:href>",
        xml::text(&ctx.path.href(resource.is_collection()))
    ));
    for (name, status) in outcome {
        let error = if status == PROTECTED {
            "<D:error><D:cannot-modify-protected-property/></D:error>"
        } else {
            ""
        };
        body.push_str(&format!(
            "<D:propstat><D:prop>{}</D:prop><D:status>HTTP/1.1 {status}</D:status>{error}</D:propstat>",
            name.empty_element()
        ));
    }
    body.push_str("</D:response></D:multistatus>");
    Ok(xml_response(StatusCode::MULTI_STATUS, body))
}
