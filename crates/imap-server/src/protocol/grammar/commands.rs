//! `command` (RFC 3501 9): tag, name, and each command's arguments.

use base64::Engine;
use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while1};
use nom::combinator::{map, opt, value};
use nom::multi::{many0, many1, separated_list0, separated_list1};
use nom::sequence::{delimited, preceded, separated_pair, terminated};
use nom::Parser;
use store_core::blob::StagedBlob;
use store_core::model::UnixTime;

use super::fetch::fetch_items;
use super::primitives::{
    astring, atom, date_time, flag, flag_list, list_mailbox, mailbox, nstring, number64, nz_number,
    sequence_set, sp, store_flags, streamed_literal, string, string_bytes,
};
use super::search::{partial_return, search_criteria, sort_criteria, thread_algorithm};
use super::{BadCommand, GrammarError, PResult};
use crate::protocol::command::{
    AclCommand, AppendData, AppendMessage, CatenateMessage, CatenatePart, Command, ConvertItem,
    EventGroup, ListOptions, MailboxFilter, NotifyEvent, NotifySpec, Qresync, QuotaCommand,
    Request, SearchReturn, StatusItem, StoreMode, UrlAuthCommand, UrlFetchParam,
};
use crate::protocol::reader::{is_tag_char, tag_of};

/// Parses a whole command. `blobs` are the literals the reader streamed
/// (APPEND messages); `max_depth` bounds parenthesized nesting.
///
/// Errors: a [`BadCommand`] to answer with BAD, with the tag when it had
/// one.
pub fn parse_request(
    text: &[u8],
    mut blobs: Vec<StagedBlob>,
    max_depth: usize,
) -> Result<Request, BadCommand> {
    let bad = |reason: &str| BadCommand {
        tag: tag_of(text),
        reason: reason.to_string(),
    };
    let Ok((rest, (tag, _, name))) = (take_while1(is_tag_char), sp, atom).parse(text) else {
        return Err(bad("expected a tag, a space and a command name"));
    };
    let tag = String::from_utf8_lossy(tag).into_owned();
    let name = name.to_ascii_uppercase();
    let parsed = match name.as_str() {
        "UID" => uid_command(rest, max_depth),
        // The grammar matches each literal (or CATENATE part) with a blob.
        "APPEND" => append(rest, std::mem::take(&mut blobs)),
        _ => command(&name, rest, max_depth),
    };
    match parsed {
        Ok((b"", command)) => Ok(Request { tag, command }),
        Ok(_) => Err(bad(&format!("unexpected characters after {name}"))),
        Err(nom::Err::Failure(GrammarError { reason: Some(r) }))
        | Err(nom::Err::Error(GrammarError { reason: Some(r) })) => {
            Err(bad(&format!("{name}: {r}")))
        }
        Err(_) => Err(bad(&format!("syntax error in {name} arguments"))),
    }
}

