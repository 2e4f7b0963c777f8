//! The README works as written, and the deploy files are what it says.
//!
//! - The quickstart: its shell blocks (between `<!-- quickstart -->` and
//!   `<!-- /quickstart -->` in README.md) run in order, in one bash, in an
//!   empty directory, against the binary cargo built for these tests
//!   (linked as `target/release/cpm-store` there, in place of the README's
//!   first line, its release build). The quickstart uses the default ports,
//!   so it runs in a network namespace of its own (`unshare -rn`) where
//!   they are always free; without namespaces it runs on the host when
//!   every default port is free, and is skipped, saying why, otherwise.
//! - deploy/cpm-store.service scores below 4 in `systemd-analyze security`
//!   (skipped, saying so, without systemd-analyze; scripts/test.sh
//!   installs it).
//! - deploy/cpm-store.container.toml is a valid configuration whose server
//!   answers the image's HEALTHCHECK command; the Containerfile does not
//!   expose the admin port; .dockerignore keeps secrets and build output
//!   out of the build context.
//! - No file points outside the repository, every relative link of the
//!   README and ARCHITECTURE.md resolves, and the README's Layout names
//!   every crate.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::binary;

/// The repository's root directory.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The contents of the ```sh blocks between the quickstart markers.
fn quickstart_blocks(readme: &str) -> Vec<String> {
    let start = readme
        .find("<!-- quickstart -->")
        .expect("README.md has a <!-- quickstart --> marker");
    let end = readme[start..]
        .find("<!-- /quickstart -->")
        .map(|e| start + e)
        .expect("README.md has a <!-- /quickstart --> marker after the first");
    let mut blocks = Vec::new();
    let mut rest = &readme[start..end];
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + "```sh\n".len()..];
        let close = body.find("\n```").expect("a closed code block");
        blocks.push(body[..close].to_string());
        rest = &body[close + 4..];
    }
    blocks
}

/// The ports the default configuration listens on (config/cpm-store.toml).
const DEFAULT_TCP_PORTS: [u16; 9] = [1143, 1993, 8080, 8443, 8081, 8444, 5060, 5061, 8099];

/// Whether `unshare -rn` can give a command a network namespace of its own
/// with its loopback up.
fn network_namespace_available() -> bool {
    Command::new("unshare")
        .args(["-rn", "sh", "-c", "ip link set lo up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn default_ports_free() -> bool {
    DEFAULT_TCP_PORTS.iter().all(|port| {
        let addr = SocketAddr::from(([127, 0, 0, 1], *port));
        TcpListener::bind(addr).is_ok()
    }) && UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 5060))).is_ok()
}

/// How a script that uses the default ports is run: in its own network
/// namespace, on the host, or not at all (the reason).
fn isolated(script: &Path) -> Result<Command, String> {
    if network_namespace_available() {
        let mut command = Command::new("unshare");
        command.args(["-rn", "bash", "-c", "ip link set lo up && exec bash \"$0\""]);
        command.arg(script);
        Ok(command)
    } else if default_ports_free() {
        let mut command = Command::new("bash");
        command.arg(script);
        Ok(command)
    } else {
        Err(format!(
            "no network namespace (unshare -rn) and a default port of {DEFAULT_TCP_PORTS:?} is in use"
        ))
    }
}

