//! Where an import or export reads and writes: the store's files (server
//! down) or the running server's admin endpoint (server up). The store
//! operations both use are the functions of this module: the admin
//! endpoint's routes (`super::routes`) call them on the server's store.

use anyhow::{Context, Result};
use store_core::model::Flags;
use store_core::{FolderRef, NewObject, Principal, Store, StoreError};
use tokio::io::AsyncReadExt;

use super::client::AdminClient;
use super::{Incoming, ListPage, Listed};
use crate::config::Config;

/// The account an import or export works on, and how it is reached.
pub enum Target {
    /// The store's files, opened by this process.
    Local {
        /// The store.
        store: Store,
        /// The administrator acting on the account.
        principal: Principal,
    },
    /// The running server, through its admin endpoint.
    Remote {
        /// The admin endpoint.
        client: AdminClient,
        /// The account's login.
        login: String,
    },
}

impl Target {
    /// The running server when `<data_dir>/admin.token` exists and an
    /// admin listener answers; else the store's files (which must exist:
    /// an import never creates a store).
    ///
    /// Errors: no such account; the store cannot be opened.
    pub async fn connect(config: &Config, login: &str) -> Result<Target> {
        if let Some(client) = AdminClient::find(config).await? {
            // A cheap request that fails for an unknown login.
            client
                .get_json::<Vec<String>>("/transfer/folders", &[("login", login)])
                .await?;
            return Ok(Target::Remote {
                client,
                login: login.to_string(),
            });
        }
        let store = crate::serve::open_existing_store(config, false)?;
        match store.administrator(login).await {
            Ok(principal) => Ok(Target::Local { store, principal }),
            Err(e) => {
                store.close().await;
                Err(anyhow::Error::new(e).context(format!("account {login}")))
            }
        }
    }

    /// Closes the store when this process opened it.
    pub async fn close(&self) {
        if let Target::Local { store, .. } = self {
            store.close().await;
        }
    }

    /// Creates `folder` and its parents where missing.
    pub async fn ensure_folder(&self, folder: &str) -> Result<()> {
        match self {
            Target::Local { store, principal } => {
                Ok(ensure_folder(store, principal, folder).await?)
            }
            Target::Remote { client, login } => {
                client
                    .post_empty("/transfer/folder", &[("login", login), ("folder", folder)])
                    .await
            }
        }
    }

    /// The account's own folders, by name.
    pub async fn folders(&self) -> Result<Vec<String>> {
        match self {
            Target::Local { store, principal } => Ok(folders(store, principal).await?),
            Target::Remote { client, login } => {
                client
                    .get_json("/transfer/folders", &[("login", login)])
                    .await
            }
        }
    }

    /// The messages of `folder` with a UID above `after`, a page at a time.
    pub async fn list(&self, folder: &str, after: u32) -> Result<ListPage> {
        match self {
            Target::Local { store, principal } => {
                Ok(list_page(store, principal, folder, after).await?)
            }
            Target::Remote { client, login } => {
                client
                    .get_json(
                        "/transfer/list",
                        &[
                            ("login", login),
                            ("folder", folder),
                            ("after", &after.to_string()),
                        ],
                    )
                    .await
            }
        }
    }

    /// Stores one message, streamed from its file, through the store's
    /// "object store" operation; returns once it is durable.
    pub async fn append(&self, folder: &str, incoming: &Incoming<'_>) -> Result<()> {
        match self {
            Target::Local { store, principal } => {
                let mut file = tokio::fs::File::open(incoming.path).await?;
                let mut writer = store.blob_writer().await?;
                let mut buffer = vec![0u8; 256 * 1024];
                loop {
                    let n = file.read(&mut buffer).await?;
                    if n == 0 {
                        break;
                    }
                    writer.write(&buffer[..n]).await?;
                }
                let blob = writer.finish().await?;
                store_message(
                    store,
                    principal,
                    folder,
                    &incoming.meta.flags,
                    incoming.meta.internal_date,
                    blob,
                )
                .await
                .map(|_| ())
                .with_context(|| format!("cannot store a message in {folder}"))
            }
            Target::Remote { client, login } => {
                let flags = incoming.meta.flags.join(" ");
                let date = incoming
                    .meta
                    .internal_date
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                client
                    .post_file(
                        "/transfer/append",
                        &[
                            ("login", login),
                            ("folder", folder),
                            ("flags", &flags),
                            ("date", &date),
                        ],
                        incoming.path,
                        incoming.size,
                    )
                    .await
                    .with_context(|| format!("cannot store a message in {folder}"))
            }
        }
    }

