//! nom grammars for RFC 3501 section 9 (Formal Syntax), applied to a
//! command the reader has already assembled. `primitives` holds the shared
//! productions; each command family has its own module.

mod commands;
mod fetch;
mod primitives;
mod search;

use nom::error::{ErrorKind, ParseError};

pub use commands::parse_request;

/// Why a command did not parse: a reason for the BAD response when one is
/// more useful than "syntax error".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrammarError {
    /// A specific reason, if any production gave one.
    pub reason: Option<&'static str>,
}

impl GrammarError {
    /// A failure that stops parsing with `reason`.
    pub fn fail<T>(reason: &'static str) -> Result<T, nom::Err<GrammarError>> {
        Err(nom::Err::Failure(GrammarError {
            reason: Some(reason),
        }))
    }
}

impl<I> ParseError<I> for GrammarError {
    fn from_error_kind(_: I, _: ErrorKind) -> Self {
        GrammarError { reason: None }
    }

    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        if self.reason.is_some() {
            self
        } else {
            other
        }
    }
}

/// The result type of every production.
pub type PResult<'a, T> = nom::IResult<&'a [u8], T, GrammarError>;

/// A command that did not parse, with its tag when it had a valid one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCommand {
    /// The tag, for a tagged BAD; `None` means an untagged `* BAD`.
    pub tag: Option<String>,
    /// What to tell the client.
    pub reason: String,
}
