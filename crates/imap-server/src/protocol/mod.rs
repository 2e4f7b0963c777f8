//! The IMAP protocol, independent of the store's behaviour: reading
//! commands off the wire, their grammar, and rendering responses.

pub mod command;
pub mod grammar;
pub mod mutf7;
pub mod reader;
pub mod response;
pub mod sequence;
pub mod url;
