//! Dovecot's imaptest against the real binary (issue 14): its 71 scripted
//! compliance groups, each of which must run (no skip for a missing
//! capability) and pass, and its stress mode (ten clients running random
//! commands on one mailbox, with state tracking), which must report no
//! error, no unparsable response and no hung command.
//!
//! imaptest is built from `tools/imaptest/` (MIT, vendored source archive)
//! by `scripts/test.sh` into `target/imaptest/`; `IMAPTEST_DIR` overrides
//! where it is looked for.

use e2e_tests::imap::ImapConnection;
use e2e_tests::Server;
use std::path::PathBuf;
use std::process::Command;

const PASSWORD: &str = "imaptest-pass";

/// The directory holding `imaptest` and `tests/`.
fn imaptest_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("IMAPTEST_DIR") {
        return PathBuf::from(dir);
    }
    // target/debug/cpm-store -> target/imaptest
    let target = e2e_tests::binary()
        .parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .to_path_buf();
    let dir = target.join("imaptest");
    assert!(
        dir.join("imaptest").exists(),
        "{} missing: run `tools/imaptest/build.sh {}` (scripts/test.sh does)",
        dir.join("imaptest").display(),
        dir.display()
    );
    dir
}

/// A started server with the accounts imaptest logs in as: `u1`, and `u2`
/// (same password) owning the `imaptest` mailbox that the two-user group
/// `urlauth2` selects.
fn server() -> Server {
    let mut server = Server::new();
    server.add_account("u1", PASSWORD);
    server.add_account("u2", PASSWORD);
    server.start();
    let mut u2 = ImapConnection::login(server.imap, "u2", PASSWORD);
    let created = u2.run("c1 CREATE imaptest");
    assert!(
        created.last().is_some_and(|l| l.starts_with("c1 OK")),
        "{created:?}"
    );
    server
}

/// Runs imaptest with `args` against `server`; returns its stdout+stderr.
fn imaptest(server: &Server, args: &[&str]) -> String {
    let dir = imaptest_dir();
    let out = Command::new(dir.join("imaptest"))
        .arg("host=127.0.0.1")
        .arg(format!("port={}", server.imap.port()))
        .arg("user=u1")
        .arg("user2=u2")
        .arg(format!("pass={PASSWORD}"))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("run imaptest");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

/// Whether imaptest's summary of one group says it passed and ran
/// commands: its skip counter stays 0 even for a skipped group, which
/// shows instead as "0/0 individual commands" in both lines.
fn group_ran_and_passed(output: &str) -> bool {
    // "base protocol: F/N individual commands failed", "extensions: F/N ..."
    let counts: Vec<(u32, u32)> = output
        .lines()
        .filter(|l| l.ends_with("individual commands failed"))
        .filter_map(|l| {
            let (failed, total) = l.split(": ").nth(1)?.split(' ').next()?.split_once('/')?;
            Some((failed.parse().ok()?, total.parse().ok()?))
        })
        .collect();
    output.contains("1 test groups: 0 failed, 0 skipped")
        && counts.len() == 2
        && counts.iter().all(|&(failed, _)| failed == 0)
        && counts.iter().map(|&(_, total)| total).sum::<u32>() > 0
}

/// Every scripted group, run one at a time so that each is seen to run.
#[test]
fn every_scripted_group_runs_and_passes() {
    let server = server();
    let tests = imaptest_dir().join("tests");
    let mut groups: Vec<String> = std::fs::read_dir(&tests)
        .expect("imaptest tests dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".mbox"))
        .collect();
    groups.sort();
    assert_eq!(
        groups.len(),
        71,
        "imaptest 2.3.21 has 71 groups: {groups:?}"
    );
    let mut failures = Vec::new();
    for group in &groups {
        let path = tests.join(group);
        let output = imaptest(&server, &[&format!("test={}", path.display())]);
        if !group_ran_and_passed(&output) {
            failures.push(format!("--- {group}\n{output}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} imaptest groups failed or were skipped:\n{}",
        failures.len(),
        groups.len(),
        failures.join("\n")
    );
}

/// Stress runs one at a time: each is ten busy clients on a 2-core box.
static STRESS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One stress run of 30 s on a fresh server; `extra` adds imaptest
/// settings. Any `Error:` line (a response that contradicts the state
/// imaptest tracked, or one it cannot parse) or a command stalled for
/// more than 15 s fails it.
fn stress(extra: &[&str]) {
    let _one_at_a_time = STRESS.lock().unwrap_or_else(|e| e.into_inner());
    let server = server();
    let mbox = imaptest_dir().join("tests/default.mbox");
    let mut args = vec![
        "clients=10".to_string(),
        "secs=30".to_string(),
        format!("mbox={}", mbox.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = imaptest(&server, &refs);
    let errors: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("Error:") || l.contains("stalled for"))
        .collect();
    assert!(
        errors.is_empty(),
        "imaptest stress {extra:?}: {} error lines, first:\n{}\n--- tail:\n{}",
        errors.len(),
        errors
            .iter()
            .take(40)
            .copied()
            .collect::<Vec<_>>()
            .join("\n"),
        output
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        output.contains("Logi"),
        "imaptest printed no statistics: {output}"
    );
}

#[test]
fn stress_mixed_sizes() {
    stress(&[]);
}

#[test]
fn stress_with_qresync() {
    stress(&["qresync"]);
}

/// Every 5 s all clients stop and imaptest compares their views. Without
/// logouts (`logout=0`) it also checks that the RECENT counts of all
/// sessions add up to the message count and that no message is `\Recent`
/// nowhere (RFC 3501 2.3.2); a reconnection would turn those checks off.
#[test]
fn stress_with_checkpoints() {
    stress(&["checkpoint=5", "logout=0"]);
}

/// [`stress_with_checkpoints`] with QRESYNC enabled (VANISHED in place of
/// EXPUNGE, RFC 7162 3.2.10).
#[test]
fn stress_with_qresync_and_checkpoints() {
    stress(&["qresync", "checkpoint=5", "logout=0"]);
}

#[test]
fn stress_random_sizes_with_qresync_and_checkpoints() {
    stress(&["random_msg_size=2048", "qresync", "checkpoint=5"]);
}
