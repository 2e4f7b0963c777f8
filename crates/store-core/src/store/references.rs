//! Operations "generate reference" and "fetch by reference" (seed 002,
//! 5.5.1.19): an unguessable token naming (account, folder, UID, part) with
//! an expiry and the access it grants (RFC 4467 URLAUTH semantics), usable
//! from IMAP URLFETCH and SIP fetch by reference.

use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::{now, resolve, Store};
use crate::error::{Result, StoreError};
use crate::keys;
use crate::mime::MessageSummary;
use crate::model::{AccountId, FolderId, Object, Principal, Uid, UnixTime};
use crate::rights::Right;
use crate::section::SectionText;
use crate::writer::{Reader, Txn};

use super::folders::FolderRef;

/// Who may use a reference (RFC 4467 section 3, access identifiers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReferenceAccess {
    /// `anonymous`: anyone holding it, even unauthenticated (a trusted SIP
    /// network element fetching by reference).
    Anonymous,
    /// `authuser`: any authenticated principal.
    AuthenticatedUser,
    /// `user+login`: only that login.
    User(String),
    /// `submit+login`: a submission server acting for that login.
    Submit(String),
}

/// A stored reference. `Debug` shows the token as `<redacted>`: it is a
/// bearer credential (RFC 4467 URLAUTH).
#[derive(Clone, Serialize, Deserialize)]
pub struct Reference {
    /// The token (43 characters of base64url, 256 random bits).
    pub token: String,
    /// Owner of the object.
    pub account: AccountId,
    /// Folder of the object.
    pub folder: FolderId,
    /// UIDVALIDITY at generation: a recreated folder invalidates it.
    pub uid_validity: u32,
    /// The object.
    pub uid: Uid,
    /// An IMAP section (`1.2`, `HEADER`), or `None` for the whole object.
    pub section: Option<String>,
    /// When it stops working (Unix seconds), if ever.
    pub expires: Option<UnixTime>,
    /// Who may use it.
    pub access: ReferenceAccess,
}

impl std::fmt::Debug for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reference")
            .field("token", &"<redacted>")
            .field("account", &self.account)
            .field("folder", &self.folder)
            .field("uid_validity", &self.uid_validity)
            .field("uid", &self.uid)
            .field("section", &self.section)
            .field("expires", &self.expires)
            .field("access", &self.access)
            .finish()
    }
}

impl ReferenceAccess {
    /// The RFC 4467 access identifier (`anonymous`, `authuser`,
    /// `user+login`, `submit+login`).
    pub fn identifier(&self) -> String {
        match self {
            ReferenceAccess::Anonymous => "anonymous".into(),
            ReferenceAccess::AuthenticatedUser => "authuser".into(),
            ReferenceAccess::User(l) => format!("user+{l}"),
            ReferenceAccess::Submit(l) => format!("submit+{l}"),
        }
    }
}

/// The URL a reference is generated for (RFC 4467 3: the token is bound
/// to it, and a fetch must name it exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceUrl {
    /// The URL an IMAP client gave GENURLAUTH, up to and including its
    /// access identifier (`imap://...;URLAUTH=anonymous`, RFC 4467 7.1).
    Given(String),
    /// A URL the store writes (`cpm-store account reference`):
    /// [`Reference::url`] with this host and folder name, the login being
    /// the principal's.
    Built {
        /// The IMAP server's host (`[sip] host` or as given).
        host: String,
        /// The folder's name as the URL shows it.
        folder: String,
    },
}

/// The part of a URLAUTH URL its token authorizes: everything up to the
/// `:` that ends the access identifier after `;URLAUTH=` (RFC 4467 3,
/// `authimapurl`); the whole URL if it has no `;URLAUTH=`.
pub fn authorized_part(url: &str) -> &str {
    let Some(at) = url.to_ascii_uppercase().find(";URLAUTH=") else {
        return url;
    };
    let after = at + ";URLAUTH=".len();
    match url[after..].find(':') {
        Some(colon) => &url[..after + colon],
        None => url,
    }
}

/// The value of the `;name=value` parameter of an IMAP URL (RFC 5092),
/// name case-insensitive.
fn url_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split(['/', ';']).find_map(|part| {
        let (n, v) = part.split_once('=')?;
        n.eq_ignore_ascii_case(name).then_some(v)
    })
}