fn command<'a>(name: &str, i: &'a [u8], depth: usize) -> PResult<'a, Command> {
    let bare = |c: Command| -> PResult<'a, Command> { Ok((i, c)) };
    match name {
        "CAPABILITY" => bare(Command::Capability),
        "NOOP" => bare(Command::Noop),
        "LOGOUT" => bare(Command::Logout),
        "UNAUTHENTICATE" => bare(Command::Unauthenticate),
        "STARTTLS" => bare(Command::StartTls),
        "COMPRESS" => map(preceded(sp, atom), |mechanism| Command::Compress {
            mechanism,
        })
        .parse(i),
        "CHECK" => bare(Command::Check),
        "CLOSE" => bare(Command::Close),
        "UNSELECT" => bare(Command::Unselect),
        "EXPUNGE" => bare(Command::Expunge { uids: None }),
        "IDLE" => bare(Command::Idle),
        "NAMESPACE" => bare(Command::Namespace),
        "AUTHENTICATE" => authenticate(i),
        "LOGIN" => map((sp, astring, sp, astring), |(_, user, _, password)| {
            Command::Login {
                user,
                password: password.into(),
            }
        })
        .parse(i),
        "SELECT" | "EXAMINE" => select(i, name == "EXAMINE"),
        "CREATE" => create(i),
        "DELETE" => map(preceded(sp, mailbox), |mailbox| Command::Delete { mailbox }).parse(i),
        "RENAME" => map((sp, mailbox, sp, mailbox), |(_, from, _, to)| {
            Command::Rename { from, to }
        })
        .parse(i),
        "SUBSCRIBE" | "UNSUBSCRIBE" => map(preceded(sp, mailbox), |mailbox| Command::Subscribe {
            mailbox,
            subscribe: name == "SUBSCRIBE",
        })
        .parse(i),
        "LIST" => list(i),
        "LSUB" => map(
            (sp, mailbox, sp, list_mailbox),
            |(_, reference, _, pattern)| Command::List {
                reference,
                patterns: vec![pattern],
                lsub: true,
                options: ListOptions::default(),
            },
        )
        .parse(i),
        "STATUS" => status(i),
        "SETACL" => map(
            (sp, mailbox, sp, astring, sp, astring),
            |(_, mailbox, _, identifier, _, rights)| {
                Command::Acl(AclCommand::Set {
                    mailbox,
                    identifier,
                    rights,
                })
            },
        )
        .parse(i),
        "DELETEACL" | "LISTRIGHTS" => {
            map((sp, mailbox, sp, astring), |(_, mailbox, _, identifier)| {
                Command::Acl(if name == "DELETEACL" {
                    AclCommand::Delete {
                        mailbox,
                        identifier,
                    }
                } else {
                    AclCommand::ListRights {
                        mailbox,
                        identifier,
                    }
                })
            })
            .parse(i)
        }
        "GETMETADATA" => get_metadata(i),
        "SETMETADATA" => map(
            (sp, mailbox, sp, name_values),
            |(_, mailbox, _, entries)| Command::SetMetadata { mailbox, entries },
        )
        .parse(i),
        "GENURLAUTH" => map(
            many1(preceded(sp, separated_pair(astring, sp, atom))),
            |urls| {
                Command::UrlAuth(UrlAuthCommand::Generate {
                    urls: urls
                        .into_iter()
                        .map(|(u, m)| (u, m.to_ascii_uppercase()))
                        .collect(),
                })
            },
        )
        .parse(i),
        "RESETKEY" => map(
            opt(preceded(sp, (mailbox, many0(preceded(sp, atom))))),
            |m| {
                Command::UrlAuth(UrlAuthCommand::ResetKey {
                    mailbox: m.map(|(mailbox, _)| mailbox),
                })
            },
        )
        .parse(i),
        "URLFETCH" => map(many1(preceded(sp, url_fetch_param)), |urls| {
            Command::UrlAuth(UrlAuthCommand::Fetch { urls })
        })
        .parse(i),
        "GETQUOTA" => map(preceded(sp, astring), |root| {
            Command::Quota(QuotaCommand::Get { root })
        })
        .parse(i),
        "GETQUOTAROOT" => map(preceded(sp, mailbox), |mailbox| {
            Command::Quota(QuotaCommand::GetRoot { mailbox })
        })
        .parse(i),
        "SETQUOTA" => map(
            (
                sp,
                astring,
                sp,
                delimited(
                    tag(&b"("[..]),
                    separated_list0(sp, separated_pair(atom, sp, number64)),
                    tag(&b")"[..]),
                ),
            ),
            |(_, root, _, limits)| {
                Command::Quota(QuotaCommand::Set {
                    root,
                    limits: limits
                        .into_iter()
                        .map(|(r, n)| (r.to_ascii_uppercase(), n))
                        .collect(),
                })
            },
        )
        .parse(i),
        "GETACL" | "MYRIGHTS" => map(preceded(sp, mailbox), |mailbox| {
            Command::Acl(if name == "GETACL" {
                AclCommand::Get { mailbox }
            } else {
                AclCommand::MyRights { mailbox }
            })
        })
        .parse(i),
        "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" | "CONVERT" | "SORT" | "THREAD" => {
            selected_command(name, i, depth, false)
        }
        "CANCELUPDATE" => map(many1(preceded(sp, string)), |tags| Command::CancelUpdate {
            tags,
        })
        .parse(i),
        "NOTIFY" => notify(i),
        "CONVERSIONS" => map((sp, astring, sp, astring), |(_, source, _, target)| {
            Command::Conversions {
                source: source.to_ascii_lowercase(),
                target: target.to_ascii_lowercase(),
            }
        })
        .parse(i),
        "ENABLE" => map(many1(preceded(sp, atom)), |caps| Command::Enable {
            capabilities: caps.iter().map(|c| c.to_ascii_uppercase()).collect(),
        })
        .parse(i),
        "ID" => id(i),
        _ => GrammarError::fail("unknown command"),
    }
}

fn uid_command(i: &[u8], depth: usize) -> PResult<'_, Command> {
    let (rest, (_, name)) = (sp, atom).parse(i)?;
    let name = name.to_ascii_uppercase();
    match name.as_str() {
        "SEARCH" | "FETCH" | "STORE" | "COPY" | "MOVE" | "CONVERT" | "SORT" | "THREAD" => {
            selected_command(&name, rest, depth, true)
        }
        "EXPUNGE" => map(preceded(sp, sequence_set), |set| Command::Expunge {
            uids: Some(set),
        })
        .parse(rest),
        _ => GrammarError::fail("unknown UID command"),
    }
}

/// SEARCH, FETCH, STORE, COPY and MOVE, with or without UID.
fn selected_command<'a>(name: &str, i: &'a [u8], depth: usize, uid: bool) -> PResult<'a, Command> {
    match name {
        "SEARCH" => map(
            (
                opt(search_return_opts),
                opt(preceded((sp, tag_no_case(&b"CHARSET"[..]), sp), astring)),
                sp,
                |i| search_criteria(i, depth),
            ),
            |(returns, charset, _, criteria)| Command::Search {
                returns,
                charset: charset.map(|c| c.to_ascii_uppercase()),
                criteria,
                uid,
            },
        )
        .parse(i),
        "SORT" => map(
            (
                opt(search_return_opts),
                preceded(sp, sort_criteria),
                preceded(sp, astring),
                sp,
                |i| search_criteria(i, depth),
            ),
            |(returns, criteria, charset, _, search)| Command::Sort {
                returns,
                criteria,
                charset: charset.to_ascii_uppercase(),
                search,
                uid,
            },
        )
        .parse(i),
        "THREAD" => map(
            (
                preceded(sp, thread_algorithm),
                preceded(sp, astring),
                sp,
                |i| search_criteria(i, depth),
            ),
            |(algorithm, charset, _, search)| Command::Thread {
                algorithm,
                charset: charset.to_ascii_uppercase(),
                search,
                uid,
            },
        )
        .parse(i),
        "CONVERT" => map(
            (sp, sequence_set, sp, convert_items),
            |(_, set, _, items)| Command::Convert { set, items, uid },
        )
        .parse(i),
        "FETCH" => map(
            (sp, sequence_set, sp, fetch_items, opt(fetch_modifiers)),
            |(_, set, _, items, modifiers)| {
                let (changed_since, vanished) = modifiers.unwrap_or_default();
                Command::Fetch {
                    set,
                    items,
                    uid,
                    changed_since,
                    vanished,
                }
            },
        )
        .parse(i),
        "STORE" if has_annotation_store(i) => map(
            (
                sp,
                sequence_set,
                sp,
                tag_no_case(&b"ANNOTATION"[..]),
                sp,
                delimited(
                    tag(&b"("[..]),
                    separated_list1(sp, separated_pair(astring, sp, name_values)),
                    tag(&b")"[..]),
                ),
            ),
            |(_, set, _, _, _, annotations)| Command::StoreAnnotation {
                set,
                annotations: annotations
                    .into_iter()
                    .map(|(e, attrs)| {
                        let attrs = attrs
                            .into_iter()
                            .map(|(a, v)| (a.to_ascii_lowercase(), v))
                            .collect();
                        (e, attrs)
                    })
                    .collect(),
                uid,
            },
        )
        .parse(i),
        "STORE" => map(
            (
                sp,
                sequence_set,
                opt(delimited(
                    (sp, tag(&b"("[..]), tag_no_case(&b"UNCHANGEDSINCE"[..]), sp),
                    number64,
                    tag(&b")"[..]),
                )),
                sp,
                alt((
                    value(StoreMode::Add, tag(&b"+"[..])),
                    value(StoreMode::Remove, tag(&b"-"[..])),
                    value(StoreMode::Replace, tag(&b""[..])),
                )),
                tag_no_case(&b"FLAGS"[..]),
                opt(tag_no_case(&b".SILENT"[..])),
                sp,
                store_flags,
            ),
            |(_, set, unchanged_since, _, mode, _, silent, _, flags)| Command::Store {
                set,
                unchanged_since,
                mode,
                silent: silent.is_some(),
                flags,
                uid,
            },
        )
        .parse(i),
        _ => map((sp, sequence_set, sp, mailbox), |(_, set, _, mailbox)| {
            Command::Copy {
                set,
                mailbox,
                uid,
                remove_source: name == "MOVE",
            }
        })
        .parse(i),
    }
}

