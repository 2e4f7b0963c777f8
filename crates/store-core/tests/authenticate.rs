//! The store's "authenticate" operation as every front end sees it: the
//! login throttle, the decoy hash for unknown logins, and the decoy SCRAM
//! secrets.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use store_core::password::SCRAM_ITERATIONS;
use store_core::throttle::{LoginSource, ThrottleConfig};
use store_core::{Store, StoreConfig, StoreError};

fn source(addr: &str) -> LoginSource {
    LoginSource {
        remote: addr.parse::<IpAddr>().unwrap(),
        protocol: "test",
    }
}

async fn store_with_alice(dir: &std::path::Path, window: Duration) -> Store {
    let config = StoreConfig {
        login_throttle: ThrottleConfig {
            failures_before_throttle: 3,
            // Long enough that the Argon2 checks of a debug build on a
            // loaded machine fit inside one delay (the last assertion).
            delay_step: Duration::from_millis(1000),
            max_delay: Duration::from_millis(2000),
            window,
            max_entries: 1000,
        },
        ..StoreConfig::new(dir)
    };
    let store = Store::open(config).unwrap();
    store.create_account("alice", None, "right").await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_throttle_the_address_and_the_login_until_the_delay_passes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alice(dir.path(), Duration::from_secs(60)).await;
    let a = source("192.0.2.1");
    for _ in 0..4 {
        assert!(matches!(
            store.authenticate(a, "alice", "wrong").await,
            Err(StoreError::AuthenticationFailed)
        ));
    }
    // Throttled: even the right password is not checked, from this address
    // or (the login is throttled too) from another.
    for from in [a, source("198.51.100.7")] {
        match store.authenticate(from, "alice", "right").await {
            Err(StoreError::LoginThrottled { retry_after }) => {
                assert!(
                    retry_after <= Duration::from_millis(2000),
                    "{retry_after:?}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    // And the address is throttled for any login.
    assert!(matches!(
        store.authenticate(a, "bob", "x").await,
        Err(StoreError::LoginThrottled { .. })
    ));
    // Once the delay has passed, the right password works and clears the
    // login, not the address: it keeps its failures for the window.
    tokio::time::sleep(Duration::from_millis(2050)).await;
    store.authenticate(a, "alice", "right").await.unwrap();
    store
        .authenticate(source("198.51.100.7"), "alice", "right")
        .await
        .unwrap();
    assert!(matches!(
        store.authenticate(a, "alice", "right").await,
        Err(StoreError::LoginThrottled { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_logins_cost_a_full_password_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alice(dir.path(), Duration::from_secs(60)).await;
    let time = |login: &'static str, from: &'static str| {
        let store = store.clone();
        async move {
            let t = Instant::now();
            let r = store.authenticate(source(from), login, "wrong").await;
            assert!(matches!(r, Err(StoreError::AuthenticationFailed)), "{r:?}");
            t.elapsed()
        }
    };
    let known = time("alice", "192.0.2.10").await;
    let unknown = time("nobody", "192.0.2.11").await;
    assert!(
        unknown * 3 >= known && known * 3 >= unknown,
        "{known:?} vs {unknown:?}"
    );
    assert!(unknown >= Duration::from_millis(5), "{unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoy_scram_secrets_look_like_a_real_accounts_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let store = store_with_alice(dir.path(), Duration::from_secs(60)).await;
        let (real, secrets) = store.scram_secrets("alice").await.unwrap();
        assert!(real.is_some());
        let (none, a) = store.scram_secrets("nobody").await.unwrap();
        let (_, b) = store.scram_secrets("nobody").await.unwrap();
        assert!(none.is_none());
        assert_eq!((&a.salt, a.iterations), (&b.salt, b.iterations));
        assert_eq!(a.salt.len(), secrets.salt.len());
        assert_eq!(a.iterations, secrets.iterations);
        assert_eq!(a.iterations, SCRAM_ITERATIONS);
        store.close().await;
        a.salt
    };
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let (_, again) = store.scram_secrets("nobody").await.unwrap();
    assert_eq!(again.salt, first);
}
