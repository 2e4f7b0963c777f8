//! One login throttle for every protocol (IMAP LOGIN and AUTHENTICATE,
//! WebDAV Basic, SIP digest): failed logins are counted per remote address
//! and per login name, and past a threshold each key may make one attempt
//! per delay, the delay growing by one step per further failure up to a
//! cap. Attempts refused by the throttle cost no password check and do
//! not extend it, so a client that waits out the delay gets its turn.
//!
//! - Keys: the remote address (IPv6 by its /64, which one host usually
//!   owns whole) and the login name, also for logins that do not exist, so
//!   the throttle's answers do not tell which accounts exist.
//! - Memory: at most [`ThrottleConfig::max_entries`] keys. A key is
//!   forgotten `window` after its last failure; when the map is full the
//!   expired keys are pruned, and if it is still full the half with the
//!   oldest failures is dropped.
//! - A successful login clears its address and its login.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Settings of the login throttle.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Failures of one key (address or login) before it is throttled.
    pub failures_before_throttle: u32,
    /// Delay added per failure past the threshold.
    pub delay_step: Duration,
    /// Longest delay between two attempts of a throttled key.
    pub max_delay: Duration,
    /// A key's failures are forgotten this long after its last one.
    pub window: Duration,
    /// Most keys remembered at once (bounds the memory: about 100 bytes
    /// each).
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            failures_before_throttle: 3,
            delay_step: Duration::from_secs(1),
            max_delay: Duration::from_secs(15),
            window: Duration::from_secs(15 * 60),
            max_entries: 100_000,
        }
    }
}

/// Where a login attempt comes from, for the throttle and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginSource {
    /// The client's address.
    pub remote: IpAddr,
    /// The protocol, as logged: `"imap"`, `"webdav"`, `"sip"`.
    pub protocol: &'static str,
}

/// A login attempt refused by the throttle: no password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long until the key admits its next attempt.
    pub retry_after: Duration,
}

/// A wait in whole seconds, rounded up and at least 1: the value of a
/// `Retry-After` header (RFC 9110 10.2.3, RFC 3261 20.33) or of a
/// "try again in N s" text.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// What the throttle counts failures of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Login(String),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    /// No attempt is admitted before this instant.
    next_attempt: Instant,
}

/// The login throttle. One per store; every front end asks it.
pub struct LoginThrottle {
    config: ThrottleConfig,
    entries: Mutex<HashMap<Key, Entry>>,
}

