//! Threading of messages (RFC 5256 section 4: ORDEREDSUBJECT and
//! REFERENCES), protocol-independent: a CPM conversation (a chat with
//! replies linked by Message-ID, In-Reply-To and References) is a thread.
//!
//! The result is a flat arena ([`Threads`]) rather than nested values, and
//! every walk over it is iterative, so a hostile chain of References (a
//! tree as deep as the mailbox is large) costs no stack. Linking checks for
//! loops by walking up the new parent's ancestors, only when the child
//! already has children (a childless container cannot close a loop), at
//! most [`MAX_ANCESTOR_WALK`] parents per link and [`MAX_LOOP_CHECKS`]
//! in all; a link whose check would need more is not made.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::sort::SortInfo;

/// Most parents walked to check that a new link makes no loop; a link
/// deeper than this is refused (the message starts its own branch).
pub const MAX_ANCESTOR_WALK: usize = 4096;

/// Most parents walked by all loop checks of one threading: the cost a
/// hostile set of References can cause is bounded whatever its shape.
pub const MAX_LOOP_CHECKS: usize = 4 * 1024 * 1024;

/// The links made so far (parent pointers), and what loop checks cost.
struct Links {
    parent: Vec<Option<usize>>,
    children: Vec<u32>,
    budget: usize,
}

impl Links {
    fn add(&mut self) {
        self.parent.push(None);
        self.children.push(0);
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.parent[child].take() {
            self.children[p] -= 1;
        }
    }

    /// Makes `parent` the parent of (parentless) `child` unless that makes
    /// a loop: `child` is `parent` or one of its ancestors (or the check
    /// would cost more than allowed).
    fn link(&mut self, parent: usize, child: usize) {
        if parent == child || (self.children[child] > 0 && self.reaches(parent, child)) {
            return;
        }
        self.parent[child] = Some(parent);
        self.children[parent] += 1;
    }

    /// Whether `ancestor` is `from` or above it (true when unsure).
    fn reaches(&mut self, from: usize, ancestor: usize) -> bool {
        let mut at = Some(from);
        for _ in 0..MAX_ANCESTOR_WALK.min(self.budget) {
            self.budget -= 1;
            match at {
                None => return false,
                Some(n) if n == ancestor => return true,
                Some(n) => at = self.parent[n],
            }
        }
        true
    }
}

/// One node of a thread tree: a message, or a dummy standing for a
/// message that is referenced but not in the set (RFC 5256 4, REFERENCES).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadNode {
    /// Index of the message in the slice given to the algorithm; `None`
    /// for a dummy.
    pub message: Option<usize>,
    /// Children, indices into [`Threads::nodes`], in thread order.
    pub children: Vec<usize>,
}

/// A threaded message set: the roots of the threads, in order, each an
/// index into `nodes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Threads {
    /// Every node (some may be unreachable after merging).
    pub nodes: Vec<ThreadNode>,
    /// The threads' top nodes, in thread order.
    pub roots: Vec<usize>,
}

/// RFC 5256 4, ORDEREDSUBJECT: messages grouped by base subject; each
/// group is a thread whose first message (by sent date) is the parent of
/// the others; threads are ordered by the date of their first message.
/// `messages` are in mailbox order (which breaks date ties).
pub fn ordered_subject(messages: &[SortInfo]) -> Threads {
    let mut order: Vec<usize> = (0..messages.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&messages[a], &messages[b]);
        x.subject
            .cmp(&y.subject)
            .then(x.date.cmp(&y.date))
            .then(a.cmp(&b))
    });
    let mut threads = Threads::default();
    let mut current: Option<(usize, &str)> = None;
    for i in order {
        let node = threads.push(Some(i));
        match current {
            Some((top, subject)) if subject == messages[i].subject => {
                threads.nodes[top].children.push(node)
            }
            _ => {
                threads.roots.push(node);
                current = Some((node, &messages[i].subject));
            }
        }
    }
    let key = |t: &Threads, n: usize| (t.date(messages, n), t.nodes[n].message);
    let mut roots = std::mem::take(&mut threads.roots);
    roots.sort_by_key(|&n| key(&threads, n));
    threads.roots = roots;
    threads
}

