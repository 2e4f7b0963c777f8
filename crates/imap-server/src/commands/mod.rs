//! Command handlers, one module per command (or per pair of commands that
//! RFC 3501 defines together). Each takes the session and the parsed
//! arguments, appends untagged responses to `session.out`, and returns the
//! tagged completion. State checks happen before, in the session.

pub mod acl;
pub mod annotate;
pub mod append;
pub mod authenticate;
pub mod capability;
pub mod catenate;
pub mod close;
pub mod compress;
pub mod context;
pub mod convert;
pub mod copy;
pub mod create;
pub mod delete;
pub mod enable;
pub mod expunge;
pub mod fetch;
pub mod id;
pub mod idle;
pub mod list;
pub mod login;
pub mod logout;
pub mod metadata;
pub mod namespace;
pub mod noop;
pub mod notify;
pub mod quota;
pub mod rename;
pub mod search;
pub mod select;
pub mod sort;
pub mod starttls;
pub mod status;
pub mod store;
pub mod subscribe;
pub mod thread;
pub mod unauthenticate;
pub mod urlauth;

use crate::protocol::command::Command;
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::names;
use crate::session::Session;
use store_core::{FolderRef, Principal};

/// Turns CONDSTORE on for a CONDSTORE enabling command (RFC 7162 3.1).
/// The first one in the selected state also gets `* OK [HIGHESTMODSEQ]`,
/// which the session sends after the command's own responses.
pub fn enable_condstore(session: &mut Session) {
    session.enabled.condstore = true;
}

/// Runs `command` in `session`.
pub async fn execute(session: &mut Session, tag: &str, command: Command) -> CommandResult {
    match command {
        Command::Capability => capability::execute(session),
        Command::Noop | Command::Check => noop::execute(session),
        Command::Logout => logout::execute(session),
        Command::Unauthenticate => unauthenticate::execute(session),
        Command::StartTls => starttls::execute(session),
        Command::Compress { mechanism } => compress::execute(session, &mechanism),
        Command::Authenticate {
            mechanism,
            initial_response,
        } => authenticate::execute(session, &mechanism, initial_response).await,
        Command::Login { user, password } => {
            use secrecy::ExposeSecret;
            login::execute(session, &user, password.expose_secret()).await
        }
        Command::Select {
            mailbox,
            read_only,
            condstore,
            qresync,
        } => select::execute(session, &mailbox, read_only, condstore, qresync.as_ref()).await,
        Command::Create {
            mailbox,
            special_use,
        } => create::execute(session, &mailbox, special_use.as_deref()).await,
        Command::Delete { mailbox } => delete::execute(session, &mailbox).await,
        Command::Rename { from, to } => rename::execute(session, &from, &to).await,
        Command::Subscribe { mailbox, subscribe } => {
            subscribe::execute(session, &mailbox, subscribe).await
        }
        Command::List {
            reference,
            patterns,
            lsub,
            options,
        } => list::execute(session, &reference, &patterns, lsub, &options).await,
        Command::Acl(acl) => acl::execute(session, acl).await,
        Command::Quota(quota) => quota::execute(session, quota).await,
        Command::UrlAuth(urlauth) => urlauth::execute(session, urlauth).await,
        Command::Notify(spec) => notify::execute(session, spec).await,
        Command::StoreAnnotation {
            set,
            annotations,
            uid,
        } => annotate::store(session, &set, annotations, uid).await,
        Command::Convert { set, items, uid } => {
            convert::execute(session, tag, &set, &items, uid).await
        }
        Command::Conversions { source, target } => convert::conversions(session, &source, &target),
        Command::GetMetadata {
            mailbox,
            entries,
            max_size,
            depth,
        } => metadata::get(session, &mailbox, &entries, max_size, depth).await,
        Command::SetMetadata { mailbox, entries } => {
            metadata::set(session, &mailbox, entries).await
        }
        Command::Status { mailbox, items } => status::execute(session, &mailbox, &items).await,
        Command::Append {
            mailbox,
            flags,
            date,
            message,
        } => append::execute(session, &mailbox, flags, date, message).await,
        Command::Catenate { mailbox, messages } => {
            catenate::execute(session, &mailbox, messages).await
        }
        Command::MultiAppend { mailbox, messages } => {
            append::execute_multi(session, &mailbox, messages).await
        }
        Command::Close => close::execute(session, true).await,
        Command::Unselect => close::execute(session, false).await,
        Command::Expunge { uids } => expunge::execute(session, uids.as_ref()).await,
        Command::Search {
            returns,
            charset,
            criteria,
            uid,
        } => {
            let request = search::SearchRequest {
                tag,
                returns: returns.as_deref(),
                charset: charset.as_deref(),
                criteria: &criteria,
                uid,
            };
            search::execute(session, request).await
        }
        Command::Sort {
            returns,
            criteria,
            charset,
            search,
            uid,
        } => {
            let request = sort::SortRequest {
                tag,
                returns: returns.as_deref(),
                criteria: &criteria,
                charset: &charset,
                search: &search,
                uid,
            };
            sort::execute(session, request).await
        }
        Command::Thread {
            algorithm,
            charset,
            search,
            uid,
        } => thread::execute(session, algorithm, &charset, &search, uid).await,
        Command::CancelUpdate { tags } => context::cancel_update(session, &tags),
        Command::Fetch {
            set,
            items,
            uid,
            changed_since,
            vanished,
        } => {
            let request = fetch::FetchRequest {
                set: &set,
                items: &items,
                uid,
                changed_since,
                vanished,
            };
            fetch::execute(session, request).await
        }
        store @ Command::Store { .. } => match store::StoreRequest::of(&store) {
            Some(request) => store::execute(session, request).await,
            None => Ok(Completion::bad("Not a STORE")),
        },
        Command::Copy {
            set,
            mailbox,
            uid,
            remove_source,
        } => copy::execute(session, &set, &mailbox, uid, remove_source).await,
        Command::Idle => idle::execute(session).await,
        Command::Enable { capabilities } => enable::execute(session, &capabilities),
        Command::Namespace => namespace::execute(session),
        Command::Id { parameters } => id::execute(session, parameters),
    }
}

/// The folder a mailbox name stands for.
///
/// Errors: NO [NONEXISTENT] for a level of the shared namespace.
pub fn folder_of(name: &str) -> Result<FolderRef, Completion> {
    if crate::protocol::mutf7::is_invalid(name) {
        return Err(Completion::no("Mailbox name is not valid modified UTF-7").with_code("CANNOT"));
    }
    names::folder_ref(name)
        .ok_or_else(|| Completion::no("No such mailbox").with_code("NONEXISTENT"))
}

/// The authenticated principal; the session checks the state before any
/// handler that needs one runs.
pub fn principal(session: &Session) -> Result<Principal, Completion> {
    session
        .principal
        .clone()
        .ok_or_else(|| Completion::bad("Not authenticated"))
}
