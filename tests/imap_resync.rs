//! The selected mailbox kept in O(changes) (issue 16), checked from the
//! client side against `cpm-store serve` with a model mailbox kept by the
//! test: QRESYNC (RFC 7162 3.2.5) and `UID FETCH … (CHANGEDSINCE m
//! VANISHED)` (3.2.6) after another session flagged, expunged and
//! appended; CONDSTORE MODSEQs as the changing session heard them; SEARCH
//! on flag keys, alone and with keys read from the message, against the
//! model.
//!
//! The assertions hold whether or not the store still remembers every
//! removal since the client's MODSEQ: `VANISHED (EARLIER)` must contain
//! every known UID expunged since, and name only known UIDs that are gone
//! (RFC 7162 3.2.5.2 lets a server that pruned its tombstones answer from
//! the UIDs the client knows).

use std::collections::{BTreeMap, BTreeSet};

use e2e_tests::imap::{tagged, ImapConnection};
use e2e_tests::Server;

/// A small deterministic generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 16) % u64::from(n.max(1))) as u32
    }
}

/// The mailbox as the test expects the server to hold it.
#[derive(Default)]
struct Model {
    /// Present messages: UID → flags (no `\Recent`).
    flags: BTreeMap<u32, BTreeSet<String>>,
    /// UID → the MODSEQ the changing session was told.
    modseq: BTreeMap<u32, u64>,
    /// Expunged UIDs with the HIGHESTMODSEQ after their removal.
    expunged: BTreeMap<u32, u64>,
}

impl Model {
    fn present(&self) -> BTreeSet<u32> {
        self.flags.keys().copied().collect()
    }

    /// Present UIDs changed (flags or arrival) after MODSEQ `m`.
    fn changed_since(&self, m: u64) -> BTreeSet<u32> {
        self.modseq
            .iter()
            .filter(|(u, &ms)| ms > m && self.flags.contains_key(u))
            .map(|(&u, _)| u)
            .collect()
    }

    fn expunged_since(&self, m: u64) -> BTreeSet<u32> {
        self.expunged
            .iter()
            .filter(|(_, &ms)| ms > m)
            .map(|(&u, _)| u)
            .collect()
    }
}

/// The number after `label` in `line` (`MODSEQ (7)`, `UID 3`).
fn number_after(line: &str, label: &str) -> u64 {
    let at = line
        .find(label)
        .unwrap_or_else(|| panic!("no {label} in {line}"));
    line[at + label.len()..]
        .trim_start_matches([' ', '('])
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("number after {label} in {line}"))
}

/// The flags of a FETCH line, without `\Recent`.
fn flags_in(line: &str) -> BTreeSet<String> {
    let at = line.find("FLAGS (").expect("FLAGS") + "FLAGS (".len();
    let end = at + line[at..].find(')').expect("end of FLAGS");
    line[at..end]
        .split(' ')
        .filter(|f| !f.is_empty() && *f != "\\Recent")
        .map(str::to_string)
        .collect()
}

/// The numbers of a sequence set (`1:3,7`).
fn expand(set: &str) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for part in set.split(',') {
        let (a, b) = part.split_once(':').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.parse().expect("number"), b.parse().expect("number"));
        out.extend(a.min(b)..=a.max(b));
    }
    out
}

fn compact(uids: &BTreeSet<u32>) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn highest_modseq(c: &mut ImapConnection) -> u64 {
    let lines = c.run("h STATUS m (HIGHESTMODSEQ)");
    let line = lines
        .iter()
        .find(|l| l.starts_with("* STATUS"))
        .expect("STATUS");
    number_after(line, "HIGHESTMODSEQ")
}

/// `* VANISHED (EARLIER)` UIDs and the FETCH lines by UID of a response.
fn resync_lines(lines: &[String]) -> (BTreeSet<u32>, BTreeMap<u32, String>) {
    let mut vanished = BTreeSet::new();
    let mut fetched = BTreeMap::new();
    for l in lines {
        if let Some(set) = l.strip_prefix("* VANISHED (EARLIER) ") {
            vanished.extend(expand(set));
        } else if l.starts_with("* ") && l.contains(" FETCH (") {
            fetched.insert(number_after(l, "UID ") as u32, l.clone());
        }
    }
    (vanished, fetched)
}

