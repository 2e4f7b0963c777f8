//! PROPFIND (RFC 4918 9.1): `allprop` (the default for an empty body, with
//! `include`), `propname` and `prop`, at Depth 0 or 1. Depth infinity is
//! refused with 403 and `DAV:propfind-finite-depth` (RFC 4918 9.1.1), as
//! a store of large trees should.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::error::{DavError, DavResult};
use crate::path::DavPath;
use crate::properties::{dead_properties, live_names, live_value, LiveContext};
use crate::resource::{lookup, members, Lookup, Resource};
use crate::service::{header_str, read_xml, xml_response, Body, Ctx};
use crate::xml::{self, Name};

/// What the client asks for.
enum Asked {
    /// Every property, plus the named extra ones.
    AllProp(Vec<Name>),
    /// Names only.
    PropName,
    /// These properties.
    Prop(Vec<Name>),
}

/// Handles PROPFIND.
pub async fn handle(ctx: &Ctx<'_>, request: Request<Incoming>) -> DavResult<Response<Body>> {
    let depth_one = match header_str(&request, "depth").map(str::trim) {
        Some("0") => false,
        Some("1") => true,
        Some(d) if !d.eq_ignore_ascii_case("infinity") => {
            return Err(DavError::bad_request("Depth must be 0, 1 or infinity"))
        }
        _ => {
            return Err(DavError::condition(
                StatusCode::FORBIDDEN,
                "propfind-finite-depth",
            ))
        }
    };
    let asked = match read_xml(ctx, request.into_body()).await? {
        None => Asked::AllProp(Vec::new()),
        Some(root) => parse(&root)?,
    };
    let Lookup::Found(resource) = lookup(ctx.store, &ctx.principal, &ctx.path).await? else {
        return Err(DavError::not_found());
    };
    let mut targets = Vec::new();
    if depth_one {
        targets = members(ctx.store, &ctx.principal, &ctx.path, &resource).await?;
    }
    targets.insert(0, (ctx.path.clone(), resource));
    let mut body = xml::reply_start("multistatus");
    for (path, resource) in &targets {
        body.push_str(&describe(ctx, path, resource, &asked).await?);
    }
    body.push_str("</D:multistatus>");
    Ok(xml_response(StatusCode::MULTI_STATUS, body))
}

fn parse(root: &xml::Element) -> DavResult<Asked> {
    if !root.is_dav("propfind") {
        return Err(DavError::bad_request("the body is not a DAV:propfind"));
    }
    let names = |e: &xml::Element| e.elements().map(|p| p.name.clone()).collect::<Vec<_>>();
    if let Some(prop) = root.dav_child("prop") {
        return Ok(Asked::Prop(names(prop)));
    }
    if root.dav_child("propname").is_some() {
        return Ok(Asked::PropName);
    }
    if root.dav_child("allprop").is_some() {
        let include = root.dav_child("include").map(names).unwrap_or_default();
        return Ok(Asked::AllProp(include));
    }
    Err(DavError::bad_request(
        "DAV:propfind needs prop, propname or allprop",
    ))
}

/// One `DAV:response` element.
async fn describe(
    ctx: &Ctx<'_>,
    path: &DavPath,
    resource: &Resource,
    asked: &Asked,
) -> DavResult<String> {
    let live_ctx = LiveContext {
        store: ctx.store,
        principal: &ctx.principal,
        path,
    };
    let mut found = String::new();
    let mut missing = String::new();
    match asked {
        Asked::PropName => {
            for name in live_names(resource, false) {
                found.push_str(&name.empty_element());
            }
            for (name, _) in dead_properties(ctx.store, &ctx.principal, resource).await? {
                found.push_str(&name.empty_element());
            }
        }
        Asked::AllProp(include) => {
            let mut names = live_names(resource, false);
            names.extend(
                include
                    .iter()
                    .filter(|n| !names.contains(n))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            for name in &names {
                match live_value(&live_ctx, resource, name).await? {
                    Some(v) => found.push_str(&v),
                    None if include.contains(name) => missing.push_str(&name.empty_element()),
                    None => {}
                }
            }
            for (_, value) in dead_properties(ctx.store, &ctx.principal, resource).await? {
                found.push_str(&value);
            }
        }
        Asked::Prop(names) => {
            let dead = dead_properties(ctx.store, &ctx.principal, resource).await?;
            for name in names {
                if let Some(v) = live_value(&live_ctx, resource, name).await? {
                    found.push_str(&v);
                } else if let Some((_, v)) = dead.iter().find(|(n, _)| n == name) {
                    found.push_str(v);
                } else {
                    missing.push_str(&name.empty_element());
                }
            }
        }
    }
    let mut out = format!(
        "<D:response><D:href>{}</D:href>",
        xml::text(&path.href(resource.is_collection()))
    );
    for (props, code) in [(found, "200 OK"), (missing, "404 Not Found")] {
        if !props.is_empty() {
            out.push_str(&format!(
                "<D:propstat><D:prop>{props}</D:prop><D:status>HTTP/1.1 {code}</D:status></D:propstat>"
            ));
        }
    }
    if !out.contains("<D:propstat>") {
        out.push_str("<D:propstat><D:prop/><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
    }
    out.push_str("</D:response>");
    Ok(out)
}