impl Reference {
    /// The reference as an RFC 4467 URLAUTH-authorized IMAP URL (RFC 5092
    /// 6, INTERNAL mechanism): `imap://{login}@{host}/{folder};UIDVALIDITY=
    /// {v}/;UID={uid}[/;SECTION={s}][;EXPIRE=...];URLAUTH={access}:internal:
    /// {token}`. `folder` is the folder's IMAP name, percent-encoded by the
    /// caller where RFC 5092 asks.
    pub fn url(&self, host: &str, login: &str, folder: &str) -> String {
        let mut url = format!(
            "imap://{login}@{host}/{folder};UIDVALIDITY={}/;UID={}",
            self.uid_validity, self.uid
        );
        if let Some(s) = &self.section {
            url.push_str(&format!("/;SECTION={s}"));
        }
        if let Some(e) = self.expires {
            url.push_str(&format!(";EXPIRE={}", crate::dates::rfc3339(e)));
        }
        url.push_str(&format!(
            ";URLAUTH={}:internal:{}",
            self.access.identifier(),
            self.token
        ));
        url
    }

    /// The token of a URLAUTH URL: the last field of its `URLAUTH`
    /// parameter (`access:mechanism:token`, RFC 4467 3), if any.
    pub fn token_in_url(url: &str) -> Option<&str> {
        let auth = url_param(url, "urlauth")?;
        let mut fields = auth.splitn(3, ':');
        let (_access, mechanism, token) = (fields.next()?, fields.next()?, fields.next()?);
        mechanism
            .eq_ignore_ascii_case("internal")
            .then_some(token)
            .filter(|t| !t.is_empty())
    }

    /// The reference's section as part numbers and what of the part
    /// (`1.2.MIME` is `[1, 2]`, MIME; RFC 5092 `section`); no section is
    /// the whole message. `None` for a form not supported here
    /// (`HEADER.FIELDS`).
    pub fn section_spec(&self) -> Option<(Vec<u32>, SectionText)> {
        match self.section.as_deref() {
            None => Some((Vec::new(), SectionText::Body)),
            Some(section) => crate::section::parse_section(section),
        }
    }

    /// The bytes of the object the reference names, as IMAP FETCH
    /// `BODY[section]` returns them (RFC 3501 6.4.5), and their media
    /// type: the whole object (`message/rfc822`), a numbered part's body
    /// (its own type), or a `HEADER` / `TEXT` / `MIME` block (`text/plain`),
    /// resolved by [`crate::section::section_range`], as FETCH does.
    /// `None` for a section the object does not have or a form not
    /// supported here (`HEADER.FIELDS`).
    pub fn content_range(
        &self,
        summary: &MessageSummary,
        size: u64,
    ) -> Option<(std::ops::Range<u64>, String)> {
        crate::section::message_range(summary, size, self.section.as_deref())
    }
}

/// Removes the references into a folder (folder removal, RESETKEY).
pub(crate) fn purge_folder_references(txn: &mut Txn<'_>, folder: FolderId) -> Result<()> {
    for (k, r) in txn.load_all::<Reference>(&keys::references())? {
        if r.folder == folder {
            txn.delete(k);
            txn.delete(keys::reference_url(&r.token));
        }
    }
    Ok(())
}

