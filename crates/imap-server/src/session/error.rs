//! How a command handler fails: the connection broke, or the command is
//! refused with a NO/BAD completion (store errors become RFC 5530 codes).

use store_core::{MetadataLimit, StoreError};

use crate::protocol::response::Completion;

/// A command handler's failure.
#[derive(Debug)]
pub enum CommandError {
    /// The connection failed; the session ends.
    Io(std::io::Error),
    /// The command is refused with this completion; the session goes on.
    Refused(Completion),
}

/// What a command handler returns: its tagged completion.
pub type CommandResult = Result<Completion, CommandError>;

impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        CommandError::Io(e)
    }
}

impl From<Completion> for CommandError {
    fn from(c: Completion) -> Self {
        CommandError::Refused(c)
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        CommandError::Refused(refusal(&e))
    }
}

/// The NO (or BAD) completion for a store error, with its RFC 5530 code.
pub fn refusal(e: &StoreError) -> Completion {
    match e {
        StoreError::NoSuchFolder => Completion::no("No such mailbox").with_code("NONEXISTENT"),
        StoreError::FolderExists => {
            Completion::no("Mailbox already exists").with_code("ALREADYEXISTS")
        }
        StoreError::NoSuchObject => Completion::no("No such message").with_code("NONEXISTENT"),
        StoreError::AdminOnly(what) => {
            Completion::no(format!("Only an administrator may do this: {what}")).with_code("NOPERM")
        }
        StoreError::PermissionDenied(right) => Completion::no(format!(
            "Permission denied (right '{}' required)",
            right.letter()
        ))
        .with_code("NOPERM"),
        // RFC 5530 3: NOPERM, the mailbox is the network's (RCS layout).
        StoreError::ReservedFolder(name) => Completion::no(format!(
            "{name} is written only by trusted network elements"
        ))
        .with_code("NOPERM"),
        StoreError::NotTrustedElement => {
            Completion::no("Cannot act as another user").with_code("AUTHORIZATIONFAILED")
        }
        StoreError::InvalidName(why) => {
            Completion::no(format!("Invalid mailbox name: {why}")).with_code("CANNOT")
        }
        StoreError::NotAllowed(why) => Completion::no(why.to_string()).with_code("CANNOT"),
        StoreError::OverQuota => Completion::no("Quota exceeded").with_code("OVERQUOTA"),
        StoreError::AuthenticationFailed | StoreError::NoSuchAccount => {
            Completion::no("Authentication failed").with_code("AUTHENTICATIONFAILED")
        }
        StoreError::LoginThrottled { retry_after } => Completion::no(format!(
            "Too many failed logins; try again in {} s",
            store_core::throttle::retry_after_seconds(*retry_after)
        ))
        .with_code("UNAVAILABLE"),
        StoreError::Busy(what) => Completion::no(format!("Server busy ({what}); try again later"))
            .with_code("UNAVAILABLE"),
        StoreError::InvalidArgument(why) => Completion::bad(why.to_string()),
        StoreError::MetadataLimit(MetadataLimit::ValueTooLarge { max }) => {
            Completion::no("Value too large").with_code(format!("METADATA MAXSIZE {max}"))
        }
        StoreError::MetadataLimit(MetadataLimit::TooManyEntries { .. }) => {
            Completion::no("Too many entries").with_code("METADATA TOOMANY")
        }
        StoreError::TooManyKeywords { max } => {
            Completion::no(format!("Too many keywords in the mailbox (at most {max})"))
                .with_code("LIMIT")
        }
        StoreError::ObjectExists => {
            Completion::no("A message of that name exists").with_code("ALREADYEXISTS")
        }
        StoreError::Locked { .. } => Completion::no("Locked by a WebDAV lock").with_code("INUSE"),
        StoreError::StorageFull => {
            tracing::warn!("command refused: the server's disk is full");
            // RFC 9208 5.3 / RFC 5530: OVERQUOTA also covers a full disk.
            Completion::no("Not enough disk space on the server; nothing was stored")
                .with_code("OVERQUOTA")
        }
        StoreError::Unavailable(why) => {
            tracing::warn!(error = %why, "command refused: storage unavailable");
            Completion::no("Storage unavailable, try again later").with_code("UNAVAILABLE")
        }
        StoreError::Unconvertible(why) => {
            Completion::no(format!("Cannot convert: {why}")).with_code("BADPARAMETERS")
        }
        other => {
            tracing::error!(error = %other, "store error");
            Completion::no("Internal error; try again later").with_code("SERVERBUG")
        }
    }
}
