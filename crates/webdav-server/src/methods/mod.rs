//! One handler per HTTP method (RFC 4918 section 9), each reading the
//! request and answering through store-core.

pub mod copy_move;
pub mod delete;
pub mod get;
pub mod lock;
pub mod mkcol;
pub mod options;
pub mod propfind;
pub mod proppatch;
pub mod put;
pub mod report;
pub mod unlock;