/// ` RETURN (opt...)` (RFC 4731 3.1, RFC 5267 3). The CONTEXT hint (RFC
/// 5267 4.2) is accepted and dropped; a list of nothing else means ALL,
/// as `RETURN ()` does.
fn search_return_opts(i: &[u8]) -> PResult<'_, Vec<SearchReturn>> {
    let (rest, options) = preceded(
        (sp, tag_no_case(&b"RETURN"[..]), sp),
        delimited(
            tag(&b"("[..]),
            separated_list0(sp, search_return),
            tag(&b")"[..]),
        ),
    )
    .parse(i)?;
    let returns: Vec<SearchReturn> = options.iter().flatten().copied().collect();
    match returns.is_empty() && !options.is_empty() {
        true => Ok((rest, vec![SearchReturn::All])),
        false => Ok((rest, returns)),
    }
}

/// `search-return-opt` (RFC 4731 3.1, RFC 5267); `None` for CONTEXT.
fn search_return(i: &[u8]) -> PResult<'_, Option<SearchReturn>> {
    alt((
        value(Some(SearchReturn::Min), tag_no_case(&b"MIN"[..])),
        value(Some(SearchReturn::Max), tag_no_case(&b"MAX"[..])),
        value(Some(SearchReturn::All), tag_no_case(&b"ALL"[..])),
        value(Some(SearchReturn::Count), tag_no_case(&b"COUNT"[..])),
        map(partial_return, Some),
        value(Some(SearchReturn::Update), tag_no_case(&b"UPDATE"[..])),
        value(None, tag_no_case(&b"CONTEXT"[..])),
    ))
    .parse(i)
}

fn authenticate(i: &[u8]) -> PResult<'_, Command> {
    let (rest, (_, mechanism, initial)) = (
        sp,
        atom,
        opt(preceded(
            sp,
            take_while1(|b: u8| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
        )),
    )
        .parse(i)?;
    let initial_response = match initial {
        None => None,
        Some(b"=") => Some(Vec::new()),
        Some(b64) => match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(bytes) => Some(bytes),
            Err(_) => return GrammarError::fail("initial response is not base64"),
        },
    };
    Ok((
        rest,
        Command::Authenticate {
            mechanism: mechanism.to_ascii_uppercase(),
            initial_response,
        },
    ))
}

/// CREATE with the RFC 6154 `(USE (\Attr))` option.
fn create(i: &[u8]) -> PResult<'_, Command> {
    map(
        (
            sp,
            mailbox,
            opt(preceded(
                (sp, tag(&b"("[..]), tag_no_case(&b"USE"[..]), sp),
                delimited(tag(&b"("[..]), separated_list0(sp, flag), tag(&b"))"[..])),
            )),
        ),
        |(_, mailbox, uses)| Command::Create {
            mailbox,
            special_use: uses.and_then(|u| u.into_iter().next()),
        },
    )
    .parse(i)
}

/// `SELECT`/`EXAMINE SP mailbox [select-params]` (RFC 4466 2.1, with
/// RFC 7162's CONDSTORE and QRESYNC parameters).
fn select(i: &[u8], read_only: bool) -> PResult<'_, Command> {
    #[derive(Clone)]
    enum Param {
        CondStore,
        Qresync(Qresync),
    }
    let seq_match = (
        tag(&b"("[..]),
        sequence_set,
        sp,
        sequence_set,
        tag(&b")"[..]),
    );
    let qresync = map(
        (
            tag_no_case(&b"QRESYNC"[..]),
            sp,
            tag(&b"("[..]),
            nz_number,
            sp,
            number64,
            opt(preceded(sp, sequence_set)),
            opt(preceded(sp, seq_match)),
            tag(&b")"[..]),
        ),
        |(_, _, _, uid_validity, _, modseq, known_uids, _, _)| {
            Param::Qresync(Qresync {
                uid_validity,
                modseq,
                known_uids,
            })
        },
    );
    let param = alt((
        value(Param::CondStore, tag_no_case(&b"CONDSTORE"[..])),
        qresync,
    ));
    map(
        (
            sp,
            mailbox,
            opt(delimited(
                (sp, tag(&b"("[..])),
                separated_list1(sp, param),
                tag(&b")"[..]),
            )),
        ),
        move |(_, mailbox, params)| {
            let mut condstore = false;
            let mut qresync = None;
            for p in params.unwrap_or_default() {
                match p {
                    Param::CondStore => condstore = true,
                    Param::Qresync(q) => qresync = Some(q),
                }
            }
            Command::Select {
                mailbox,
                read_only,
                condstore,
                qresync,
            }
        },
    )
    .parse(i)
}