/// RFC 5256 4, REFERENCES: messages linked by their References (or
/// In-Reply-To) chains into trees, with dummies for missing messages,
/// dummies pruned, threads with the same base subject merged, and every
/// level ordered by sent date. `messages` are in mailbox order.
pub fn references(messages: &[SortInfo]) -> Threads {
    let mut t = Threads::default();
    let mut links = Links {
        parent: Vec::new(),
        children: Vec::new(),
        budget: MAX_LOOP_CHECKS,
    };
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let node = |t: &mut Threads, links: &mut Links, m| {
        links.add();
        t.push(m)
    };
    // Step 1: link.
    for (i, m) in messages.iter().enumerate() {
        // 1.A: the message's container (a duplicate id gets its own).
        let own = match m.message_id.as_deref() {
            Some(id) => match ids.get(id) {
                Some(&c) if t.nodes[c].message.is_none() => {
                    t.nodes[c].message = Some(i);
                    c
                }
                Some(_) => node(&mut t, &mut links, Some(i)),
                None => {
                    let c = node(&mut t, &mut links, Some(i));
                    ids.insert(id, c);
                    c
                }
            },
            None => node(&mut t, &mut links, Some(i)),
        };
        // 1.B: link the References chain, keeping existing links.
        let mut previous: Option<usize> = None;
        for id in &m.references {
            let c = match ids.get(id.as_str()) {
                Some(&c) => c,
                None => {
                    let c = node(&mut t, &mut links, None);
                    ids.insert(id.as_str(), c);
                    c
                }
            };
            if let Some(p) = previous {
                if links.parent[c].is_none() {
                    links.link(p, c);
                }
            }
            previous = Some(c);
        }
        // 1.C: the message's parent is the last reference.
        links.unlink(own);
        if let Some(p) = previous {
            links.link(p, own);
        }
    }
    let parent = links.parent;
    // Step 2: children lists and the root set.
    let mut roots = Vec::new();
    for (c, p) in parent.iter().enumerate() {
        match p {
            Some(p) => t.nodes[*p].children.push(c),
            None => roots.push(c),
        }
    }
    // Step 4: prune dummies, children before parents.
    for n in t.post_order(&roots) {
        let children = std::mem::take(&mut t.nodes[n].children);
        let mut kept = Vec::with_capacity(children.len());
        for c in children {
            if t.nodes[c].message.is_some() {
                kept.push(c);
            } else {
                kept.append(&mut t.nodes[c].children);
            }
        }
        t.nodes[n].children = kept;
    }
    let mut root_set = Vec::new();
    for r in roots {
        let n = &t.nodes[r];
        match (n.message, n.children.len()) {
            (Some(_), _) => root_set.push(r),
            (None, 0) => {}
            (None, 1) => root_set.push(n.children[0]),
            (None, _) => root_set.push(r),
        }
    }
    // Steps 5 and 7 for what is below the root: siblings by date.
    t.sort_levels(messages, &root_set);
    root_set.sort_by(|&a, &b| t.compare(messages, a, b));
    // Step 6: merge threads with the same base subject.
    let root_set = t.merge_subjects(messages, root_set);
    t.sort_levels(messages, &root_set);
    let mut root_set = root_set;
    root_set.sort_by(|&a, &b| t.compare(messages, a, b));
    t.roots = root_set;
    t
}

impl Threads {
    fn push(&mut self, message: Option<usize>) -> usize {
        self.nodes.push(ThreadNode {
            message,
            children: Vec::new(),
        });
        self.nodes.len() - 1
    }

