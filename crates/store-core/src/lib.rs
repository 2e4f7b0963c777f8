//! store-core: the CPM message and media store shared by every front end.
//!
//! - [`Store`] is the public API: the operations of seed 002 (5.5.1), each
//!   taking the authenticated [`model::Principal`] and checking rights once,
//!   for every protocol.
//! - [`model`] holds the data model of ARCHITECTURE.md in IMAP's terms.
//! - [`engine`] is the narrow storage trait and its redb implementation;
//!   [`blob`] keeps contents as content-addressed files beside it.
//! - [`mime`] parses contents once into the summary FETCH and SEARCH use;
//!   [`search`] evaluates RFC 3501 search keys against it.
//!
//! Durability: every write goes through one writer thread that batches
//! concurrent operations into one commit (group commit); an operation's
//! future resolves only after its commit is on disk.

pub mod blob;
mod changes;
pub mod conversation;
pub mod dates;
pub mod engine;
pub mod error;
pub mod keys;
pub mod macos;
pub mod mime;
pub mod model;
pub mod names;
pub mod objectid;
pub mod password;
mod preview_cache;
pub mod retention;
pub mod rights;
pub mod scram;
pub mod search;
pub mod section;
pub mod sort;
mod store;
pub mod telemetry;
pub mod thread;
pub mod throttle;
mod writer;

pub use error::{MetadataLimit, Result, StoreError};
pub use model::Principal;
pub use store::*;
pub use writer::CommitStats;