/// `fetch-modifiers` (RFC 7162 3.1.4, 3.2.6): CHANGEDSINCE and VANISHED.
fn fetch_modifiers(i: &[u8]) -> PResult<'_, (Option<u64>, bool)> {
    #[derive(Clone)]
    enum Modifier {
        ChangedSince(u64),
        Vanished,
    }
    let modifier = alt((
        map(
            preceded((tag_no_case(&b"CHANGEDSINCE"[..]), sp), number64),
            Modifier::ChangedSince,
        ),
        value(Modifier::Vanished, tag_no_case(&b"VANISHED"[..])),
    ));
    map(
        delimited(
            (sp, tag(&b"("[..])),
            separated_list1(sp, modifier),
            tag(&b")"[..]),
        ),
        |modifiers| {
            let mut out = (None, false);
            for m in modifiers {
                match m {
                    Modifier::ChangedSince(n) => out.0 = Some(n),
                    Modifier::Vanished => out.1 = true,
                }
            }
            out
        },
    )
    .parse(i)
}

/// `LIST [SP list-select-opts] SP mailbox SP mbox-or-pat
/// [SP list-return-opts]` (RFC 5258 6, RFC 5819, RFC 6154).
fn list(i: &[u8]) -> PResult<'_, Command> {
    #[derive(Clone)]
    enum Select {
        Subscribed,
        Remote,
        RecursiveMatch,
        SpecialUse,
    }
    #[derive(Clone)]
    enum Return {
        Subscribed,
        Children,
        SpecialUse,
        Status(Vec<StatusItem>),
    }
    let select = alt((
        value(Select::Subscribed, tag_no_case(&b"SUBSCRIBED"[..])),
        value(Select::Remote, tag_no_case(&b"REMOTE"[..])),
        value(Select::RecursiveMatch, tag_no_case(&b"RECURSIVEMATCH"[..])),
        value(Select::SpecialUse, tag_no_case(&b"SPECIAL-USE"[..])),
    ));
    let ret = alt((
        value(Return::Subscribed, tag_no_case(&b"SUBSCRIBED"[..])),
        value(Return::Children, tag_no_case(&b"CHILDREN"[..])),
        value(Return::SpecialUse, tag_no_case(&b"SPECIAL-USE"[..])),
        map(
            preceded((tag_no_case(&b"STATUS"[..]), sp), status_items),
            Return::Status,
        ),
    ));
    let patterns = alt((
        map(list_mailbox, |p| vec![p]),
        delimited(
            tag(&b"("[..]),
            separated_list1(sp, list_mailbox),
            tag(&b")"[..]),
        ),
    ));
    let (rest, (_, selects, reference, _, patterns, returns)) = (
        sp,
        opt(terminated(
            delimited(tag(&b"("[..]), separated_list0(sp, select), tag(&b")"[..])),
            sp,
        )),
        mailbox,
        sp,
        patterns,
        opt(preceded(
            (sp, tag_no_case(&b"RETURN"[..]), sp),
            delimited(tag(&b"("[..]), separated_list0(sp, ret), tag(&b")"[..])),
        )),
    )
        .parse(i)?;
    let mut options = ListOptions::default();
    let selects = selects.unwrap_or_default();
    for s in &selects {
        match s {
            Select::Subscribed => options.select_subscribed = true,
            Select::RecursiveMatch => options.recursive_match = true,
            Select::SpecialUse => options.select_special_use = true,
            // Every mailbox is local: REMOTE changes nothing.
            Select::Remote => {}
        }
    }
    if options.recursive_match && !options.select_subscribed && !options.select_special_use {
        // RFC 5258 3.1: RECURSIVEMATCH alone is a syntax error.
        return GrammarError::fail("RECURSIVEMATCH needs another selection option");
    }
    for r in returns.unwrap_or_default() {
        match r {
            Return::Subscribed => options.return_subscribed = true,
            Return::Status(items) => options.return_status = Some(items),
            // Children and special-use attributes are always returned.
            Return::Children | Return::SpecialUse => {}
        }
    }
    Ok((
        rest,
        Command::List {
            reference,
            patterns,
            lsub: false,
            options,
        },
    ))
}

