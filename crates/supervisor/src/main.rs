//! `cpm-store`: the supervisor binary. It loads one TOML configuration, runs
//! every front end over the shared store, and administers accounts.

mod acceptor;
mod account;
mod admin;
mod cli;
mod config;
mod logging;
mod metrics;
mod serve;
mod tls;
mod transfer;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::admin::AccountRequest;
use crate::config::Config;

/// The process's allocator: mimalloc. With glibc's, memory freed by
/// transient large buffers (a SELECT of 100,000 messages, a burst of
/// logins) stayed with the process, scattered in per-thread arenas,
/// and LIST of 10,000 folders spent a third of its time in malloc and
/// free (issue 16, BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A network message and media store for OMA CPM (IMAP, WebDAV, SIP).
#[derive(Parser)]
#[command(name = "cpm-store", version)]
struct Cli {
    /// Configuration file (TOML); without it, the documented defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Overrides `[store] data_dir`.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log as JSON lines (overrides `[log] format`).
    #[arg(long, global = true)]
    log_json: bool,
    /// Create the data directory if it does not exist (only `serve` does
    /// otherwise; every other command refuses a missing one).
    #[arg(long, global = true)]
    create: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server until SIGTERM or SIGINT.
    Serve,
    /// Administer accounts (works with the server up or down).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Administer an account's folders (works with the server up or down).
    #[command(subcommand)]
    Folder(cli::folder::FolderCommand),
    /// Expunge a folder's objects stored before a date (works with the
    /// server up or down); prints how many.
    Expunge(cli::expunge::ExpungeArgs),
    /// Validate the configuration and print the effective settings.
    Check(cli::check::CheckArgs),
    /// Exit 0 when the running server's /healthz answers 200 (5 s at most).
    Health,
    /// Import an mbox file or a Maildir into an account (flags and
    /// INTERNALDATE kept; a message already there is skipped).
    Import(transfer::ImportArgs),
    /// Export an account's folders as mbox files or a Maildir.
    Export(transfer::ExportArgs),
    /// Copy the store (only the store: not admin.token, TLS keys or the
    /// configuration) into DIR, consistently, while the server runs or not.
    Backup(transfer::backup::BackupArgs),
    /// Restore a backup into an empty data directory (server down).
    Restore(transfer::backup::RestoreArgs),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Add an account; the password is read from standard input.
    Add {
        /// Login name.
        login: String,
        /// CPM address, e.g. sip:alice@example.com or tel:+15551234567.
        #[arg(long)]
        address: Option<String>,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Change an account's password, read from standard input.
    Passwd {
        /// Login name.
        login: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List accounts: login and CPM address.
    List,
    /// Show an account: CPM address, quota use and limits, folder and
    /// object counts, last login (to the hour).
    Show {
        /// Login name.
        login: String,
    },
    /// Remove an account with everything it stores.
    Remove {
        /// Login name.
        login: String,
    },
    /// Make a reference to one object (RFC 4467 URLAUTH semantics) and
    /// print its URL: what SIP fetch by reference and IMAP URLFETCH take.
    Reference {
        /// The owner's login.
        login: String,
        /// The folder.
        #[arg(long)]
        folder: String,
        /// The object's UID.
        #[arg(long)]
        uid: u32,
        /// An IMAP section (1, 1.2, HEADER, TEXT); the whole object if absent.
        #[arg(long)]
        section: Option<String>,
        /// Lifetime in seconds; none if absent.
        #[arg(long)]
        expires_in: Option<i64>,
        /// Who may use it: anonymous, authuser, user or submit.
        #[arg(long, default_value = "anonymous")]
        access: String,
    },
    /// Show an account's storage use and limits (RFC 9208 STORAGE and
    /// MESSAGE); with `--max-bytes` / `--max-objects` set the limits
    /// (the one not given becomes unlimited), with `--unlimited` lift
    /// them. Prints the use and the limits in force.
    Quota {
        /// Login name.
        login: String,
        /// Most bytes of objects.
        #[arg(long, conflicts_with = "unlimited")]
        max_bytes: Option<u64>,
        /// Most objects.
        #[arg(long, conflicts_with = "unlimited")]
        max_objects: Option<u64>,
        /// Lift both limits.
        #[arg(long)]
        unlimited: bool,
    },
    /// Issue an access token for HTTP clients (NMS, WebDAV:
    /// `Authorization: Bearer`, RFC 6750) and print it (shown once; only
    /// its hash is stored); or list or revoke the account's tokens.
    Token {
        /// Login name.
        login: String,
        /// A note kept with the new token (who or what it is for).
        #[arg(long, conflicts_with_all = ["list", "revoke"])]
        label: Option<String>,
        /// List the tokens (id, issued, label) instead.
        #[arg(long, conflicts_with = "revoke")]
        list: bool,
        /// Revoke the token with this id (`all`: every one) instead.
        #[arg(long)]
        revoke: Option<String>,
    },
    /// Revoke every reference into a folder (as IMAP RESETKEY does).
    RevokeReferences {
        /// The owner's login.
        login: String,
        /// The folder.
        #[arg(long)]
        folder: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    // Every file and directory this process creates is its user's only
    // (the data directory holds every message and the password hashes);
    // store-core also creates with explicit modes.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    // The one TLS provider of the process, for the TLS clients too (NMS
    // notification delivery): ring, as the listeners use.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let mut config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(dir) = cli.data_dir {
        config.store.data_dir = dir;
    }
    logging::init(&config, cli.log_json);
    match cli.command {
        Command::Serve => serve::run(config).await,
        Command::Import(args) => transfer::import(&config, args).await,
        Command::Export(args) => transfer::export(&config, args).await,
        Command::Backup(args) => transfer::backup::backup(&config, args).await,
        Command::Restore(args) => transfer::backup::restore(&config, args).await,
        Command::Check(args) => {
            // Loading the file above validated it. A header comment says
            // what was read, as doveconf's does.
            let source = cli.config.as_ref().map_or_else(
                || "no file (the defaults)".to_string(),
                |p| p.display().to_string(),
            );
            let which = if args.all {
                "every setting"
            } else {
                "the settings that differ from the defaults"
            };
            println!(
                "# cpm-store {}: {source}; {which}",
                env!("CARGO_PKG_VERSION")
            );
            print!("{}", cli::check::effective(&config, args.all)?);
            Ok(())
        }
        Command::Health => {
            let addr = config
                .admin
                .listen
                .first()
                .ok_or_else(|| anyhow::anyhow!("[admin] listen is empty: nothing to ask"))?;
            let body = cli::health::check(*addr).await?;
            print!("{body}");
            Ok(())
        }
        Command::Folder(cmd) => {
            account::run(&config, AccountRequest::Folder(cmd), cli.create).await
        }
        Command::Expunge(args) => {
            account::run(&config, AccountRequest::Expunge(args), cli.create).await
        }
        Command::Account(cmd) => {
            let request = match cmd {
                AccountCommand::Add { login, address, .. } => AccountRequest::Add {
                    login,
                    address,
                    password: account::read_password()?,
                },
                AccountCommand::Passwd { login, .. } => AccountRequest::Passwd {
                    login,
                    password: account::read_password()?,
                },
                AccountCommand::List => AccountRequest::List,
                AccountCommand::Show { login } => AccountRequest::Show { login },
                AccountCommand::Remove { login } => AccountRequest::Remove { login },
                AccountCommand::Reference {
                    login,
                    folder,
                    uid,
                    section,
                    expires_in,
                    access,
                } => AccountRequest::Reference {
                    login,
                    folder,
                    uid,
                    section,
                    expires_in,
                    access,
                    host: config
                        .imap
                        .listen
                        .first()
                        .map_or_else(|| "localhost".to_string(), |a| a.to_string()),
                },
                AccountCommand::Quota {
                    login,
                    max_bytes,
                    max_objects,
                    unlimited,
                } => AccountRequest::Quota {
                    login,
                    limits: (unlimited || max_bytes.is_some() || max_objects.is_some()).then_some(
                        store_core::model::QuotaLimits {
                            max_bytes,
                            max_objects,
                        },
                    ),
                },
                AccountCommand::Token {
                    login,
                    label,
                    list,
                    revoke,
                } => AccountRequest::Token {
                    login,
                    label,
                    list,
                    revoke,
                },
                AccountCommand::RevokeReferences { login, folder } => {
                    AccountRequest::RevokeReferences { login, folder }
                }
            };
            account::run(&config, request, cli.create).await
        }
    }
}
