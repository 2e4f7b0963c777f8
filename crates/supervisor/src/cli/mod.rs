//! The administration commands, one module per command group, each
//! holding its arguments and what it does on the store (the same code
//! runs in the server, through the admin endpoint, and on the files):
//! `account show` ([`show`]), `folder` ([`folder`]), `expunge`
//! ([`expunge`]), `check` ([`check`]), `health` ([`health`]).

pub mod check;
pub mod expunge;
pub mod folder;
pub mod health;
pub mod show;