/// `NOTIFY SP ("NONE" / "SET" [SP "STATUS"] 1*(SP event-group))`
/// (RFC 5465 8). MessageNew's fetch attributes are read and not used
/// (the STATUS form is what is sent for other mailboxes).
fn notify(i: &[u8]) -> PResult<'_, Command> {
    let one_or_more = || {
        alt((
            map(mailbox, |m| vec![m]),
            delimited(tag(&b"("[..]), separated_list1(sp, mailbox), tag(&b")"[..])),
        ))
    };
    let filter = alt((
        value(
            MailboxFilter::SelectedDelayed,
            tag_no_case(&b"SELECTED-DELAYED"[..]),
        ),
        value(MailboxFilter::Selected, tag_no_case(&b"SELECTED"[..])),
        value(MailboxFilter::Inboxes, tag_no_case(&b"INBOXES"[..])),
        value(MailboxFilter::Personal, tag_no_case(&b"PERSONAL"[..])),
        value(MailboxFilter::Subscribed, tag_no_case(&b"SUBSCRIBED"[..])),
        map(
            preceded((tag_no_case(&b"SUBTREE"[..]), sp), one_or_more()),
            MailboxFilter::Subtree,
        ),
        map(
            preceded((tag_no_case(&b"MAILBOXES"[..]), sp), one_or_more()),
            MailboxFilter::Mailboxes,
        ),
    ));
    let event = alt((
        map(
            (
                tag_no_case(&b"MessageNew"[..]),
                opt(preceded(sp, fetch_items)),
            ),
            |_| NotifyEvent::MessageNew,
        ),
        value(
            NotifyEvent::MessageExpunge,
            tag_no_case(&b"MessageExpunge"[..]),
        ),
        value(NotifyEvent::FlagChange, tag_no_case(&b"FlagChange"[..])),
        value(
            NotifyEvent::AnnotationChange,
            tag_no_case(&b"AnnotationChange"[..]),
        ),
        value(NotifyEvent::MailboxName, tag_no_case(&b"MailboxName"[..])),
        value(
            NotifyEvent::SubscriptionChange,
            tag_no_case(&b"SubscriptionChange"[..]),
        ),
        value(
            NotifyEvent::MailboxMetadataChange,
            tag_no_case(&b"MailboxMetadataChange"[..]),
        ),
        value(
            NotifyEvent::ServerMetadataChange,
            tag_no_case(&b"ServerMetadataChange"[..]),
        ),
    ));
    let events = alt((
        value(Vec::new(), tag_no_case(&b"NONE"[..])),
        delimited(tag(&b"("[..]), separated_list1(sp, event), tag(&b")"[..])),
    ));
    let group = map(
        delimited(tag(&b"("[..]), (filter, sp, events), tag(&b")"[..])),
        |(filter, _, events)| EventGroup { filter, events },
    );
    alt((
        map((sp, tag_no_case(&b"NONE"[..])), |_| Command::Notify(None)),
        map(
            (
                sp,
                tag_no_case(&b"SET"[..]),
                opt((sp, tag_no_case(&b"STATUS"[..]))),
                many1(preceded(sp, group)),
            ),
            |(_, _, status, groups)| {
                Command::Notify(Some(NotifySpec {
                    status: status.is_some(),
                    groups,
                }))
            },
        ),
    ))
    .parse(i)
}

/// CONVERT's data items (RFC 5259 6): `UID` and
/// `BINARY[part SP "(" media-type [SP "(" name SP value ... ")"] ")"]`,
/// one or a parenthesized list.
fn convert_items(i: &[u8]) -> PResult<'_, Vec<ConvertItem>> {
    alt((
        delimited(
            tag(&b"("[..]),
            separated_list1(sp, convert_item),
            tag(&b")"[..]),
        ),
        map(convert_item, |i| vec![i]),
    ))
    .parse(i)
}

fn convert_item(i: &[u8]) -> PResult<'_, ConvertItem> {
    let params = delimited(
        tag(&b"("[..]),
        separated_list0(sp, separated_pair(astring, sp, astring)),
        tag(&b")"[..]),
    );
    let binary = map(
        delimited(
            tag_no_case(&b"BINARY["[..]),
            (
                separated_list1(tag(&b"."[..]), nz_number),
                sp,
                delimited(
                    tag(&b"("[..]),
                    (astring, opt(preceded(sp, params))),
                    tag(&b")"[..]),
                ),
            ),
            tag(&b"]"[..]),
        ),
        |(part, _, (media_type, params))| ConvertItem::Binary {
            part,
            media_type: media_type.to_ascii_lowercase(),
            params: params
                .unwrap_or_default()
                .into_iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v))
                .collect(),
        },
    );
    alt((binary, value(ConvertItem::Uid, tag_no_case(&b"UID"[..])))).parse(i)
}

/// `"(" name SP value *(SP name SP value) ")"` with values NIL or a
/// string of any bytes: SETMETADATA's entries (RFC 5464 4.3) and STORE
/// ANNOTATION's attributes (RFC 5257 3.4).
fn name_values(i: &[u8]) -> PResult<'_, Vec<(String, Option<Vec<u8>>)>> {
    delimited(
        tag(&b"("[..]),
        separated_list1(
            sp,
            separated_pair(
                astring,
                sp,
                alt((
                    map(tag_no_case(&b"NIL"[..]), |_| None),
                    map(string_bytes, Some),
                )),
            ),
        ),
        tag(&b")"[..]),
    )
    .parse(i)
}

/// Whether a STORE's arguments are `set ANNOTATION (...)` (RFC 5257).
fn has_annotation_store(i: &[u8]) -> bool {
    let rest = i.trim_ascii_start();
    let after_set = rest
        .iter()
        .position(|&b| b == b' ')
        .map(|p| rest[p + 1..].trim_ascii_start())
        .unwrap_or_default();
    after_set.len() >= 10 && after_set[..10].eq_ignore_ascii_case(b"ANNOTATION")
}