/// Runs `command` in `dir` for at most `limit`; its output, or a panic
/// with what it printed when it runs over.
fn run_bounded(mut command: Command, dir: &Path, limit: Duration) -> Output {
    let mut child = command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = out.join().unwrap_or_default();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "still running after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

#[test]
fn quickstart_works_as_written() {
    e2e_tests::require_tool("curl", "curl");
    e2e_tests::require_tool("python3", "python3");
    let blocks = quickstart_blocks(&read("README.md"));
    assert!(blocks.len() >= 4, "quickstart blocks: {blocks:#?}");
    let script = blocks.join("\n");
    let (build, steps) = script.split_once('\n').expect("more than one line");
    assert_eq!(
        build, "cargo build --release -p supervisor",
        "the quickstart starts with its one build"
    );
    for must in [
        "readyz",
        "account add",
        "imaps://",
        "?preview=",
        "/nms/v1/",
        "kill %1",
    ] {
        assert!(steps.contains(must), "the quickstart has no {must}");
    }

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("target/release")).expect("mkdir");
    std::os::unix::fs::symlink(binary(), dir.path().join("target/release/cpm-store"))
        .expect("link the binary");
    // Each step must succeed (-e, pipefail); the failing one is named; a
    // server still running when the script stops is stopped.
    let harness = "set -euo pipefail\n\
        trap 'echo \"quickstart step failed (exit $?): $BASH_COMMAND\" >&2' ERR\n\
        trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n\
        set -x\n";
    let path = dir.path().join("quickstart.sh");
    std::fs::write(&path, format!("{harness}{steps}\n")).expect("write the script");
    let command = match isolated(&path) {
        Ok(command) => command,
        Err(why) => {
            eprintln!("SKIPPED quickstart_works_as_written: {why}");
            return;
        }
    };
    let out = run_bounded(command, dir.path(), Duration::from_secs(240));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = std::fs::read_to_string(dir.path().join("cpm-store.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the quickstart failed\nstdout:\n{stdout}\nstderr (the steps):\n{}\nserver log:\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What each step shows its reader.
    for (shown, step) in [
        ("ready", "readiness"),
        ("alice", "account add"),
        ("first message", "the IMAP fetch over TLS"),
        ("the same bytes over IMAP", "the WebDAV file read over IMAP"),
        ("\"path\":\"/Media\"", "the NMS folder list"),
        ("\"value\":[\"photo.png\"]", "the NMS search"),
        ("\"value\":[\"hello\"]", "the NMS search"),
    ] {
        assert!(stdout.contains(shown), "{step}: no {shown:?} in\n{stdout}");
    }
    let thumb = image::open(dir.path().join("thumb.png")).expect("the preview is an image");
    assert_eq!(
        (thumb.width(), thumb.height()),
        (128, 96),
        "128x128 keeps 4:3"
    );
}

/// The overall exposure `systemd-analyze security` gives the unit.
fn exposure(output: &str) -> Option<f64> {
    let line = output
        .lines()
        .find(|l| l.contains("Overall exposure level for cpm-store.service"))?;
    line.rsplit_once(": ")?
        .1
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn systemd_unit_scores_below_4() {
    let found = Command::new("sh")
        .args(["-c", "command -v systemd-analyze"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "SKIPPED systemd_unit_scores_below_4: no systemd-analyze (apt-get install systemd)"
        );
        return;
    }
    let unit = repo().join("deploy/cpm-store.service");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let score = exposure(&text).unwrap_or_else(|| {
        panic!(
            "no overall exposure in\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(score < 4.0, "exposure {score}:\n{text}");
    let unit = read("deploy/cpm-store.service");
    for directive in [
        "Type=notify",
        "User=cpm-store",
        "UMask=0077",
        "LimitNOFILE=65536",
        "StateDirectory=cpm-store",
    ] {
        assert!(
            unit.lines().any(|l| l.trim() == directive),
            "no {directive} in the unit"
        );
    }
    let sysusers = read("deploy/cpm-store.sysusers");
    assert!(
        sysusers
            .lines()
            .any(|l| l.trim() == "u cpm-store - \"cpm-store\" /var/lib/cpm-store"),
        "{sysusers}"
    );
}

#[test]
fn container_config_is_valid_and_answers_the_healthcheck() {
    let config = repo().join("deploy/cpm-store.container.toml");
    let check = Command::new(binary())
        .arg("check")
        .arg("--config")
        .arg(&config)
        .output()
        .expect("cpm-store check runs");
    let settings = e2e_tests::succeeded(&check);
    assert!(settings.contains("0.0.0.0:1143"), "{settings}");
    assert!(
        settings.contains("data_dir = \"/var/lib/cpm-store\""),
        "{settings}"
    );
    // The admin endpoint stays on loopback (the default, so not printed as
    // a difference, or printed as loopback).
    assert!(!settings.contains("0.0.0.0:8099"), "{settings}");

    let containerfile = read("deploy/Containerfile");
    let instruction = |name: &str| -> Vec<String> {
        containerfile
            .lines()
            .filter(|l| l.starts_with(name))
            .map(str::to_string)
            .collect()
    };
    let expose = instruction("EXPOSE ").join(" ");
    assert!(
        expose.contains("1993") && !expose.contains("8099"),
        "{expose}"
    );
    assert_eq!(instruction("USER "), ["USER 10143:10143"]);
    assert!(containerfile
        .contains("CMD [\"cpm-store\",\"health\",\"--config\",\"/etc/cpm-store/cpm-store.toml\"]"));
    assert!(containerfile
        .contains("COPY deploy/cpm-store.container.toml /etc/cpm-store/cpm-store.toml"));
    let ignore = read(".dockerignore");
    for kept_out in [
        "target/",
        "data/",
        ".git/",
        "fuzz/target/",
        "*.key",
        "*.pem",
        "**/admin.token",
    ] {
        assert!(
            ignore.lines().any(|l| l.trim() == kept_out),
            ".dockerignore lacks {kept_out}"
        );
    }

    // The HEALTHCHECK's command against a server on this configuration
    // (the data directory moved to a temporary one).
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let bin = binary();
    let script = dir.path().join("health.sh");
    std::fs::write(
        &script,
        format!(
            "set -u\n\
             cfg={config:?}; data={data:?}; bin={bin:?}\n\
             \"$bin\" --config \"$cfg\" --data-dir \"$data\" serve 2> server.log &\n\
             trap 'kill $! 2>/dev/null' EXIT\n\
             for _ in $(seq 150); do\n\
               if \"$bin\" --config \"$cfg\" --data-dir \"$data\" health >/dev/null 2>&1; then\n\
                 kill %1; wait %1; exit $?\n\
               fi\n\
               sleep 0.2\n\
             done\n\
             echo 'health never succeeded' >&2; cat server.log >&2; exit 1\n"
        ),
    )
    .expect("write the script");
    let command = match isolated(&script) {
        Ok(command) => command,
        Err(why) => {
            eprintln!("SKIPPED the HEALTHCHECK part: {why}");
            return;
        }
    };
    let out = run_bounded(command, dir.path(), Duration::from_secs(90));
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Text files of the repository, without build output and VCS data.
fn repository_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(name.as_ref(), "target" | ".git" | "data" | "artifacts") {
                repository_files(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[test]
fn nothing_points_outside_the_repository() {
    let root = repo();
    let mut files = Vec::new();
    repository_files(&root, &mut files);
    // Spelled in pieces so that this file does not match itself.
    let outside = [concat!("..", "/shared/"), concat!("/work", "/shared")];
    let mut found = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue; // binary
        };
        for needle in outside {
            if text.contains(needle) {
                found.push(format!("{} mentions {needle}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");

    for doc in ["README.md", "ARCHITECTURE.md"] {
        let text = read(doc);
        for (i, _) in text.match_indices("](") {
            let target = &text[i + 2..];
            let target = &target[..target.find(')').unwrap_or(target.len())];
            let path = target.split('#').next().unwrap_or_default();
            if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                continue;
            }
            assert!(
                root.join(path).exists(),
                "{doc} links to {target}, which is not in the repository"
            );
        }
    }
}

#[test]
fn layout_names_every_crate() {
    let readme = read("README.md");
    let start = readme.find("## Layout").expect("a Layout section");
    let layout = &readme[start..];
    let layout = &layout[..layout[3..].find("\n## ").map_or(layout.len(), |e| e + 3)];
    let manifest = read("Cargo.toml");
    let members = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("workspace members")
        .0;
    let mut dirs: Vec<&str> = members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty())
        .collect();
    dirs.push("fuzz");
    for dir in dirs {
        let shown = format!("\n{dir}");
        let shown_slash = format!("\n{}/", dir.trim_end_matches('/'));
        assert!(
            layout.contains(&shown) || layout.contains(&shown_slash),
            "the Layout does not list {dir}"
        );
    }
}
