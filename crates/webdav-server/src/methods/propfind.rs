//! PROPFIND (RFC 4918 9.1): `allprop` (the default for an empty body, with
//! `include`), `propname` and `prop`, at Depth 0 or 1. Depth infinity is
//! refused with 403 and `DAV:propfind-finite-depth` (RFC 4918 9.1.1), as
//! a store of large trees should.
//!
//! The 207 body is streamed: chunks of whole `DAV:response`s of about
//! [`CHUNK_BYTES`], made by a task that stays at most
//! [`BUFFERED_RESPONSES`] chunks ahead of the client, so a large answer
//! is never held whole in memory, and a listing of 1,000 files is a few
//! frames, not 1,000 hand-overs between tasks and writes to the socket.

use std::collections::{HashMap, HashSet};

use crate::service::RequestBody;
use bytes::Bytes;
use hyper::body::Frame;
use hyper::{Request, Response, StatusCode};
use store_core::{Principal, Store};
use tokio::sync::mpsc;

use crate::error::{DavError, DavResult};
use crate::path::DavPath;
use crate::properties::{dead_properties, forbidden, is_live, live_names, live_value, LiveContext};
use crate::resource::{lookup, members, Lookup, Resource};
use crate::service::{header_str, read_xml, xml_stream_response, Body, Ctx};
use crate::xml::{self, Name};

/// How many chunks are made ahead of what the client has read.
pub const BUFFERED_RESPONSES: usize = 2;

/// A chunk is sent once it holds this many bytes (it ends with a whole
/// `DAV:response`, so it may be longer by one response).
pub const CHUNK_BYTES: usize = 32 * 1024;

/// What the client asks for.
pub(crate) enum Asked {
    /// Every property, plus the named extra ones.
    AllProp(Vec<Name>),
    /// Names only.
    PropName,
    /// These properties.
    Prop(Vec<Name>),
}

/// Handles PROPFIND.
pub async fn handle(ctx: &Ctx<'_>, request: Request<RequestBody>) -> DavResult<Response<Body>> {
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
    let members = if depth_one {
        members(ctx.store, &ctx.principal, &ctx.path, &resource).await?
    } else {
        Vec::new()
    };
    // The target's own response is made before the status is sent, so
    // an error there still gets its own status.
    let first = describe(ctx.store, &ctx.principal, &ctx.path, &resource, &asked).await?;
    let head = format!("{}{first}", xml::reply_start("multistatus"));
    let entries = members
        .into_iter()
        .map(|(p, r)| Entry::Member(p, Box::new(r)))
        .collect();
    Ok(stream_multistatus(
        ctx,
        head,
        entries,
        asked,
        "</D:multistatus>".into(),
    ))
}

/// One `DAV:response` of a streamed multistatus.
pub(crate) enum Entry {
    /// A resource, described with the properties asked for.
    Member(DavPath, Box<Resource>),
    /// A response made already (an RFC 6578 removed member).
    Made(String),
}

/// A 207 whose body is `head`, the entries in chunks of about
/// [`CHUNK_BYTES`], made by a task that stays at most
/// [`BUFFERED_RESPONSES`] chunks ahead of the client, then `tail`.
pub(crate) fn stream_multistatus(
    ctx: &Ctx<'_>,
    head: String,
    entries: Vec<Entry>,
    asked: Asked,
    tail: String,
) -> Response<Body> {
    let (sender, receiver) = mpsc::channel(BUFFERED_RESPONSES);
    // The channel is empty and has room for the first chunk.
    let _ = sender.try_send(Ok(Frame::data(Bytes::from(head))));
    let store = ctx.store.clone();
    let principal = ctx.principal.clone();
    tokio::spawn(async move {
        let mut chunk = String::new();
        for entry in entries {
            let response = match entry {
                Entry::Made(chunk) => chunk,
                Entry::Member(path, resource) => {
                    match describe(&store, &principal, &path, &resource, &asked).await {
                        Ok(chunk) => chunk,
                        // The 207 is sent: a member that cannot be described
                        // (gone since it was listed) gets a response with its
                        // own status (RFC 4918 14.24).
                        Err(e) => failed(&path, &resource, &e),
                    }
                }
            };
            chunk.push_str(&response);
            if chunk.len() < CHUNK_BYTES {
                continue;
            }
            let full = std::mem::replace(&mut chunk, String::with_capacity(CHUNK_BYTES + 1024));
            // A send fails when the client has gone: stop working.
            if sender
                .send(Ok(Frame::data(Bytes::from(full))))
                .await
                .is_err()
            {
                return;
            }
        }
        chunk.push_str(&tail);
        let _ = sender.send(Ok(Frame::data(Bytes::from(chunk)))).await;
    });
    xml_stream_response(StatusCode::MULTI_STATUS, receiver)
}

/// A `DAV:response` giving only the status of a member that failed.
fn failed(path: &DavPath, resource: &Resource, error: &DavError) -> String {
    tracing::debug!(error = %error.message, "PROPFIND of a member failed");
    format!(
        "<D:response><D:href>{}</D:href><D:status>HTTP/1.1 {}</D:status></D:response>",
        xml::text(&path.href(resource.is_collection())),
        error.status
    )
}

