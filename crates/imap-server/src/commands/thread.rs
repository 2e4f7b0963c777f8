//! THREAD and UID THREAD (RFC 5256 4): ORDEREDSUBJECT and REFERENCES,
//! computed by store-core's `thread` module from the stored summaries, and
//! written here as the `* THREAD` response's nested lists, without
//! recursion (a hostile References chain makes a deep tree).

use std::fmt::Write as _;

use store_core::thread::{self, Threads};

use super::search::{matching_sort_info, refuse_charset, to_store_key};
use crate::protocol::command::{SearchKey, ThreadAlgorithm};
use crate::protocol::response::Completion;
use crate::session::error::CommandResult;
use crate::session::Session;

/// Runs THREAD or UID THREAD with `algorithm` over the messages matching
/// `search`.
pub async fn execute(
    session: &mut Session,
    algorithm: ThreadAlgorithm,
    charset: &str,
    search: &SearchKey,
    uid: bool,
) -> CommandResult {
    if let Some(refused) = refuse_charset(charset) {
        return Ok(refused);
    }
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let key = to_store_key(mailbox, search);
    let infos = matching_sort_info(session, &key).await?;
    let threads = match algorithm {
        ThreadAlgorithm::OrderedSubject => thread::ordered_subject(&infos),
        ThreadAlgorithm::References => thread::references(&infos),
    };
    let Some(mailbox) = session.selected.as_ref() else {
        return Ok(Completion::bad("No mailbox selected"));
    };
    let numbers: Vec<u32> = infos
        .iter()
        .map(|i| match uid {
            true => i.uid,
            false => mailbox.seq_of(i.uid).unwrap_or(0),
        })
        .collect();
    let line = render(&threads, &numbers);
    session.out.push_str(&line);
    Ok(Completion::ok("THREAD completed"))
}

enum Step {
    Node(usize),
    Text(&'static str),
}

/// The `* THREAD` line (RFC 5256 5, `thread-data`): each thread in
/// parentheses; a message with one child is followed by it, one with
/// several by each in parentheses. `numbers[i]` is message `i`'s number.
pub fn render(threads: &Threads, numbers: &[u32]) -> String {
    let mut out = String::from("* THREAD");
    if !threads.roots.is_empty() {
        out.push(' ');
    }
    let mut stack: Vec<Step> = Vec::new();
    for &r in threads.roots.iter().rev() {
        stack.extend([Step::Text(")"), Step::Node(r), Step::Text("(")]);
    }
    while let Some(step) = stack.pop() {
        let n = match step {
            Step::Text(t) => {
                out.push_str(t);
                continue;
            }
            Step::Node(n) => n,
        };
        let node = &threads.nodes[n];
        if let Some(m) = node.message {
            let _ = write!(out, "{}", numbers.get(m).copied().unwrap_or(0));
        }
        match (node.message.is_some(), node.children.as_slice()) {
            (_, []) => {}
            (true, [only]) => stack.extend([Step::Node(*only), Step::Text(" ")]),
            (message, children) => {
                for &c in children.iter().rev() {
                    stack.extend([Step::Text(")"), Step::Node(c), Step::Text("(")]);
                }
                if message {
                    stack.push(Step::Text(" "));
                }
            }
        }
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use store_core::thread::ThreadNode;

    /// RFC 5256 4's example: `(2)(3 6 (4 23)(44 7 96))`.
    #[test]
    fn rfc5256_thread_example() {
        let node = |message: usize, children: Vec<usize>| ThreadNode {
            message: Some(message),
            children,
        };
        // Messages 0..8 are numbered 2, 3, 6, 4, 23, 44, 7, 96.
        let threads = Threads {
            nodes: vec![
                node(0, vec![]),
                node(1, vec![2]),
                node(2, vec![3, 5]),
                node(3, vec![4]),
                node(4, vec![]),
                node(5, vec![6]),
                node(6, vec![7]),
                node(7, vec![]),
            ],
            roots: vec![0, 1],
        };
        assert_eq!(
            render(&threads, &[2, 3, 6, 4, 23, 44, 7, 96]),
            "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"
        );
        let dummy = Threads {
            nodes: vec![
                ThreadNode {
                    message: None,
                    children: vec![1, 2],
                },
                node(0, vec![]),
                node(1, vec![]),
            ],
            roots: vec![0],
        };
        assert_eq!(render(&dummy, &[1, 2]), "* THREAD ((1)(2))\r\n");
        assert_eq!(render(&Threads::default(), &[]), "* THREAD\r\n");
    }
}