fn append(c: &mut ImapConnection, i: usize) -> u32 {
    let m = format!("From: bob@example.com\r\nSubject: note {i}\r\n\r\nbody {i}\r\n");
    c.send(format!("a APPEND m {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
    let lines = c.read_until_tagged("a");
    let line = tagged(&lines);
    assert!(line.contains("OK"), "{lines:?}");
    // `[APPENDUID validity uid]` (RFC 4315).
    line.split("APPENDUID ")
        .nth(1)
        .and_then(|r| r.split([' ', ']']).nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("APPENDUID in {line}"))
}

const FLAGS: [&str; 5] = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Work"];

/// One random change by `c` (selected on `m` with CONDSTORE), applied to
/// the model: a flag replace, an expunge or an append.
fn random_change(c: &mut ImapConnection, model: &mut Model, rng: &mut Rng, n: &mut usize) {
    let present: Vec<u32> = model.present().into_iter().collect();
    match rng.below(10) {
        0..=5 if !present.is_empty() => {
            let uid = present[rng.below(present.len() as u32) as usize];
            let flags: BTreeSet<String> = FLAGS
                .iter()
                .filter(|_| rng.below(2) == 0)
                .map(|f| f.to_string())
                .collect();
            let list = flags.iter().cloned().collect::<Vec<_>>().join(" ");
            let lines = c.run(&format!("s UID STORE {uid} FLAGS ({list})"));
            assert!(tagged(&lines).contains("OK"), "{lines:?}");
            let fetch = lines
                .iter()
                .find(|l| l.contains(" FETCH (") && l.contains(&format!("UID {uid}")))
                .unwrap_or_else(|| panic!("FETCH for {uid} in {lines:?}"));
            assert_eq!(flags_in(fetch), flags, "{fetch}");
            model.modseq.insert(uid, number_after(fetch, "MODSEQ"));
            model.flags.insert(uid, flags);
        }
        6..=7 if !present.is_empty() => {
            let uid = present[rng.below(present.len() as u32) as usize];
            c.run(&format!("d UID STORE {uid} +FLAGS.SILENT (\\Deleted)"));
            let lines = c.run(&format!("x UID EXPUNGE {uid}"));
            assert!(tagged(&lines).contains("OK"), "{lines:?}");
            model.flags.remove(&uid);
            let after = highest_modseq(c);
            model.expunged.insert(uid, after);
        }
        _ => {
            *n += 1;
            let uid = append(c, *n);
            model.flags.insert(uid, BTreeSet::new());
            let after = highest_modseq(c);
            model.modseq.insert(uid, after);
        }
    }
}

/// Checks a resync answer against the model: `VANISHED (EARLIER)`
/// contains the known UIDs expunged since `since` and lies within the
/// known UIDs that are gone; the FETCHes are exactly the present messages
/// changed since, each with the model's flags and MODSEQ.
fn check_resync(
    lines: &[String],
    model: &Model,
    since: u64,
    known: &BTreeSet<u32>,
    within: &BTreeSet<u32>,
) {
    let (vanished, fetched) = resync_lines(lines);
    let present = model.present();
    let must: BTreeSet<u32> = model
        .expunged_since(since)
        .intersection(known)
        .copied()
        .collect();
    assert!(
        vanished.is_superset(&must),
        "VANISHED {vanished:?} lacks {must:?} (since {since})"
    );
    let allowed: BTreeSet<u32> = known.difference(&present).copied().collect();
    assert!(
        vanished.is_subset(&allowed),
        "VANISHED {vanished:?} names UIDs present or unknown (since {since})"
    );
    let want: BTreeSet<u32> = model
        .changed_since(since)
        .intersection(within)
        .copied()
        .collect();
    let got: BTreeSet<u32> = fetched.keys().copied().collect();
    assert_eq!(got, want, "FETCHed UIDs since {since}");
    for (uid, line) in &fetched {
        assert_eq!(&flags_in(line), &model.flags[uid], "{line}");
        assert_eq!(number_after(line, "MODSEQ"), model.modseq[uid], "{line}");
    }
}

#[test]
fn qresync_and_changedsince_vanished_after_another_session_match_a_model() {
    let server = Server::with_alice();
    let mut writer = ImapConnection::login(server.imap, "alice", "secret");
    writer.run("c CREATE m");
    let mut model = Model::default();
    let mut n = 0;
    for _ in 0..40 {
        n += 1;
        let uid = append(&mut writer, n);
        model.flags.insert(uid, BTreeSet::new());
    }
    let lines = writer.run("s SELECT m (CONDSTORE)");
    let validity = number_after(
        lines
            .iter()
            .find(|l| l.contains("[UIDVALIDITY"))
            .expect("UIDVALIDITY"),
        "UIDVALIDITY",
    );
    // The boundary: CHANGEDSINCE is exclusive (RFC 7162 3.1.4.1). The
    // last message appended has the folder's HIGHESTMODSEQ.
    let h = highest_modseq(&mut writer);
    let lines = writer.run(&format!("b UID FETCH 1:* (FLAGS) (CHANGEDSINCE {h})"));
    assert!(!lines.iter().any(|l| l.contains(" FETCH (")), "{lines:?}");
    let lines = writer.run(&format!("b UID FETCH 1:* (FLAGS) (CHANGEDSINCE {})", h - 1));
    let (_, fetched) = resync_lines(&lines);
    assert_eq!(
        fetched.keys().copied().collect::<Vec<_>>(),
        vec![40],
        "{lines:?}"
    );
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    // Three checkpoints: before any change, after a third and after two
    // thirds of them, with what a client then knew.
    let mut checkpoints = Vec::new();
    for round in 0..3 {
        checkpoints.push((highest_modseq(&mut writer), model.present()));
        for _ in 0..30 + round * 5 {
            random_change(&mut writer, &mut model, &mut rng, &mut n);
        }
    }
    // Every UID ever given (UIDs start at 1 in a new folder).
    let given = model
        .modseq
        .keys()
        .chain(model.flags.keys())
        .chain(model.expunged.keys())
        .max()
        .copied()
        .unwrap_or(0);
    for (since, known) in &checkpoints {
        // SELECT … (QRESYNC (validity since known-uids)).
        let mut c = ImapConnection::login(server.imap, "alice", "secret");
        c.run("e ENABLE QRESYNC");
        let lines = c.run(&format!(
            "s SELECT m (QRESYNC ({validity} {since} {}))",
            compact(known)
        ));
        assert!(tagged(&lines).contains("OK"), "{lines:?}");
        let everything: BTreeSet<u32> = (1..=given).collect();
        check_resync(&lines, &model, *since, known, &everything);

        // Without known-uids: every UID below UIDNEXT counts as known.
        let lines = c.run(&format!("s SELECT m (QRESYNC ({validity} {since}))"));
        assert!(tagged(&lines).contains("OK"), "{lines:?}");
        let all_known: BTreeSet<u32> = (1..=given).collect();
        check_resync(&lines, &model, *since, &all_known, &everything);

        // UID FETCH over the odd UIDs with CHANGEDSINCE and VANISHED:
        // the same answer, within the set.
        let odd: BTreeSet<u32> = (1..=given).filter(|u| u % 2 == 1).collect();
        let lines = c.run(&format!(
            "f UID FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)"
        ));
        assert!(tagged(&lines).contains("OK"), "{lines:?}");
        check_resync(&lines, &model, *since, &everything, &everything);
        let lines = c.run(&format!(
            "f UID FETCH {} (FLAGS) (CHANGEDSINCE {since} VANISHED)",
            compact(&odd)
        ));
        check_resync(&lines, &model, *since, &odd, &odd);
    }

    // CONDSTORE: every message's MODSEQ is the one its last change was
    // reported with, and its flags are the model's.
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    c.run("s SELECT m (CONDSTORE)");
    let lines = c.run("f UID FETCH 1:* (FLAGS MODSEQ)");
    let (_, fetched) = resync_lines(&lines);
    assert_eq!(
        fetched.keys().copied().collect::<BTreeSet<_>>(),
        model.present()
    );
    for (uid, line) in &fetched {
        assert_eq!(&flags_in(line), &model.flags[uid], "{line}");
        if let Some(m) = model.modseq.get(uid) {
            assert_eq!(number_after(line, "MODSEQ"), *m, "{line}");
        }
    }
}

#[test]
fn search_on_flag_keys_and_mixed_keys_matches_a_model() {
    let server = Server::with_alice();
    let mut c = ImapConnection::login(server.imap, "alice", "secret");
    c.run("c CREATE m");
    let mut model = Model::default();
    for n in 1..=60 {
        let uid = append(&mut c, n);
        model.flags.insert(uid, BTreeSet::new());
    }
    let mut rng = Rng(0x5EED_0000_0000_0042);
    c.run("s SELECT m");
    let uids: Vec<u32> = model.present().into_iter().collect();
    for &uid in &uids {
        let flags: BTreeSet<String> = FLAGS
            .iter()
            .chain(["\\Deleted"].iter())
            .filter(|_| rng.below(3) == 0)
            .map(|f| f.to_string())
            .collect();
        let list = flags.iter().cloned().collect::<Vec<_>>().join(" ");
        let lines = c.run(&format!("f UID STORE {uid} FLAGS.SILENT ({list})"));
        assert!(tagged(&lines).contains("OK"), "{lines:?}");
        model.flags.insert(uid, flags);
    }
    let has = |u: &u32, f: &str| model.flags[u].contains(f);
    // The subject holds the message number: `note 1` .. `note 60`, and
    // UID n is message n here.
    let subject_has_1 = |u: &u32| u.to_string().contains('1');
    type Case<'a> = (&'a str, Box<dyn Fn(&u32) -> bool + 'a>);
    let cases: Vec<Case> = vec![
        ("SEEN", Box::new(|u| has(u, "\\Seen"))),
        ("UNSEEN", Box::new(|u| !has(u, "\\Seen"))),
        ("FLAGGED", Box::new(|u| has(u, "\\Flagged"))),
        ("UNFLAGGED", Box::new(|u| !has(u, "\\Flagged"))),
        (
            "DELETED ANSWERED",
            Box::new(|u| has(u, "\\Deleted") && has(u, "\\Answered")),
        ),
        ("UNDELETED", Box::new(|u| !has(u, "\\Deleted"))),
        ("DRAFT", Box::new(|u| has(u, "\\Draft"))),
        (
            "UNDRAFT UNANSWERED",
            Box::new(|u| !has(u, "\\Draft") && !has(u, "\\Answered")),
        ),
        ("KEYWORD $Work", Box::new(|u| has(u, "$Work"))),
        ("UNKEYWORD $Work", Box::new(|u| !has(u, "$Work"))),
        ("NOT SEEN", Box::new(|u| !has(u, "\\Seen"))),
        (
            "OR FLAGGED DRAFT",
            Box::new(|u| has(u, "\\Flagged") || has(u, "\\Draft")),
        ),
        (
            "SUBJECT 1 FLAGGED",
            Box::new(|u| subject_has_1(u) && has(u, "\\Flagged")),
        ),
        (
            "NOT SUBJECT 1 UNSEEN",
            Box::new(|u| !subject_has_1(u) && !has(u, "\\Seen")),
        ),
        (
            "OR SUBJECT 1 SEEN",
            Box::new(|u| subject_has_1(u) || has(u, "\\Seen")),
        ),
        (
            "10:30 UNSEEN",
            Box::new(|u| (10..=30).contains(u) && !has(u, "\\Seen")),
        ),
        (
            "UID 5:20 KEYWORD $Work",
            Box::new(|u| (5..=20).contains(u) && has(u, "$Work")),
        ),
        ("ALL", Box::new(|_| true)),
        ("RECENT", Box::new(|_| true)),
        ("NEW", Box::new(|u| !has(u, "\\Seen"))),
    ];
    for (criteria, expected) in cases {
        let lines = c.run(&format!("q UID SEARCH {criteria}"));
        let line = lines
            .iter()
            .find(|l| l.starts_with("* SEARCH"))
            .unwrap_or_else(|| panic!("{criteria}: {lines:?}"));
        let got: BTreeSet<u32> = line
            .split(' ')
            .skip(2)
            .map(|n| n.parse().expect("number"))
            .collect();
        let want: BTreeSet<u32> = uids.iter().copied().filter(|u| expected(u)).collect();
        assert_eq!(got, want, "UID SEARCH {criteria}");
    }
}

/// A creates `m` with messages 1..=3, enables `extension` (CONDSTORE or
/// QRESYNC) and selects `m`; B,
/// selected too, expunges UID 1 (after which `STATUS` says `removed_at`)
/// and flags UID 2. A then runs `FETCH 2 (FLAGS)`, which may not report
/// the expunge (RFC 3501 7.4.1): it is held back. Returns (A, B,
/// the HIGHESTMODSEQ after the removal, A's HIGHESTMODSEQ before it).
fn held_back_expunge(
    server: &Server,
    extension: &str,
) -> (ImapConnection, ImapConnection, u64, u64) {
    let mut a = ImapConnection::login(server.imap, "alice", "secret");
    let mut b = ImapConnection::login(server.imap, "alice", "secret");
    assert!(tagged(&a.run("c CREATE m")).starts_with("c OK"));
    for i in 1..=3 {
        append(&mut a, i);
    }
    let before = highest_modseq(&mut a);
    assert!(tagged(&a.run(&format!("q ENABLE {extension}"))).starts_with("q OK"));
    assert!(tagged(&a.run("s SELECT m")).starts_with("s OK"));
    assert!(tagged(&b.run("s SELECT m")).starts_with("s OK"));
    assert!(tagged(&b.run("d UID STORE 1 +FLAGS.SILENT (\\Deleted)")).starts_with("d OK"));
    assert!(tagged(&b.run("e EXPUNGE")).starts_with("e OK"));
    let removed_at = highest_modseq(&mut b);
    assert!(tagged(&b.run("f UID STORE 2 +FLAGS.SILENT (\\Flagged)")).starts_with("f OK"));
    let lines = a.run("g FETCH 2 (FLAGS)");
    assert!(tagged(&lines).starts_with("g OK"), "{lines:?}");
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("EXPUNGE") || l.starts_with("* VANISHED")),
        "{lines:?}"
    );
    (a, b, removed_at, before)
}