    /// The nodes below and including `tops`, every node after all its
    /// descendants (an explicit stack, no recursion).
    pub fn post_order(&self, tops: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, bool)> = tops.iter().rev().map(|&n| (n, false)).collect();
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                out.push(n);
            } else {
                stack.push((n, true));
                stack.extend(self.nodes[n].children.iter().rev().map(|&c| (c, false)));
            }
        }
        out
    }

    /// The sent date of node `n`: its message's, or for a dummy its first
    /// child's (RFC 5256 4, step 5).
    fn date(&self, messages: &[SortInfo], n: usize) -> i64 {
        self.first_message(n).map_or(0, |m| messages[m].date)
    }

    /// The message of `n`, or of its first descendant along first children.
    fn first_message(&self, n: usize) -> Option<usize> {
        let mut at = n;
        for _ in 0..self.nodes.len() {
            let node = &self.nodes[at];
            match (node.message, node.children.first()) {
                (Some(m), _) => return Some(m),
                (None, Some(&c)) => at = c,
                (None, None) => return None,
            }
        }
        None
    }

    fn compare(&self, messages: &[SortInfo], a: usize, b: usize) -> Ordering {
        self.date(messages, a)
            .cmp(&self.date(messages, b))
            .then(self.first_message(a).cmp(&self.first_message(b)))
    }

    /// Sorts every set of siblings below `tops` by date, deepest first so
    /// that a dummy's first child is its earliest.
    fn sort_levels(&mut self, messages: &[SortInfo], tops: &[usize]) {
        for n in self.post_order(tops) {
            let mut children = std::mem::take(&mut self.nodes[n].children);
            children.sort_by(|&a, &b| self.compare(messages, a, b));
            self.nodes[n].children = children;
        }
    }

    /// The base subject of a thread: its message's, or its first child's.
    fn subject<'m>(&self, messages: &'m [SortInfo], n: usize) -> &'m str {
        self.first_message(n)
            .map_or("", |m| messages[m].subject.as_str())
    }

    fn is_reply(&self, messages: &[SortInfo], n: usize) -> bool {
        self.nodes[n].message.is_some_and(|m| messages[m].is_reply)
    }

    /// RFC 5256 4, REFERENCES step 6: the root set after merging threads
    /// that share a base subject.
    fn merge_subjects(&mut self, messages: &[SortInfo], roots: Vec<usize>) -> Vec<usize> {
        let dummy = |t: &Threads, n: usize| t.nodes[n].message.is_none();
        // 6.B: one container per subject.
        let mut table: HashMap<&str, usize> = HashMap::new();
        for &r in &roots {
            let subject = self.subject(messages, r);
            if subject.is_empty() {
                continue;
            }
            match table.get(subject) {
                None => {
                    table.insert(subject, r);
                }
                Some(&old) => {
                    if !dummy(self, old)
                        && (dummy(self, r)
                            || (self.is_reply(messages, old) && !self.is_reply(messages, r)))
                    {
                        table.insert(subject, r);
                    }
                }
            }
        }
        // 6.C: merge. A root merged into another thread leaves the root
        // set; a new dummy takes the place of the table's container.
        let mut replaced: HashMap<usize, usize> = HashMap::new();
        let mut gone = vec![false; self.nodes.len()];
        for &r in &roots {
            let subject = self.subject(messages, r);
            if gone[r] || subject.is_empty() {
                continue;
            }
            let Some(&other) = table.get(subject) else {
                continue;
            };
            if other == r {
                continue;
            }
            match (dummy(self, other), dummy(self, r)) {
                (true, true) => {
                    let mut children = std::mem::take(&mut self.nodes[r].children);
                    self.nodes[other].children.append(&mut children);
                }
                (true, false) => self.nodes[other].children.push(r),
                _ if self.is_reply(messages, r) && !self.is_reply(messages, other) => {
                    self.nodes[other].children.push(r)
                }
                _ => {
                    // `other` is a message of the root set (the table
                    // only ever gets a dummy here).
                    let d = self.push(None);
                    gone.push(false);
                    self.nodes[d].children = vec![other, r];
                    replaced.insert(other, d);
                    gone[other] = true;
                    table.insert(subject, d);
                }
            }
            gone[r] = true;
        }
        roots
            .into_iter()
            .filter_map(|r| match replaced.get(&r) {
                Some(&d) => Some(d),
                None => (!gone[r]).then_some(r),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::fold;

    fn msg(id: Option<&str>, refs: &[&str], date: i64, subject: &str) -> SortInfo {
        let (base, reply) = crate::sort::base_subject(subject);
        SortInfo {
            uid: 0,
            date,
            message_id: id.map(str::to_string),
            references: refs.iter().map(|r| r.to_string()).collect(),
            subject: fold(&base),
            is_reply: reply,
            ..SortInfo::default()
        }
    }

    /// IMAP's `thread-list` rendering (RFC 5256 4), for the assertions.
    fn render(t: &Threads) -> String {
        fn one(t: &Threads, n: usize, out: &mut String) {
            let node = &t.nodes[n];
            if let Some(m) = node.message {
                out.push_str(&(m + 1).to_string());
            }
            match node.children.len() {
                0 => {}
                1 if node.message.is_some() => {
                    out.push(' ');
                    one(t, node.children[0], out);
                }
                _ => {
                    if node.message.is_some() {
                        out.push(' ');
                    }
                    for &c in &node.children {
                        out.push('(');
                        one(t, c, out);
                        out.push(')');
                    }
                }
            }
        }
        let mut out = String::new();
        for &r in &t.roots {
            out.push('(');
            one(t, r, &mut out);
            out.push(')');
        }
        out
    }

    #[test]
    fn references_links_breaks_loops_and_prunes_dummies() {
        // imaptest "thread": a later message reparents an earlier link.
        let m = [
            msg(Some("a@b"), &[], 3, ""),
            msg(Some("b@b"), &["a@b", "c@b"], 1, ""),
            msg(Some("c@b"), &["b@b"], 2, ""),
        ];
        assert_eq!(render(&references(&m)), "(3 2)(1)");
        // Duplicate ids are separate messages.
        let m = [msg(Some("a@b"), &[], 1, ""), msg(Some("a@b"), &[], 1, "")];
        assert_eq!(render(&references(&m)), "(1)(2)");
        // A dummy root with two children stays.
        let m = [msg(None, &["a@b"], 1, ""), msg(None, &["a@b"], 2, "")];
        assert_eq!(render(&references(&m)), "((1)(2))");
        let m = [
            msg(Some("1@b"), &[], 9, ""),
            msg(Some("2@b"), &["1@b"], 1, ""),
            msg(Some("3@b"), &["1@b"], 1, ""),
            msg(Some("4@b"), &["2@b"], 1, ""),
        ];
        assert_eq!(render(&references(&m)), "(1 (2 4)(3))");
    }

    #[test]
    fn references_merges_subjects() {
        let m = [
            msg(Some("a@b"), &[], 1, "foo"),
            msg(Some("b@b"), &["c@b"], 2, "Re: foo"),
        ];
        assert_eq!(render(&references(&m)), "(1 2)");
        // Two non-replies with one subject get a dummy parent.
        let m = [
            msg(Some("a@b"), &[], 1, "foo"),
            msg(Some("b@b"), &[], 2, "foo"),
        ];
        assert_eq!(render(&references(&m)), "((1)(2))");
    }

    #[test]
    fn rfc5256_example_shapes() {
        // RFC 5256 4: "(2)(3 6 (4 23)(44 7 96))": 3 -> 6 -> {4 -> 23,
        // 44 -> 7 -> 96}.
        let mut m: Vec<SortInfo> = (1..=96)
            .map(|n| msg(Some(&format!("{n}@x")), &[], n, &format!("s{n}")))
            .collect();
        m[5].references = vec!["3@x".into()];
        m[3].references = vec!["3@x".into(), "6@x".into()];
        m[22].references = vec!["4@x".into()];
        m[43].references = vec!["6@x".into()];
        m[6].references = vec!["44@x".into()];
        m[95].references = vec!["7@x".into()];
        let wanted = [2, 3, 4, 6, 7, 23, 44, 96];
        let m: Vec<SortInfo> = m
            .into_iter()
            .enumerate()
            .filter(|(i, _)| wanted.contains(&(i + 1)))
            .map(|(_, m)| m)
            .collect();
        // Positions 1..8 stand for 2, 3, 4, 6, 7, 23, 44, 96.
        assert_eq!(render(&references(&m)), "(1)(2 4 (3 6)(7 5 8))");
    }

    #[test]
    fn ordered_subject_groups_and_orders() {
        let m = [
            msg(None, &[], 10, "a"),
            msg(None, &[], 9, "b"),
            msg(None, &[], 8, "Re: a"),
            msg(None, &[], 7, "b"),
        ];
        assert_eq!(render(&ordered_subject(&m)), "(4 2)(3 1)");
    }

    #[test]
    fn a_hostile_chain_needs_no_stack() {
        let n = 20_000;
        let m: Vec<SortInfo> = (0..n)
            .map(|i| {
                let refs = if i == 0 {
                    vec![]
                } else {
                    vec![format!("{}@x", i - 1)]
                };
                SortInfo {
                    date: i,
                    message_id: Some(format!("{i}@x")),
                    references: refs,
                    ..SortInfo::default()
                }
            })
            .collect();
        let t = references(&m);
        assert!(!t.roots.is_empty());
        assert_eq!(t.post_order(&t.roots).len(), n as usize);
    }
}
