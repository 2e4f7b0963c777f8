//! One module per NMS resource (TS 6.1–6.16), each with the handlers of
//! the methods the resource takes; [`crate::service`] routes to them.

pub mod channels;
pub mod flag;
pub mod flags;
pub mod folder;
pub mod folder_name;
pub mod folder_operations;
pub mod folders;
pub mod object;
pub mod object_operations;
pub mod objects;
pub mod payload;
pub mod subscriptions;