/// RFC 7162 3.2.10: while an expunge is held back, a MODSEQ above it may
/// be shown (here message 2's, flagged after the expunge), so the command
/// ends with `* OK [HIGHESTMODSEQ]` below the held-back removal's MODSEQ:
/// a client that saves it and reconnects still hears of the removal.
#[test]
fn a_held_back_expunge_keeps_the_highestmodseq_told_below_it() {
    let server = Server::with_alice();
    let (mut a, _b, removed_at, _) = held_back_expunge(&server, "CONDSTORE");
    let lines = a.run("h FETCH 2 (MODSEQ)");
    assert!(tagged(&lines).starts_with("h OK"), "{lines:?}");
    let shown = lines
        .iter()
        .find(|l| l.starts_with("* 2 FETCH"))
        .map(|l| number_after(l, "MODSEQ"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(shown > removed_at, "{lines:?}");
    let told: Vec<u64> = lines
        .iter()
        .filter(|l| l.starts_with("* OK [HIGHESTMODSEQ "))
        .map(|l| number_after(l, "HIGHESTMODSEQ"))
        .collect();
    assert!(
        !told.is_empty() && told.iter().all(|&m| m < removed_at),
        "removal at {removed_at}: {lines:?}"
    );
    // Once the expunge is reported, the HIGHESTMODSEQ may be the latest.
    let lines = a.run("n NOOP");
    assert!(lines.iter().any(|l| l == "* 1 EXPUNGE"), "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.starts_with("* OK [HIGHESTMODSEQ ")),
        "{lines:?}"
    );
}

/// RFC 7162 3.2.10: `VANISHED (EARLIER)` names UIDs the client no longer
/// counts; a UID held back in the session (expunged elsewhere, not yet
/// reported) is still counted, so `UID FETCH (CHANGEDSINCE VANISHED)`
/// leaves it out and the session reports it once with a plain
/// `* VANISHED`, which lowers the client's count.
#[test]
fn changedsince_vanished_does_not_name_a_held_back_uid_as_earlier() {
    let server = Server::with_alice();
    let (mut a, _b, _, since) = held_back_expunge(&server, "QRESYNC");
    let lines = a.run(&format!(
        "v UID FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)"
    ));
    assert!(tagged(&lines).starts_with("v OK"), "{lines:?}");
    let earlier: BTreeSet<u32> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("* VANISHED (EARLIER) "))
        .flat_map(expand)
        .collect();
    assert!(!earlier.contains(&1), "{lines:?}");
    // Flagged `\Deleted` since the MODSEQ and held back: its FETCH still
    // comes (its record retained for the view), as does message 2's.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("* 1 FETCH (UID 1 FLAGS (\\Deleted")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("* 2 FETCH (UID 2 FLAGS (\\Flagged")),
        "{lines:?}"
    );
    let plain: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("* VANISHED ") && !l.contains("EARLIER"))
        .collect();
    assert_eq!(plain, vec!["* VANISHED 1"], "{lines:?}");
}