impl Store {
    /// Operation "generate reference" (GENURLAUTH; SIP deposit replies):
    /// a reference to `uid` (and `section`) in `folder`, bound to the URL
    /// `url` gives; returns it with its whole URLAUTH URL
    /// (`...;URLAUTH=access:internal:token`), the only URL a fetch by
    /// reference accepts for it (RFC 4467 3, RFC 5092).
    ///
    /// Rights: `r` on the folder. Errors: [`StoreError::NoSuchObject`] and
    /// those of resolving the folder.
    #[allow(clippy::too_many_arguments)]
    pub async fn generate_reference(
        &self,
        principal: &Principal,
        folder: &FolderRef,
        uid: Uid,
        section: Option<String>,
        expires: Option<UnixTime>,
        access: ReferenceAccess,
        url: ReferenceUrl,
    ) -> Result<(Reference, String)> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let (principal, folder) = (principal.clone(), folder.clone());
        self.write(move |txn| {
            let a = resolve(txn, &principal, &folder)?;
            a.require(Right::Read)?;
            if txn.get_raw(&keys::object(a.folder.id, uid))?.is_none() {
                return Err(StoreError::NoSuchObject);
            }
            let reference = Reference {
                token: token.clone(),
                account: a.folder.owner,
                folder: a.folder.id,
                uid_validity: a.folder.uid_validity,
                uid,
                section,
                expires,
                access,
            };
            let whole = match url {
                ReferenceUrl::Given(given) => format!("{given}:internal:{token}"),
                ReferenceUrl::Built { host, folder } => {
                    reference.url(&host, &principal.login, &folder)
                }
            };
            txn.put(keys::reference(&token), &reference)?;
            txn.put(
                keys::reference_url(&token),
                &authorized_part(&whole).to_string(),
            )?;
            Ok((reference, whole))
        })
        .await
    }

    /// Revokes every reference into a folder (RFC 4467 RESETKEY).
    ///
    /// Rights: `r`.
    pub async fn revoke_references(&self, principal: &Principal, folder: &FolderRef) -> Result<()> {
        let (principal, folder) = (principal.clone(), folder.clone());
        self.write(move |txn| {
            let a = resolve(txn, &principal, &folder)?;
            a.require(Right::Read)?;
            purge_folder_references(txn, a.folder.id)
        })
        .await
    }

    /// Operation "fetch by reference" (URLFETCH; SIP MESSAGE carrying a
    /// reference): the object the URLAUTH URL `url` names, its summary and
    /// the reference, for `requester` (`None` = an unauthenticated trusted
    /// element). The URL must be exactly the one generated (RFC 4467 3,
    /// RFC 5092): its authorized part (mailbox, user, host, UIDVALIDITY,
    /// UID, section, expiry, access) and token are compared whole, in
    /// constant time, so an edited URL is refused.
    ///
    /// Errors: [`StoreError::InvalidReference`] for an unknown, edited,
    /// expired, revoked or foreign reference, or one whose object is gone
    /// (references generated before URLs were recorded are refused too).
    pub async fn fetch_by_reference(
        &self,
        requester: Option<&Principal>,
        url: &str,
    ) -> Result<(Reference, Object, MessageSummary)> {
        use subtle::ConstantTimeEq;
        let token = Reference::token_in_url(url).ok_or(StoreError::InvalidReference)?;
        let snap = self.snapshot()?;
        let reference: Reference = snap
            .load(&keys::reference(token))?
            .ok_or(StoreError::InvalidReference)?;
        let generated: String = snap
            .load(&keys::reference_url(token))?
            .ok_or(StoreError::InvalidReference)?;
        let same_url = generated.as_bytes().ct_eq(authorized_part(url).as_bytes());
        let same_token = reference.token.as_bytes().ct_eq(token.as_bytes());
        if !bool::from(same_url & same_token) {
            return Err(StoreError::InvalidReference);
        }
        if reference.expires.is_some_and(|e| e <= now()) {
            return Err(StoreError::InvalidReference);
        }
        let allowed = match (&reference.access, requester) {
            (ReferenceAccess::Anonymous, _) => true,
            (ReferenceAccess::AuthenticatedUser, Some(_)) => true,
            (ReferenceAccess::User(l) | ReferenceAccess::Submit(l), Some(p)) => &p.login == l,
            _ => false,
        };
        if !allowed {
            return Err(StoreError::InvalidReference);
        }
        let folder: crate::model::Folder = snap
            .load(&keys::folder(reference.account, reference.folder))?
            .ok_or(StoreError::InvalidReference)?;
        if folder.uid_validity != reference.uid_validity {
            return Err(StoreError::InvalidReference);
        }
        let object: Object = snap
            .load(&keys::object(reference.folder, reference.uid))?
            .ok_or(StoreError::InvalidReference)?;
        let summary = snap
            .load(&keys::blob_summary(&object.blob))?
            .unwrap_or_default();
        Ok((reference, object, summary))
    }

    /// Opens the content of an object found by reference.
    pub async fn open_blob(&self, object: &Object) -> Result<crate::blob::BlobReader> {
        self.blob_reader(&object.blob).await
    }
}