/// `GETMETADATA [SP "(" option *(SP option) ")"] SP mailbox SP entries`
/// (RFC 5464 4.2), options MAXSIZE and DEPTH.
fn get_metadata(i: &[u8]) -> PResult<'_, Command> {
    #[derive(Clone)]
    enum MetadataOption {
        MaxSize(u64),
        Depth(Option<usize>),
    }
    let option = alt((
        map(
            preceded((tag_no_case(&b"MAXSIZE"[..]), sp), number64),
            MetadataOption::MaxSize,
        ),
        preceded(
            (tag_no_case(&b"DEPTH"[..]), sp),
            alt((
                value(MetadataOption::Depth(Some(0)), tag(&b"0"[..])),
                value(MetadataOption::Depth(Some(1)), tag(&b"1"[..])),
                value(MetadataOption::Depth(None), tag_no_case(&b"infinity"[..])),
            )),
        ),
    ));
    let entries = alt((
        map(astring, |e| vec![e]),
        delimited(tag(&b"("[..]), separated_list1(sp, astring), tag(&b")"[..])),
    ));
    map(
        (
            opt(preceded(
                sp,
                delimited(tag(&b"("[..]), separated_list1(sp, option), tag(&b")"[..])),
            )),
            sp,
            mailbox,
            sp,
            entries,
        ),
        |(options, _, mailbox, _, entries)| {
            let (mut max_size, mut depth) = (None, Some(0));
            for o in options.unwrap_or_default() {
                match o {
                    MetadataOption::MaxSize(n) => max_size = Some(n),
                    MetadataOption::Depth(d) => depth = d,
                }
            }
            Command::GetMetadata {
                mailbox,
                entries,
                max_size,
                depth,
            }
        },
    )
    .parse(i)
}

/// `"(" status-att *(SP status-att) ")"`.
fn status_items(i: &[u8]) -> PResult<'_, Vec<StatusItem>> {
    let item = alt((
        value(StatusItem::Messages, tag_no_case(&b"MESSAGES"[..])),
        value(StatusItem::Recent, tag_no_case(&b"RECENT"[..])),
        value(StatusItem::UidNext, tag_no_case(&b"UIDNEXT"[..])),
        value(StatusItem::UidValidity, tag_no_case(&b"UIDVALIDITY"[..])),
        value(StatusItem::Unseen, tag_no_case(&b"UNSEEN"[..])),
        value(
            StatusItem::HighestModSeq,
            tag_no_case(&b"HIGHESTMODSEQ"[..]),
        ),
        value(
            StatusItem::DeletedStorage,
            tag_no_case(&b"DELETED-STORAGE"[..]),
        ),
        value(StatusItem::Deleted, tag_no_case(&b"DELETED"[..])),
        value(StatusItem::Size, tag_no_case(&b"SIZE"[..])),
        value(StatusItem::MailboxId, tag_no_case(&b"MAILBOXID"[..])),
    ));
    delimited(tag(&b"("[..]), separated_list1(sp, item), tag(&b")"[..])).parse(i)
}

fn status(i: &[u8]) -> PResult<'_, Command> {
    map((sp, mailbox, sp, status_items), |(_, mailbox, _, items)| {
        Command::Status { mailbox, items }
    })
    .parse(i)
}

/// A parsed `append-message` before its literals are matched with blobs.
enum AppendOptions {
    /// Flags and date of a literal message.
    Literal(Option<Vec<String>>, Option<UnixTime>),
    /// Flags, date and parts (`None` for a TEXT literal) of CATENATE.
    Catenate(Option<Vec<String>>, Option<UnixTime>, Vec<Option<String>>),
}

/// `"UTF8" SP "(" literal8 ")"` (RFC 6855 4), once UTF8=ACCEPT (or
/// IMAP4rev2) is enabled on the connection.
fn utf8_append_data(i: &[u8]) -> PResult<'_, ()> {
    let (rest, _) = (tag_no_case(&b"UTF8"[..]), sp, tag(&b"("[..])).parse(i)?;
    if !crate::protocol::mutf7::utf8_names() {
        return GrammarError::fail("UTF8 APPEND data needs ENABLE UTF8=ACCEPT (RFC 6855 4)");
    }
    value((), (streamed_literal, tag(&b")"[..]))).parse(rest)
}

/// `cat-part` (RFC 4469 5): `TEXT literal` (a streamed literal, `None`)
/// or `URL url`.
fn cat_part(i: &[u8]) -> PResult<'_, Option<String>> {
    alt((
        map((tag_no_case(&b"TEXT"[..]), sp, streamed_literal), |_| None),
        map(preceded((tag_no_case(&b"URL"[..]), sp), astring), Some),
    ))
    .parse(i)
}