    /// Copies the bytes of the message `listed` of `folder` into `out`.
    pub async fn read(&self, folder: &str, listed: &Listed, out: &mut std::fs::File) -> Result<()> {
        match self {
            Target::Local { store, principal } => {
                let mut reader = store
                    .open_content(principal, &FolderRef::own(folder), listed.uid)
                    .await?;
                let mut file = tokio::fs::File::from_std(out.try_clone()?);
                tokio::io::copy(&mut reader, &mut file).await?;
                Ok(())
            }
            Target::Remote { client, login } => {
                let mut offset = 0u64;
                while offset < listed.size {
                    let length = (listed.size - offset).min(super::routes::MAX_CHUNK);
                    let bytes = client
                        .get_bytes(
                            "/transfer/message",
                            &[
                                ("login", login),
                                ("folder", folder),
                                ("uid", &listed.uid.to_string()),
                                ("offset", &offset.to_string()),
                                ("length", &length.to_string()),
                            ],
                        )
                        .await?;
                    if bytes.is_empty() {
                        anyhow::bail!("message {} of {folder} ended early", listed.uid);
                    }
                    std::io::Write::write_all(out, &bytes)?;
                    offset += bytes.len() as u64;
                }
                Ok(())
            }
        }
    }
}

/// Creates `folder` and each missing parent (`A`, then `A/B`).
pub async fn ensure_folder(
    store: &Store,
    principal: &Principal,
    folder: &str,
) -> Result<(), StoreError> {
    let mut name = String::new();
    for part in folder.split('/') {
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str(part);
        match store
            .create_folder(principal, &FolderRef::own(name.clone()), None)
            .await
        {
            Ok(_) | Err(StoreError::FolderExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The principal's own folders, by name.
pub async fn folders(store: &Store, principal: &Principal) -> Result<Vec<String>, StoreError> {
    Ok(store
        .list_folders(principal)
        .await?
        .into_iter()
        .filter(|f| f.owner.is_none())
        .map(|f| f.folder.name)
        .collect())
}

/// A page of [`store_core::MAX_BATCH`] messages of `folder` above UID
/// `after`.
pub async fn list_page(
    store: &Store,
    principal: &Principal,
    folder: &str,
    after: u32,
) -> Result<ListPage, StoreError> {
    let page = store
        .objects_after(
            principal,
            &FolderRef::own(folder),
            after,
            store_core::MAX_BATCH,
        )
        .await?;
    Ok(ListPage {
        more: page.more,
        objects: page
            .objects
            .into_iter()
            .map(|o| Listed {
                uid: o.object.uid,
                size: o.object.size,
                internal_date: o.object.internal_date,
                flags: o.object.flags.iter().map(str::to_string).collect(),
                message_id: o.summary.envelope.message_id.map(|m| m.trim().to_string()),
                sha256: o.object.blob.to_hex(),
            })
            .collect(),
    })
}

/// Stores a staged message with its flags and INTERNALDATE through the
/// store's "object store" operation (as IMAP APPEND: rights, quota,
/// durable on return). Returns its UID.
pub async fn store_message(
    store: &Store,
    principal: &Principal,
    folder: &str,
    flags: &[String],
    internal_date: Option<i64>,
    blob: store_core::blob::StagedBlob,
) -> Result<u32, StoreError> {
    let mut set = Flags::new();
    for flag in flags {
        if !flag.eq_ignore_ascii_case("\\Recent") {
            set.insert(flag);
        }
    }
    let mut object = NewObject::new(blob);
    object.flags = set;
    object.internal_date = internal_date;
    Ok(store
        .store_object(principal, &FolderRef::own(folder), object)
        .await?
        .uid)
}
