//! RFC 3261 section 17 non-INVITE transactions: the server side for every
//! request received ([`server`]), the client side for the MESSAGE and
//! NOTIFY requests the store sends ([`client`]).

pub mod client;
pub mod server;

pub use client::{ClientError, ClientTransactions};
pub use server::{Begin, ServerTransactions, TransactionKey};