/// `append` (RFC 3501 6.3.11) with MULTIAPPEND's `1*append-message` (RFC
/// 3502 6) and CATENATE (RFC 4469 5): each message's options, then its
/// literal or its `CATENATE (...)` parts; the literals were streamed by
/// the reader to `blobs`, in order.
fn append(i: &[u8], blobs: Vec<StagedBlob>) -> PResult<'_, Command> {
    let message = map(
        (
            opt(preceded(sp, flag_list)),
            opt(preceded(sp, date_time)),
            sp,
            alt((
                map(streamed_literal, |_| None),
                map(utf8_append_data, |_| None),
                map(
                    preceded(
                        (tag_no_case(&b"CATENATE"[..]), sp),
                        delimited(
                            tag(&b"("[..]),
                            separated_list1(sp, cat_part),
                            tag(&b")"[..]),
                        ),
                    ),
                    Some,
                ),
            )),
        ),
        |(flags, date, _, parts)| match parts {
            None => AppendOptions::Literal(flags, date),
            Some(parts) => AppendOptions::Catenate(flags, date, parts),
        },
    );
    let (rest, (_, mailbox, options)) = (sp, mailbox, many1(message)).parse(i)?;
    let wanted: usize = options
        .iter()
        .map(|o| match o {
            AppendOptions::Literal(..) => 1,
            AppendOptions::Catenate(_, _, parts) => parts.iter().filter(|p| p.is_none()).count(),
        })
        .sum();
    if wanted != blobs.len() {
        return GrammarError::fail("APPEND literals out of place");
    }
    let mut blobs = blobs.into_iter();
    let mut messages = Vec::with_capacity(options.len());
    for o in options {
        let data = match o {
            AppendOptions::Literal(flags, date) => match blobs.next() {
                Some(message) => AppendData::Literal(AppendMessage {
                    flags: flags.unwrap_or_default(),
                    date,
                    message,
                }),
                None => return GrammarError::fail("APPEND literals out of place"),
            },
            AppendOptions::Catenate(flags, date, parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for p in parts {
                    out.push(match p {
                        Some(url) => CatenatePart::Url(url),
                        None => match blobs.next() {
                            Some(blob) => CatenatePart::Text(blob),
                            None => return GrammarError::fail("APPEND literals out of place"),
                        },
                    });
                }
                AppendData::Catenate(CatenateMessage {
                    flags: flags.unwrap_or_default(),
                    date,
                    parts: out,
                })
            }
        };
        messages.push(data);
    }
    if messages
        .iter()
        .any(|m| matches!(m, AppendData::Catenate(_)))
    {
        return Ok((rest, Command::Catenate { mailbox, messages }));
    }
    let mut plain: Vec<AppendMessage> = messages
        .into_iter()
        .filter_map(|m| match m {
            AppendData::Literal(m) => Some(m),
            AppendData::Catenate(_) => None,
        })
        .collect();
    if plain.len() > 1 {
        return Ok((
            rest,
            Command::MultiAppend {
                mailbox,
                messages: plain,
            },
        ));
    }
    let Some(AppendMessage {
        flags,
        date,
        message,
    }) = plain.pop()
    else {
        return GrammarError::fail("APPEND takes a message literal");
    };
    Ok((
        rest,
        Command::Append {
            mailbox,
            flags,
            date,
            message,
        },
    ))
}

fn id(i: &[u8]) -> PResult<'_, Command> {
    preceded(
        sp,
        alt((
            map(tag_no_case(&b"NIL"[..]), |_| Command::Id {
                parameters: None,
            }),
            map(
                delimited(
                    tag(&b"("[..]),
                    separated_list0(sp, separated_pair(string, sp, nstring)),
                    tag(&b")"[..]),
                ),
                |p| Command::Id {
                    parameters: Some(p),
                },
            ),
        )),
    )
    .parse(i)
}

