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
//! - Attempts in flight: an admitted attempt is tracked against both keys
//!   until its outcome is recorded or its [`Attempt`] is dropped. Once a
//!   key has a failure within the window, it admits no attempt while its
//!   failures plus its attempts in flight reach the threshold, and past
//!   the threshold one at a time; so once guessing has started, a burst
//!   of concurrent attempts gets no more password checks than a sequence.
//!   A key without failures admits concurrent attempts freely, as
//!   Dovecot's auth penalty does: a client opening several connections
//!   at once (Thunderbird opens up to five), or many users behind one
//!   carrier-grade NAT address logging in together, must not be refused
//!   for being many. Their number is bounded by the front ends'
//!   connection caps (`[server] max_connections_per_ip`) and the password
//!   checker's slots; and an attempt is decided again when its password
//!   check gets a slot ([`LoginThrottle::recheck`]), so the first failure
//!   among them stops the rest of the burst that has not been checked.
//! - A successful login clears its login; its address's failures are
//!   forgotten only with the window (so one valid login does not reset an
//!   address that guesses at other accounts).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
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
    /// Admitted attempts whose outcome is not recorded yet.
    pending: u32,
}

type Entries = Arc<Mutex<HashMap<Key, Entry>>>;

/// The login throttle. One per store; every front end asks it.
pub struct LoginThrottle {
    config: ThrottleConfig,
    entries: Entries,
}

/// An admitted login attempt: counted in flight against its address and
/// its login until [`LoginThrottle::record`] takes it or it is dropped
/// (an attempt abandoned without an outcome counts as neither failure
/// nor success).
#[derive(Debug)]
pub struct Attempt {
    entries: Entries,
    keys: [Key; 2],
    released: bool,
}