/// The network a client address counts as, for every per-client limit
/// (the login throttle, connection caps, SIP rate limits): an IPv4 address
/// (or an IPv4-mapped IPv6 one) as itself, an IPv6 address by its /64,
/// the smallest network a single subscriber is usually given (RFC 6177).
pub fn client_network(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

impl LoginThrottle {
    /// A throttle with `config`.
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        LoginThrottle {
            config,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    fn keys(addr: IpAddr, login: &str) -> [Key; 2] {
        // A login is at most 255 bytes (longer ones name no account), so
        // a key needs no more.
        let mut end = login.len().min(255);
        while !login.is_char_boundary(end) {
            end -= 1;
        }
        [
            Key::Address(client_network(addr)),
            Key::Login(login[..end].to_string()),
        ]
    }

    fn delay(&self, failures: u32) -> Duration {
        let excess = failures.saturating_sub(self.config.failures_before_throttle);
        if excess == 0 {
            return Duration::ZERO;
        }
        self.config
            .delay_step
            .saturating_mul(excess)
            .min(self.config.max_delay)
    }

    /// Asks to check a password of `login` from `addr`. When neither key
    /// is throttled the attempt is admitted, and a throttled key's next
    /// turn moves one delay on (so concurrent attempts get one turn per
    /// delay between them, not one each).
    ///
    /// Errors: [`Throttled`] with the wait until the later key admits an
    /// attempt.
    pub fn admit(&self, addr: IpAddr, login: &str) -> Result<(), Throttled> {
        self.admit_at(addr, login, Instant::now())
    }

    fn admit_at(&self, addr: IpAddr, login: &str, now: Instant) -> Result<(), Throttled> {
        let keys = Self::keys(addr, login);
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = Duration::ZERO;
        for key in &keys {
            if let Some(e) = map.get(key) {
                if now.duration_since(e.last_failure) < self.config.window {
                    wait = wait.max(e.next_attempt.saturating_duration_since(now));
                }
            }
        }
        if !wait.is_zero() {
            return Err(Throttled { retry_after: wait });
        }
        for key in &keys {
            if let Some(e) = map.get_mut(key) {
                let delay = self.delay(e.failures);
                if !delay.is_zero() {
                    e.next_attempt = now + delay;
                }
            }
        }
        Ok(())
    }

    /// Records the outcome of an admitted attempt: a failure counts
    /// against both keys; a success clears both. Returns the wait a
    /// failure now imposes before the next attempt (zero below the
    /// threshold).
    pub fn record(&self, addr: IpAddr, login: &str, success: bool) -> Duration {
        self.record_at(addr, login, success, Instant::now())
    }

    fn record_at(&self, addr: IpAddr, login: &str, success: bool, now: Instant) -> Duration {
        let keys = Self::keys(addr, login);
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if success {
            for key in &keys {
                map.remove(key);
            }
            return Duration::ZERO;
        }
        let mut wait = Duration::ZERO;
        for key in keys {
            if !map.contains_key(&key) && map.len() >= self.config.max_entries {
                self.make_room(&mut map, now);
            }
            let entry = map.entry(key).or_insert(Entry {
                failures: 0,
                last_failure: now,
                next_attempt: now,
            });
            if now.duration_since(entry.last_failure) >= self.config.window {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            let delay = self.delay(entry.failures);
            entry.next_attempt = now + delay;
            wait = wait.max(delay);
        }
        wait
    }

    /// Prunes expired keys; if none expired, drops the older half.
    fn make_room(&self, map: &mut HashMap<Key, Entry>, now: Instant) {
        let window = self.config.window;
        map.retain(|_, e| now.duration_since(e.last_failure) < window);
        if map.len() < self.config.max_entries {
            return;
        }
        let mut ages: Vec<Instant> = map.values().map(|e| e.last_failure).collect();
        let middle = ages.len() / 2;
        let (_, median, _) = ages.select_nth_unstable(middle);
        let median = *median;
        map.retain(|_, e| e.last_failure > median);
    }

    /// Keys remembered now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ThrottleConfig {
        ThrottleConfig {
            failures_before_throttle: 3,
            delay_step: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            window: Duration::from_secs(60),
            max_entries: 100,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn fail(t: &LoginThrottle, addr: IpAddr, login: &str, now: Instant) {
        t.admit_at(addr, login, now).unwrap();
        let _ = t.record_at(addr, login, false, now);
    }

    #[test]
    fn an_address_is_throttled_past_the_threshold_whatever_the_login() {
        let t = LoginThrottle::new(config());
        let now = Instant::now();
        let a = ip("192.0.2.1");
        for i in 0..3 {
            fail(&t, a, &format!("user{i}"), now);
        }
        fail(&t, a, "user3", now);
        // Four failures: one step of delay, for any login from a.
        let e = t.admit_at(a, "someone", now).unwrap_err();
        assert_eq!(e.retry_after, Duration::from_secs(1));
        // Another address is not affected.
        t.admit_at(ip("192.0.2.2"), "someone", now).unwrap();
        // After the delay, exactly one attempt is admitted.
        let later = now + Duration::from_secs(1);
        t.admit_at(a, "someone", later).unwrap();
        assert!(t.admit_at(a, "other", later).is_err());
    }

    #[test]
    fn an_account_is_throttled_from_every_address() {
        let t = LoginThrottle::new(config());
        let now = Instant::now();
        for i in 0..10 {
            fail(&t, ip(&format!("198.51.100.{i}")), "alice", now);
            if i >= 3 {
                break;
            }
        }
        let e = t.admit_at(ip("203.0.113.9"), "alice", now).unwrap_err();
        assert_eq!(e.retry_after, Duration::from_secs(1));
        t.admit_at(ip("203.0.113.9"), "bob", now).unwrap();
    }

    #[test]
    fn the_delay_grows_to_its_cap_and_ends_with_the_window() {
        let t = LoginThrottle::new(config());
        let mut now = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..20 {
            fail(&t, a, "alice", now);
            now += Duration::from_secs(5);
        }
        now -= Duration::from_secs(5);
        let e = t.admit_at(a, "alice", now).unwrap_err();
        assert_eq!(e.retry_after, Duration::from_secs(5));
        // Once the window has passed since the last failure, all is forgotten.
        let after = now + Duration::from_secs(60);
        t.admit_at(a, "alice", after).unwrap();
        t.record_at(a, "alice", false, after);
        t.admit_at(a, "alice", after).unwrap();
    }

    #[test]
    fn a_success_clears_both_keys() {
        let t = LoginThrottle::new(config());
        let now = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..4 {
            let _ = t.admit_at(a, "alice", now);
            t.record_at(a, "alice", false, now);
        }
        assert!(t.admit_at(a, "alice", now).is_err());
        t.record_at(a, "alice", true, now);
        t.admit_at(a, "alice", now).unwrap();
        assert!(t.is_empty());
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_key() {
        let t = LoginThrottle::new(config());
        let now = Instant::now();
        for i in 0..4 {
            fail(
                &t,
                ip(&format!("2001:db8:1:2::{i:x}")),
                &format!("u{i}"),
                now,
            );
        }
        assert!(t.admit_at(ip("2001:db8:1:2:ffff::1"), "x", now).is_err());
        t.admit_at(ip("2001:db8:1:3::1"), "x", now).unwrap();
        // IPv4-mapped addresses are their IPv4 address.
        for i in 0..4 {
            fail(&t, ip("192.0.2.7"), &format!("v{i}"), now);
        }
        assert!(t.admit_at(ip("::ffff:192.0.2.7"), "y", now).is_err());
    }

    #[test]
    fn memory_is_bounded_and_expired_keys_are_pruned() {
        let t = LoginThrottle::new(config());
        let start = Instant::now();
        for i in 0..10_000u32 {
            let addr = IpAddr::from(i.to_be_bytes());
            t.record_at(addr, &format!("login{i}"), false, start);
            assert!(t.len() <= 100, "{} keys", t.len());
        }
        // Once the window has passed, the next new key prunes them all.
        let later = start + Duration::from_secs(61);
        t.record_at(ip("192.0.2.99"), "victim", false, later);
        assert_eq!(t.len(), 2);
        // Long logins are kept short.
        let long = "x".repeat(100_000);
        t.record_at(ip("192.0.2.98"), &long, false, later);
        assert!(t.admit_at(ip("192.0.2.1"), &long[..300], later).is_ok());
        let map = t.entries.lock().unwrap();
        assert!(map.keys().all(|k| match k {
            Key::Login(l) => l.len() <= 255,
            Key::Address(_) => true,
        }));
    }
}