/// `url-fetch-param = url / "(" url *(SP ("BODYPARTSTRUCTURE" / "BINARY"
/// / "BODY")) ")"` (RFC 5524 3).
fn url_fetch_param(i: &[u8]) -> PResult<'_, UrlFetchParam> {
    #[derive(Clone, Copy)]
    enum Arg {
        Structure,
        Binary,
        Body,
    }
    alt((
        map(
            delimited(
                tag(&b"("[..]),
                (
                    astring,
                    many0(preceded(
                        sp,
                        alt((
                            value(Arg::Structure, tag_no_case(&b"BODYPARTSTRUCTURE"[..])),
                            value(Arg::Binary, tag_no_case(&b"BINARY"[..])),
                            value(Arg::Body, tag_no_case(&b"BODY"[..])),
                        )),
                    )),
                ),
                tag(&b")"[..]),
            ),
            |(url, args)| {
                let mut p = UrlFetchParam {
                    url,
                    extended: true,
                    ..UrlFetchParam::default()
                };
                for a in args {
                    match a {
                        Arg::Structure => p.body_part_structure = true,
                        Arg::Binary => p.binary = true,
                        Arg::Body => p.body = true,
                    }
                }
                p
            },
        ),
        map(astring, |url| UrlFetchParam {
            url,
            ..UrlFetchParam::default()
        }),
    ))
    .parse(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Request, BadCommand> {
        parse_request(text.as_bytes(), Vec::new(), 16)
    }

    #[test]
    fn rfc3501_examples_parse() {
        for ok in [
            "a001 CAPABILITY",
            "A142 SELECT INBOX",
            "A932 EXAMINE blurdybloop",
            "A003 CREATE owatagusiam/",
            "A683 DELETE blurdybloop",
            "A684 RENAME \"~peter/mail/&U,BTFw-/&ZeVnLIqe-\" Zoo",
            "A002 SUBSCRIBE #news.comp.mail.mime",
            "A101 LIST \"\" \"\"",
            "A102 LIST #news.comp.mail.misc \"\"",
            "A202 LIST ~/Mail/ %",
            "A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
            "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
            "A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX",
            "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])",
            "A003 STORE 2:4 +FLAGS (\\Deleted)",
            "A003 COPY 2:4 MEETING",
            "A999 UID FETCH 4827313:4828442 FLAGS",
            "a UID EXPUNGE 3000:3002",
            "a ID (\"name\" \"sodr\" \"version\" NIL)",
            "a CREATE Sent (USE (\\Sent))",
            "a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==",
            "a STORE 1 FLAGS.SILENT \\Seen \\Flagged",
            "a UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 UNSEEN",
            "a SEARCH RETURN () ALL",
            "a SEARCH RETURN (PARTIAL 1:10 UPDATE) ALL",
            "a SEARCH RETURN (CONTEXT COUNT) ALL",
            "a SORT (SUBJECT REVERSE DATE) UTF-8 ALL",
            "a UID SORT RETURN (MIN COUNT) (DISPLAYFROM) US-ASCII UNSEEN",
            "a THREAD REFERENCES UTF-8 SINCE 5-MAR-2000",
            "a UID THREAD ORDEREDSUBJECT US-ASCII ALL",
            "a CANCELUPDATE \"a1\" \"a2\"",
        ] {
            assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok));
        }
    }

    /// RFC 5267 4.2: the CONTEXT hint is dropped; alone it means ALL.
    #[test]
    fn context_hint_is_dropped() {
        let returns = |line: &str| match parse(line).map(|r| r.command) {
            Ok(Command::Search { returns, .. }) => returns,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            returns("a SEARCH RETURN (CONTEXT) ALL"),
            Some(vec![SearchReturn::All])
        );
        assert_eq!(
            returns("a SEARCH RETURN (CONTEXT COUNT) ALL"),
            Some(vec![SearchReturn::Count])
        );
        assert_eq!(returns("a SEARCH RETURN () ALL"), Some(vec![]));
    }

    /// RFC 7162's examples (3.1.3, 3.1.4, 3.1.5, 3.1.8, 3.2.5, 3.2.6).
    #[test]
    fn rfc7162_examples_parse() {
        let r = parse("A142 SELECT INBOX (CONDSTORE)").unwrap();
        assert!(matches!(
            r.command,
            Command::Select {
                condstore: true,
                ..
            }
        ));
        let r = parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))")
            .unwrap();
        let Command::Select {
            qresync: Some(q), ..
        } = r.command
        else {
            panic!("{r:?}")
        };
        assert_eq!((q.uid_validity, q.modseq), (67890007, 20050715194045000));
        assert!(q.known_uids.is_some_and(|s| s.contains(300, 600)));
        assert!(parse(
            "B02 SELECT INBOX (QRESYNC (67890007 90060115194045000 \
             1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))"
        )
        .is_ok());
        let r = parse("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)").unwrap();
        assert!(matches!(
            r.command,
            Command::Fetch {
                changed_since: Some(12345),
                vanished: true,
                uid: true,
                ..
            }
        ));
        let r =
            parse("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)").unwrap();
        assert!(matches!(
            r.command,
            Command::Store {
                unchanged_since: Some(320162338),
                silent: true,
                ..
            }
        ));
        for ok in [
            "a FETCH 1:* (UID FLAGS MODSEQ)",
            "a103 SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338",
            "t SEARCH OR NOT MODSEQ 720162338 LARGER 50000",
            "a STATUS INBOX (HIGHESTMODSEQ MESSAGES)",
            "a ENABLE CONDSTORE QRESYNC",
            "G0001 GETQUOTA \"!partition/sda4\"",
            "G0002 GETQUOTAROOT INBOX",
            "S0000 SETQUOTA \"User quota\" (STORAGE 512)",
            "S0001 SETQUOTA \"\" ()",
            "A02 LIST (SUBSCRIBED) \"\" \"*\"",
            "A03 LIST () \"\" (\"%\" \"Sent/%\") RETURN (CHILDREN)",
            "A04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (SUBSCRIBED)",
            "A05 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))",
            "t1 LIST (SPECIAL-USE) \"\" *",
            "t2 LIST \"\" * RETURN (SPECIAL-USE)",
            "a GENURLAUTH \"imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred\" INTERNAL",
            "a RESETKEY",
            "a CONVERT 2 BINARY[2 (\"image/jpeg\" (\"pix-x\" \"200\" \"pix-y\" \"150\"))]",
            "a UID CONVERT 1:3 (UID BINARY[1.2 (\"image/png\")])",
            "a CONVERSIONS \"image/png\" \"*\"",
            "a NOTIFY NONE",
            "a FETCH 1 (ANNOTATION (/comment value))",
            "a UID FETCH 1 (ANNOTATION ((/comment /altsubject) (value.priv value.shared)))",
            "a FETCH 1:* (FLAGS ANNOTATION (/* value))",
            "a STORE 1 ANNOTATION (/comment (value.priv \"My new comment\"))",
            "a UID STORE 1 ANNOTATION (/comment (value.priv NIL value.shared \"x\") /altsubject (value.priv \"y\"))",
            "a NOTIFY SET (selected (MessageExpunge MessageNew (uid body.peek[header.fields (from to subject)]))) (subtree Lists (MessageNew MessageExpunge))",
            "a NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange)) (selected-delayed NONE)",
            "a NOTIFY SET (mailboxes (INBOX Drafts) (MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange))",
            "a NOTIFY SET (inboxes (MessageNew MessageExpunge)) (subscribed (MailboxName))",
            "a GETMETADATA \"\" /shared/comment",
            "a GETMETADATA INBOX (/shared/comment /private/comment)",
            "a GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX /private",
            "a SETMETADATA INBOX (/private/comment \"My new comment\")",
            "a SETMETADATA INBOX (/private/comment NIL)",
            "a SETMETADATA INBOX (/shared/comment {3}\r\nabc /private/x NIL)",
            "a RESETKEY INBOX INTERNAL",
            "a URLFETCH \"imap://joe@example.com/INBOX/;uid=20;urlauth=anonymous:internal:x\"",
        ] {
            assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok));
        }
        for bad in [
            "a SELECT INBOX (QRESYNC (0 1))",
            "a FETCH 1 (FLAGS) (CHANGEDSINCE)",
            "a STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_commands_keep_their_tag() {
        let e = parse("a1 FROB").unwrap_err();
        assert_eq!(e.tag.as_deref(), Some("a1"));
        let e = parse("a2 SELECT \"unterminated").unwrap_err();
        assert!(e.reason.contains("unterminated"), "{e:?}");
        // Not modified UTF-7: parsed, marked, and refused with NO later.
        let Ok(Request {
            command: Command::Create { mailbox, .. },
            ..
        }) = parse("a3 CREATE &Jjo!")
        else {
            panic!("CREATE of a bad name parses");
        };
        assert!(crate::protocol::mutf7::is_invalid(&mailbox));
        assert!(parse("a4 FETCH 0 FLAGS").is_err());
        assert!(parse("a5 NOOP extra").is_err());
        assert_eq!(parse("{bad").unwrap_err().tag, None);
    }
}
