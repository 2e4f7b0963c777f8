//! Per-source rate limit for peers outside `trusted_peers`: one token
//! bucket per source address (an IPv6 source counts by its /64, which one
//! host usually holds whole), in a map of at most [`MAX_SOURCES`] entries.
//! A bucket that has filled up again is the same as no bucket, so such
//! entries are pruned when the map is full (at most once a second); while
//! it stays full of active sources, new sources are refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Most source addresses tracked at once.
pub const MAX_SOURCES: usize = 65_536;
/// Least time between two prunings of a full map.
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// Whether a message from a source may be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes.
    Admitted,
    /// No: the source is over its limit (or the map is full).
    Limited {
        /// When the source will have a token again (at least 1 s, for a
        /// `Retry-After`, RFC 3261 20.33).
        retry_after: Duration,
        /// Whether the source has just gone over its limit (to log once
        /// per episode, not once per message).
        newly: bool,
    },
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
    limited: bool,
}

#[derive(Debug)]
struct Sources {
    buckets: HashMap<IpAddr, Bucket>,
    pruned: Option<Instant>,
}

/// The token buckets of the untrusted sources.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    max_sources: usize,
    sources: Mutex<Sources>,
}

impl RateLimiter {
    /// `per_second` messages per second on average with bursts of `burst`
    /// (at least 1) per source; `per_second` 0 turns the limit off.
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter::with_capacity(per_second, burst, MAX_SOURCES)
    }

    fn with_capacity(per_second: u32, burst: u32, max_sources: usize) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            max_sources,
            sources: Mutex::new(Sources {
                buckets: HashMap::new(),
                pruned: None,
            }),
        }
    }

    /// Takes a token for one message from `ip`.
    pub fn check(&self, ip: IpAddr) -> Admission {
        if self.per_second <= 0.0 {
            return Admission::Admitted;
        }
        let key = store_core::throttle::client_network(ip);
        let now = Instant::now();
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        if !sources.buckets.contains_key(&key) && sources.buckets.len() >= self.max_sources {
            self.prune(&mut sources, now);
            if sources.buckets.len() >= self.max_sources {
                return Admission::Limited {
                    retry_after: PRUNE_EVERY,
                    newly: false,
                };
            }
        }
        let bucket = sources.buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            limited: false,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.limited = false;
            return Admission::Admitted;
        }
        let newly = !bucket.limited;
        bucket.limited = true;
        let wait = (1.0 - bucket.tokens) / self.per_second;
        Admission::Limited {
            retry_after: Duration::from_secs_f64(wait.max(1.0).ceil()),
            newly,
        }
    }

    /// Drops the buckets that have filled up again, unless that was done
    /// less than [`PRUNE_EVERY`] ago.
    fn prune(&self, sources: &mut Sources, now: Instant) {
        if sources
            .pruned
            .is_some_and(|t| now.duration_since(t) < PRUNE_EVERY)
        {
            return;
        }
        sources.pruned = Some(now);
        let (per_second, burst) = (self.per_second, self.burst);
        sources
            .buckets
            .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < burst);
    }

    /// How many sources are tracked.
    pub fn len(&self) -> usize {
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buckets
            .len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_past_its_burst_waits_for_the_refill_and_others_are_unaffected() {
        let limiter = RateLimiter::new(2, 3);
        for _ in 0..3 {
            assert_eq!(limiter.check(ip("192.0.2.1")), Admission::Admitted);
        }
        assert_eq!(
            limiter.check(ip("192.0.2.1")),
            Admission::Limited {
                retry_after: Duration::from_secs(1),
                newly: true
            }
        );
        assert!(matches!(
            limiter.check(ip("192.0.2.1")),
            Admission::Limited { newly: false, .. }
        ));
        assert_eq!(limiter.check(ip("192.0.2.2")), Admission::Admitted);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(limiter.check(ip("192.0.2.1")), Admission::Admitted);
        assert!(matches!(
            limiter.check(ip("192.0.2.1")),
            Admission::Limited { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn an_ipv6_source_counts_by_its_slash_64() {
        let limiter = RateLimiter::new(1, 1);
        assert_eq!(limiter.check(ip("2001:db8::1")), Admission::Admitted);
        assert!(matches!(
            limiter.check(ip("2001:db8::ffff:2")),
            Admission::Limited { .. }
        ));
        assert_eq!(limiter.check(ip("2001:db8:0:1::1")), Admission::Admitted);
        assert_eq!(limiter.check(ip("::ffff:192.0.2.9")), Admission::Admitted);
        assert!(matches!(
            limiter.check(ip("192.0.2.9")),
            Admission::Limited { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_is_bounded_and_pruned_of_idle_sources() {
        let limiter = RateLimiter::with_capacity(10, 10, 4);
        for i in 1..=4 {
            assert_eq!(
                limiter.check(ip(&format!("192.0.2.{i}"))),
                Admission::Admitted
            );
        }
        // Full of sources that have not refilled: a new one is refused.
        assert!(matches!(
            limiter.check(ip("192.0.2.5")),
            Admission::Limited { .. }
        ));
        assert_eq!(limiter.len(), 4);
        // A second later their buckets are full again: pruned, room made.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(limiter.check(ip("192.0.2.5")), Admission::Admitted);
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn zero_per_second_turns_the_limit_off() {
        let limiter = RateLimiter::new(0, 0);
        for _ in 0..1000 {
            assert_eq!(limiter.check(ip("192.0.2.1")), Admission::Admitted);
        }
        assert!(limiter.is_empty());
    }
}
