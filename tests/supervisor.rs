//! The `cpm-store` binary end to end: serve, account administration with
//! the server up and down, SIGTERM, and what a reopened store holds.

use e2e_tests::Server;
use store_core::FolderRef;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn accounts_work_with_the_server_down_and_up_and_survive_sigterm() {
    let mut server = Server::new();
    // Down: straight on the files.
    let out = server.command(
        &[
            "account",
            "add",
            "alice",
            "--address",
            "sip:alice@example.com",
            "--password-stdin",
        ],
        "alice-pw\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    server.start();
    // Up: through the admin endpoint (the store file is locked by the server).
    let out = server.command(&["account", "add", "bob", "--password-stdin"], "bob-pw\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dup = server.command(&["account", "add", "bob", "--password-stdin"], "x\n");
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let out = server.command(
        &["account", "passwd", "bob", "--password-stdin"],
        "bob-pw2\n",
    );
    assert!(out.status.success());
    let list = stdout(&server.command(&["account", "list"], ""));
    assert!(
        list.contains("alice\tsip:alice@example.com") && list.contains("bob"),
        "{list}"
    );
    let metrics = server.http_get("/metrics").unwrap();
    assert!(metrics.contains("cpm_store_accounts 2"), "{metrics}");
    // Prometheus 3 refuses a scrape without the exposition content type.
    let head = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-"])
        .arg(format!("http://{}/metrics", server.admin))
        .output()
        .expect("curl");
    let head = String::from_utf8_lossy(&head.stdout).to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    // `account quota` without limits shows them and leaves them be.
    let set = stdout(&server.command(&["account", "quota", "bob", "--max-objects", "7"], ""));
    assert!(set.contains("0 objects of 7"), "{set}");
    let shown = stdout(&server.command(&["account", "quota", "bob"], ""));
    assert!(
        shown.contains("bytes of unlimited, 0 objects of 7"),
        "{shown}"
    );
    let lifted = stdout(&server.command(&["account", "quota", "bob", "--unlimited"], ""));
    assert!(lifted.contains("0 objects of unlimited"), "{lifted}");
    let out = server.command(&["account", "add", "carol", "--password-stdin"], "c\n");
    assert!(out.status.success());
    let out = server.command(&["account", "remove", "carol"], "");
    assert!(out.status.success());

    assert_eq!(server.terminate(), Some(0));

    // Down again: the list is read from the files.
    let list = stdout(&server.command(&["account", "list"], ""));
    assert_eq!(list.lines().count(), 2, "{list}");

    // The reopened store holds everything, and bob's new password works.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = server.open_store();
        let local = store_core::throttle::LoginSource {
            remote: std::net::Ipv4Addr::LOCALHOST.into(),
            protocol: "test",
        };
        let bob = store.authenticate(local, "bob", "bob-pw2").await.unwrap();
        assert!(store.authenticate(local, "bob", "bob-pw").await.is_err());
        let folders: Vec<String> = store
            .list_folders(&bob)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.folder.name)
            .collect();
        assert!(folders.contains(&"INBOX".to_string()));
        assert!(store.account("carol").await.unwrap().is_none());
        let alice = store.trusted_element("alice").await.unwrap();
        store
            .select_folder(&alice, &FolderRef::own("INBOX"))
            .await
            .unwrap();
        store.close().await;
    });
}

#[test]
fn a_bad_config_is_refused_with_the_key_and_line() {
    let server = Server::new();
    std::fs::write(server.config(), "[imap]\nlisten = []\nlisen_tls = []\n").unwrap();
    let out = server.command(&["serve"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lisen_tls") && err.contains("line 3"), "{err}");
}

#[test]
fn a_listener_that_cannot_bind_names_the_address_and_setting() {
    let mut first = Server::new();
    first.start();
    let second = Server::new();
    let text = std::fs::read_to_string(second.config()).unwrap();
    let taken = first.admin.to_string();
    let text = text.replace(&second.admin.to_string(), &taken);
    std::fs::write(second.config(), text).unwrap();
    let out = second.command(&["serve"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&taken) && err.contains("[admin] listen"),
        "{err}"
    );
}
