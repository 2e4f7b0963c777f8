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
    // The fastest of a few alternating attempts each, so that a loaded
    // machine (a test binary running beside others) does not decide it.
    let (mut known, mut unknown) = (Duration::MAX, Duration::MAX);
    for from in ["192.0.2.10", "192.0.2.11", "192.0.2.12"] {
        known = known.min(time("alice", from).await);
        unknown = unknown.min(time("nobody", from).await);
    }
    assert!(
        unknown * 3 >= known && known * 3 >= unknown,
        "{known:?} vs {unknown:?}"
    );
    assert!(unknown >= Duration::from_millis(5), "{unknown:?}");
}

/// The salt and iteration count of the server-first-message SCRAM
/// answers `user` with.
async fn scram_salt(store: &Store, user: &str) -> (String, u32) {
    let exchange = store
        .scram_begin(format!("n,,n={user},r=abc").as_bytes())
        .await
        .unwrap();
    let attr = |k: &str| {
        exchange
            .server_first()
            .split(',')
            .find_map(|a| a.strip_prefix(k))
            .unwrap()
            .to_string()
    };
    (attr("s="), attr("i=").parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoy_scram_secrets_look_like_a_real_accounts_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let store = store_with_alice(dir.path(), Duration::from_secs(60)).await;
        let (real_salt, real_iterations) = scram_salt(&store, "alice").await;
        let (a, a_iterations) = scram_salt(&store, "nobody").await;
        assert_eq!(
            scram_salt(&store, "nobody").await,
            (a.clone(), a_iterations)
        );
        assert_eq!(a.len(), real_salt.len());
        assert_eq!(a_iterations, real_iterations);
        assert_eq!(a_iterations, SCRAM_ITERATIONS);
        store.close().await;
        a
    };
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(scram_salt(&store, "nobody").await.0, first);
}

/// The client side of SCRAM-SHA-256 (RFC 5802 3): the client-final
/// message for `password` after `client_first_bare` and `server_first`.
fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> String {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let attr = |k: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(k))
            .unwrap()
    };
    let salt = B64.decode(attr("s=")).unwrap();
    let iterations: u32 = attr("i=").parse().unwrap();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
    let client_key = store_core::password::hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let without_proof = format!("c=biws,r={}", attr("r="));
    let auth = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = store_core::password::hmac(&stored_key, auth.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(signature)
        .map(|(k, s)| k ^ s)
        .collect();
    format!("{without_proof},p={}", B64.encode(proof))
}

/// Review finding 4: store-core runs SCRAM, and a principal comes only
/// out of a verified proof; every outcome counts with the throttle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_gives_a_principal_only_for_a_verified_proof() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_alice(dir.path(), Duration::from_secs(60)).await;
    let a = source("192.0.2.7");
    let bare = "n=alice,r=clientnonce";
    let exchange = store
        .scram_begin(format!("n,,{bare}").as_bytes())
        .await
        .unwrap();
    assert_eq!(exchange.login(), "alice");
    let good = client_final("right", bare, exchange.server_first());
    let (principal, server_final) = store
        .scram_finish(&exchange, good.as_bytes(), a)
        .await
        .unwrap();
    assert_eq!(principal.login(), "alice");
    assert!(server_final.starts_with("v="), "{server_final}");
    // A wrong password fails, as does an unknown user with any proof.
    let exchange = store
        .scram_begin(format!("n,,{bare}").as_bytes())
        .await
        .unwrap();
    let bad = client_final("wrong", bare, exchange.server_first());
    assert!(matches!(
        store.scram_finish(&exchange, bad.as_bytes(), a).await,
        Err(StoreError::AuthenticationFailed)
    ));
    let nobody = "n=nobody,r=clientnonce";
    let exchange = store
        .scram_begin(format!("n,,{nobody}").as_bytes())
        .await
        .unwrap();
    let any = client_final("right", nobody, exchange.server_first());
    assert!(matches!(
        store.scram_finish(&exchange, any.as_bytes(), a).await,
        Err(StoreError::AuthenticationFailed)
    ));
    // A malformed message is not a failed login.
    assert!(matches!(
        store.scram_finish(&exchange, b"c=biws,p=", a).await,
        Err(StoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        store.scram_begin(b"p=tls-unique,,n=alice,r=x").await,
        Err(StoreError::InvalidArgument(_))
    ));
    // Failures from the address throttle it: the right proof is not
    // even checked.
    let exchange = store
        .scram_begin(format!("n,,{bare}").as_bytes())
        .await
        .unwrap();
    let bad = client_final("wrong", bare, exchange.server_first());
    for _ in 0..2 {
        assert!(store
            .scram_finish(&exchange, bad.as_bytes(), a)
            .await
            .is_err());
    }
    assert!(matches!(
        store
            .scram_finish(&exchange, good_for(&exchange).as_bytes(), a)
            .await,
        Err(StoreError::LoginThrottled { .. })
    ));
}

fn good_for(exchange: &store_core::scram::ScramExchange) -> String {
    client_final("right", "n=alice,r=clientnonce", exchange.server_first())
}