impl Attempt {
    /// Ends the attempt's time in flight (once).
    fn release(&mut self, map: &mut HashMap<Key, Entry>) {
        if std::mem::replace(&mut self.released, true) {
            return;
        }
        for key in &self.keys {
            if let Some(e) = map.get_mut(key) {
                e.pending = e.pending.saturating_sub(1);
                if e.pending == 0 && e.failures == 0 {
                    map.remove(key);
                }
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let entries = self.entries.clone();
        let mut map = entries.lock().unwrap_or_else(|e| e.into_inner());
        self.release(&mut map);
    }
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
            entries: Arc::new(Mutex::new(HashMap::new())),
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

    /// Asks to check a password of `login` from `addr`. An attempt is
    /// admitted when, for both keys, the key has no failure within the
    /// window, or its failures plus its attempts in flight are below the
    /// threshold; or, past it, when no attempt of the key is in flight and
    /// its delay has passed, and then the key's next turn moves one delay
    /// on (so concurrent attempts get one turn per delay between them, not
    /// one each).
    ///
    /// Errors: [`Throttled`] with the wait until the later key admits an
    /// attempt (at least one delay step while attempts are in flight).
    pub fn admit(&self, addr: IpAddr, login: &str) -> Result<Attempt, Throttled> {
        self.admit_at(addr, login, Instant::now())
    }

    fn admit_at(&self, addr: IpAddr, login: &str, now: Instant) -> Result<Attempt, Throttled> {
        let keys = Self::keys(addr, login);
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let threshold = self.config.failures_before_throttle;
        let mut refused = false;
        let mut wait = Duration::ZERO;
        for key in &keys {
            let Some(e) = map.get(key) else { continue };
            let failures = if now.duration_since(e.last_failure) < self.config.window {
                e.failures
            } else {
                0
            };
            // A key nothing has failed on is under no suspicion: its
            // attempts in flight are not counted (see the module docs).
            if failures == 0 || failures.saturating_add(e.pending) < threshold {
                continue;
            }
            if e.pending > 0 {
                refused = true;
                wait = wait.max(self.config.delay_step);
            }
            if failures > 0 {
                let turn = e.next_attempt.saturating_duration_since(now);
                refused |= !turn.is_zero();
                wait = wait.max(turn);
            }
        }
        if refused {
            return Err(Throttled { retry_after: wait });
        }
        for key in &keys {
            let e = self.entry(&mut map, key.clone(), now);
            e.pending = e.pending.saturating_add(1);
            let delay = self.delay(e.failures);
            if !delay.is_zero() {
                e.next_attempt = now + delay;
            }
        }
        Ok(Attempt {
            entries: self.entries.clone(),
            keys,
            released: false,
        })
    }

    /// Decides again on `attempt`, admitted earlier and still in flight,
    /// now that its password check is about to run: failures recorded
    /// since its admission may have put one of its keys under the rule
    /// for suspected keys. It is refused when a key has failures within
    /// the window and those plus the key's other attempts in flight reach
    /// the threshold (only the attempts admitted before the first failure
    /// of a burst can be; a key past the threshold admits one at a time,
    /// and the turn this attempt took at admission stays its own).
    ///
    /// Errors: [`Throttled`] with one delay step (the attempt should be
    /// dropped without an outcome: it checked nothing).
    pub fn recheck(&self, attempt: &Attempt) -> Result<(), Throttled> {
        self.recheck_at(attempt, Instant::now())
    }

    fn recheck_at(&self, attempt: &Attempt, now: Instant) -> Result<(), Throttled> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let threshold = self.config.failures_before_throttle;
        for key in &attempt.keys {
            let Some(e) = map.get(key) else { continue };
            if now.duration_since(e.last_failure) >= self.config.window {
                continue;
            }
            let others = e.pending.saturating_sub(1);
            if e.failures > 0 && others > 0 && e.failures.saturating_add(others) >= threshold {
                return Err(Throttled {
                    retry_after: self.config.delay_step,
                });
            }
        }
        Ok(())
    }

    /// Records the outcome of an admitted attempt, which ends its time in
    /// flight: a failure counts against both keys; a success clears the
    /// login's key (the address's failures decay with the window).
    /// Returns the wait a failure now imposes before the next attempt
    /// (zero below the threshold).
    pub fn record(&self, attempt: Attempt, success: bool) -> Duration {
        self.record_at(attempt, success, Instant::now())
    }

    fn record_at(&self, mut attempt: Attempt, success: bool, now: Instant) -> Duration {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        attempt.release(&mut map);
        let keys = attempt.keys.clone();
        if success {
            // Only the login: an address's failures decay with the window,
            // so a client holding one valid login cannot reset its address
            // between guesses at other accounts.
            let [_, login] = &keys;
            if map.get(login).is_some_and(|e| e.pending == 0) {
                map.remove(login);
            } else if let Some(e) = map.get_mut(login) {
                e.failures = 0;
                e.next_attempt = now;
            }
            return Duration::ZERO;
        }
        self.count_failure(&mut map, keys, now)
    }

    /// Counts a failure against `keys`; returns the wait it imposes.
    fn count_failure(
        &self,
        map: &mut HashMap<Key, Entry>,
        keys: [Key; 2],
        now: Instant,
    ) -> Duration {
        let mut wait = Duration::ZERO;
        for key in keys {
            let entry = self.entry(map, key, now);
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            let delay = self.delay(entry.failures);
            entry.next_attempt = now + delay;
            wait = wait.max(delay);
        }
        wait
    }

    /// The entry of `key`, made (room first) if absent, its failures
    /// forgotten if the window has passed since the last one.
    fn entry<'m>(&self, map: &'m mut HashMap<Key, Entry>, key: Key, now: Instant) -> &'m mut Entry {
        if !map.contains_key(&key) && map.len() >= self.config.max_entries {
            self.make_room(map, now);
        }
        let entry = map.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            next_attempt: now,
            pending: 0,
        });
        if now.duration_since(entry.last_failure) >= self.config.window {
            entry.failures = 0;
        }
        entry
    }

    /// Prunes expired keys; if none expired, drops the older half. Keys
    /// with attempts in flight are kept (they are bounded by the
    /// connections the front ends admit).
    fn make_room(&self, map: &mut HashMap<Key, Entry>, now: Instant) {
        let window = self.config.window;
        map.retain(|_, e| e.pending > 0 || now.duration_since(e.last_failure) < window);
        if map.len() < self.config.max_entries {
            return;
        }
        let mut ages: Vec<Instant> = map.values().map(|e| e.last_failure).collect();
        let middle = ages.len() / 2;
        let (_, median, _) = ages.select_nth_unstable(middle);
        let median = *median;
        map.retain(|_, e| e.pending > 0 || e.last_failure > median);
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
        let attempt = t.admit_at(addr, login, now).unwrap();
        let _ = t.record_at(attempt, false, now);
    }

    /// Counts a failure without an admitted attempt.
    fn failure(t: &LoginThrottle, addr: IpAddr, login: &str, now: Instant) {
        let mut map = t.entries.lock().unwrap();
        t.count_failure(&mut map, LoginThrottle::keys(addr, login), now);
    }

    #[test]
    fn concurrent_first_attempts_are_admitted_until_one_fails() {
        let t = LoginThrottle::new(config());
        let now = Instant::now();
        let a = ip("192.0.2.1");
        // 50 users behind one address (a carrier-grade NAT) log in at
        // once: nothing has failed there, so all are admitted and checked.
        let mut burst: Vec<Attempt> = (0..50)
            .map(|i| t.admit_at(a, &format!("user{i}"), now).unwrap())
            .collect();
        assert!(burst.iter().all(|at| t.recheck_at(at, now).is_ok()));
        // One client opening five connections to one login at once.
        let alice: Vec<Attempt> = (0..5)
            .map(|i| {
                t.admit_at(IpAddr::from([10, 0, 0, i]), "alice", now)
                    .unwrap()
            })
            .collect();
        assert!(alice.iter().all(|at| t.recheck_at(at, now).is_ok()));

        // The first failure puts the address under suspicion: a new
        // attempt waits a delay step, and those admitted before it are
        // refused when their check would start ...
        let first = burst.pop().unwrap();
        t.record_at(first, false, now);
        let e = t.admit_at(a, "late", now).unwrap_err();
        assert_eq!(e.retry_after, Duration::from_secs(1));
        let refused = burst
            .iter()
            .filter(|at| t.recheck_at(at, now).is_err())
            .count();
        assert_eq!(refused, 49);
        // ... and dropped without an outcome, which counts as nothing:
        // with two left in flight, failures plus the others are below the
        // threshold, so both are checked; no more than a sequence gets.
        burst.truncate(2);
        assert!(burst.iter().all(|at| t.recheck_at(at, now).is_ok()));
        for at in burst {
            t.record_at(at, false, now);
        }
        // Same for the login: one wrong password stops the other four.
        let mut alice = alice.into_iter();
        t.record_at(alice.next().unwrap(), false, now);
        let alice: Vec<Attempt> = alice.collect();
        assert!(alice.iter().all(|at| t.recheck_at(at, now).is_err()));
        drop(alice);

        // Past the threshold (3 failures), one attempt in flight at a
        // time, and the turn it took is its own when it is checked.
        let first = t.admit_at(a, "v", now).unwrap();
        assert!(t.admit_at(a, "v", now).is_err());
        t.recheck_at(&first, now).unwrap();
        drop(first);
        t.admit_at(a, "v", now).unwrap();
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
        fail(&t, a, "alice", after);
        t.admit_at(a, "alice", after).unwrap();
    }

    #[test]
    fn a_success_clears_its_login_but_not_its_address() {
        let t = LoginThrottle::new(config());
        let now = Instant::now();
        let a = ip("192.0.2.1");
        // Guesses at other accounts from a, then a's own valid login.
        for i in 0..4 {
            fail(&t, a, &format!("victim{i}"), now);
        }
        fail(&t, a, "mallory", now + Duration::from_secs(1));
        let later = now + Duration::from_secs(3);
        let attempt = t.admit_at(a, "mallory", later).unwrap();
        t.record_at(attempt, true, later);
        // The address keeps its failures: the next guess still waits.
        let e = t.admit_at(a, "victim9", later).unwrap_err();
        assert_eq!(e.retry_after, Duration::from_secs(2));
        // The login is cleared: from another address it is not throttled.
        drop(t.admit_at(ip("192.0.2.2"), "mallory", later).unwrap());
        assert_eq!(t.len(), 5);
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
            failure(&t, addr, &format!("login{i}"), start);
            assert!(t.len() <= 100, "{} keys", t.len());
        }
        // Once the window has passed, the next new key prunes them all.
        let later = start + Duration::from_secs(61);
        failure(&t, ip("192.0.2.99"), "victim", later);
        assert_eq!(t.len(), 2);
        // Long logins are kept short.
        let long = "x".repeat(100_000);
        failure(&t, ip("192.0.2.98"), &long, later);
        assert!(t.admit_at(ip("192.0.2.1"), &long[..300], later).is_ok());
        let map = t.entries.lock().unwrap();
        assert!(map.keys().all(|k| match k {
            Key::Login(l) => l.len() <= 255,
            Key::Address(_) => true,
        }));
    }
}
