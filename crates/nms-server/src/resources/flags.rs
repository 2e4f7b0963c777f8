//! `/objects/{objectId}/flags` (TS 6.3): GET the flag list, PUT a new one
//! that replaces it (flags are case-insensitive, TS 5.3.2.3; the system
//! flags are IMAP's, Appendix H).

use hyper::{Request, Response, StatusCode};
use store_core::model::Flags;
use store_core::FlagUpdate;

use http_front::{Body, RequestBody};

use crate::error::{NmsError, NmsResult};
use crate::json;
use crate::locate::FoundObject;
use crate::service::Ctx;
use crate::types::{Flag, FlagList, FlagListRoot};

/// The flag list of an object as stored.
fn flag_list(ctx: &Ctx<'_>, number: u64, flags: &Flags) -> FlagListRoot {
    FlagListRoot {
        flag_list: FlagList {
            flag: flags.iter().map(Flag::new).collect(),
            resource_url: Some(ctx.urls.flags(number)),
        },
    }
}

/// The flags of a located object.
///
/// Errors: SVC0004 (404) when it is gone.
pub async fn current(ctx: &Ctx<'_>, found: &FoundObject) -> NmsResult<Flags> {
    let (object, _) = ctx
        .store
        .fetch_object(&ctx.principal, &found.folder, found.uid)
        .await
        .map_err(|e| ctx.store_error(e))?;
    Ok(object.flags)
}

/// GET (TS 6.3.3): `{"flagList": FlagList}`.
///
/// Errors: SVC0004 (404) for an object the principal may not read (D.12).
pub async fn get(ctx: &Ctx<'_>, number: u64) -> NmsResult<Response<Body>> {
    let found = ctx.object(number).await?;
    let flags = current(ctx, &found).await?;
    Ok(json::response(
        StatusCode::OK,
        &flag_list(ctx, number, &flags),
    ))
}

/// Checks flag names a client sent: IMAP flag or keyword syntax (RFC 3501
/// 9 `flag`), which every protocol of the store can show.
///
/// Errors: SVC0002 naming the flag.
pub fn check_names<'a>(names: impl IntoIterator<Item = &'a str>) -> NmsResult<Flags> {
    let mut flags = Flags::new();
    for name in names {
        let keyword = name.strip_prefix('\\').unwrap_or(name);
        let valid = !keyword.is_empty()
            && keyword.len() <= 255
            && keyword.bytes().all(|b| {
                b.is_ascii_graphic()
                    && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
            })
            && !name.eq_ignore_ascii_case("\\Recent");
        if !valid {
            return Err(NmsError::invalid_input(format!("flag {name}")));
        }
        flags.insert(name);
    }
    Ok(flags)
}

/// PUT (TS 6.3.4): replaces the flags with the list sent; answers the
/// list now held (200).
///
/// Errors: SVC0002 for a body that is no FlagList or a bad flag name;
/// SVC0004 (404) for an object the principal may not read; POL0001 (403)
/// without the rights to change flags.
pub async fn put(
    ctx: &Ctx<'_>,
    number: u64,
    request: Request<RequestBody>,
) -> NmsResult<Response<Body>> {
    let sent: FlagListRoot = json::read(ctx, request, "flagList").await?;
    let flags = check_names(sent.flag_list.flag.iter().map(Flag::as_str))?;
    let found = ctx.object(number).await?;
    ctx.store
        .update_flags(
            &ctx.principal,
            &found.folder,
            &[found.uid],
            FlagUpdate::Replace(flags),
            None,
        )
        .await
        .map_err(|e| ctx.store_error(e))?;
    let now = current(ctx, &found).await?;
    Ok(json::response(
        StatusCode::OK,
        &flag_list(ctx, number, &now),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_are_imap_flags() {
        let flags = check_names(["\\seen", "$Forwarded", "\\Flagged"]).unwrap();
        assert!(flags.contains("\\Seen"));
        assert_eq!(flags.len(), 3);
        for bad in ["", "\\", "a b", "\\Recent", "x(", "é"] {
            assert!(check_names([bad]).is_err(), "{bad:?}");
        }
    }
}