/// Distinct property names one request may ask for (PROPFIND `prop` or
/// `include`, a sync-collection REPORT's `prop`): it bounds the work and
/// the answer per resource. Real clients ask for a few dozen; it is high
/// enough for the 40,000-name streaming case of issue 13
/// (`tests/hardening_webdav.rs`), which a 1 MiB body can hold.
pub const MAX_ASKED: usize = 65_536;

/// The property names of a `DAV:prop` (or `DAV:include`), each once, in
/// the order first asked: a name repeated is answered once (RFC 4918
/// 9.1 asks for each property's value, not for it as many times as it is
/// named), so the cost is that of the distinct names. More than
/// [`MAX_ASKED`] distinct ones get `413 Content Too Large` (RFC 9110
/// 15.5.14: content larger than the server is willing to process);
/// RFC 4918 names no condition for it.
pub(crate) fn asked_names(prop: &xml::Element) -> DavResult<Vec<Name>> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for name in prop.elements().map(|p| &p.name) {
        if seen.insert(name) {
            if names.len() == MAX_ASKED {
                return Err(DavError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "more distinct properties asked for than this server answers at once",
                ));
            }
            names.push(name.clone());
        }
    }
    Ok(names)
}

fn parse(root: &xml::Element) -> DavResult<Asked> {
    if !root.is_dav("propfind") {
        return Err(DavError::bad_request("the body is not a DAV:propfind"));
    }
    if let Some(prop) = root.dav_child("prop") {
        return Ok(Asked::Prop(asked_names(prop)?));
    }
    if root.dav_child("propname").is_some() {
        return Ok(Asked::PropName);
    }
    if root.dav_child("allprop").is_some() {
        let include = match root.dav_child("include") {
            Some(i) => asked_names(i)?,
            None => Vec::new(),
        };
        return Ok(Asked::AllProp(include));
    }
    Err(DavError::bad_request(
        "DAV:propfind needs prop, propname or allprop",
    ))
}

/// One `DAV:response` element.
async fn describe(
    store: &Store,
    principal: &Principal,
    path: &DavPath,
    resource: &Resource,
    asked: &Asked,
) -> DavResult<String> {
    // Dead properties, and the stored DAV:displayname among them, which
    // is given as the live property (a dead property stored under a name
    // that is live now is not given).
    let (dead, stored_name): (Vec<_>, Vec<_>) = dead_properties(store, principal, resource)
        .await?
        .into_iter()
        .partition(|(n, _)| !is_live(n));
    let live_ctx = LiveContext {
        store,
        principal,
        path,
        display_name: stored_name
            .iter()
            .find(|(n, _)| n.local == "displayname")
            .map(|(_, v)| v.as_str()),
        dates: Default::default(),
    };
    // The found properties are written straight into the response, in a
    // 200 propstat taken back if none is found and some are missing.
    let mut out = format!(
        "<D:response><D:href>{}</D:href>",
        xml::text(&path.href(resource.is_collection()))
    );
    let propstat = out.len();
    out.push_str("<D:propstat><D:prop>");
    let props = out.len();
    let found = &mut out;
    let mut missing = String::new();
    let mut refused = String::new();
    match asked {
        Asked::PropName => {
            for name in live_names(resource, false) {
                found.push_str(&name.empty_element());
            }
            for (name, _) in &dead {
                found.push_str(&name.empty_element());
            }
        }
        Asked::AllProp(include) => {
            let live = live_names(resource, false);
            let extra = include.iter().filter(|n| !live.contains(n));
            let included: HashSet<&Name> = include.iter().collect();
            for name in live.iter().chain(extra) {
                match live_value(&live_ctx, resource, name).await? {
                    Some(v) => found.push_str(&v),
                    None if included.contains(name) => missing.push_str(&name.empty_element()),
                    None => {}
                }
            }
            for (_, value) in &dead {
                found.push_str(value);
            }
        }
        Asked::Prop(names) => {
            let dead: HashMap<Name, String> = dead.into_iter().collect();
            for name in names {
                if forbidden(principal, resource, name) && live_names(resource, true).contains(name)
                {
                    refused.push_str(&name.empty_element());
                } else if let Some(v) = live_value(&live_ctx, resource, name).await? {
                    found.push_str(&v);
                } else if let Some(v) = dead.get(name) {
                    found.push_str(v);
                } else {
                    missing.push_str(&name.empty_element());
                }
            }
        }
    }
    if out.len() > props || (missing.is_empty() && refused.is_empty()) {
        out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
    } else {
        out.truncate(propstat);
    }
    if !missing.is_empty() {
        out.push_str("<D:propstat><D:prop>");
        out.push_str(&missing);
        out.push_str("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>");
    }
    if !refused.is_empty() {
        // RFC 3744 5.5: DAV:acl needs DAV:read-acl.
        out.push_str("<D:propstat><D:prop>");
        out.push_str(&refused);
        out.push_str("</D:prop><D:status>HTTP/1.1 403 Forbidden</D:status><D:error><D:need-privileges><D:resource><D:href>");
        out.push_str(&xml::text(&path.href(resource.is_collection())));
        out.push_str("</D:href><D:privilege><D:read-acl/></D:privilege></D:resource></D:need-privileges></D:error></D:propstat>");
    }
    out.push_str("</D:response>");
    Ok(out)
}
