//! Non-INVITE server transactions (RFC 3261 17.2.2): a retransmitted
//! request is not processed again; while it is being processed it is
//! absorbed, and once answered it gets the same final response until
//! Timer J (64 T1 over UDP, zero over TCP and TLS) fires.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::wire::Request;

/// Identifies a server transaction (RFC 3261 17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey(String);

impl TransactionKey {
    /// The key of `request`: with an RFC 3261 branch (`z9hG4bK...`), the
    /// branch, the sent-by and the method; otherwise the RFC 2543 rule:
    /// Request-URI, To tag, From tag, Call-ID, CSeq and the top Via.
    /// `None` without a readable top Via.
    pub fn of(request: &Request) -> Option<TransactionKey> {
        let via = request.top_via()?;
        let method = match request.method.as_str() {
            "ACK" => "INVITE",
            m => m,
        };
        let key = match via.branch.as_deref() {
            Some(b) if b.starts_with("z9hG4bK") => {
                format!("3261\n{b}\n{}\n{method}", via.sent_by)
            }
            _ => {
                let h = &request.headers;
                let tag = |n: &str| h.get(n).and_then(|v| crate::wire::param(v, "tag"));
                format!(
                    "2543\n{}\n{:?}\n{:?}\n{}\n{}\n{}",
                    request.uri,
                    tag("To"),
                    tag("From"),
                    h.get("Call-ID").unwrap_or_default(),
                    h.get("CSeq").unwrap_or_default(),
                    h.values("Via")
                        .first()
                        .map(String::as_str)
                        .unwrap_or_default()
                )
            }
        };
        Some(TransactionKey(key))
    }
}

#[derive(Debug)]
enum State {
    /// Being processed; retransmissions are absorbed.
    Trying,
    /// Answered; retransmissions get the response until `until`.
    Completed { response: Bytes, until: Instant },
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    /// A new transaction: process it, then call
    /// [`ServerTransactions::complete`].
    New,
    /// A retransmission of a request still being processed: drop it.
    Absorbed,
    /// A retransmission of an answered request: send this again.
    Resend(Bytes),
    /// Too many transactions at once: answer 503.
    Full,
}

/// The live server transactions, bounded. Answered transactions leave
/// at Timer J in the order they were answered (a queue, so a full table
/// costs no scan of it).
#[derive(Debug)]
pub struct ServerTransactions {
    table: Mutex<Table>,
    limit: usize,
}

#[derive(Debug, Default)]
struct Table {
    states: HashMap<TransactionKey, State>,
    /// When each answered transaction expires, oldest first.
    expiries: VecDeque<(Instant, TransactionKey)>,
}

impl Table {
    fn drop_expired(&mut self, now: Instant) {
        while let Some((until, _)) = self.expiries.front() {
            if *until > now {
                break;
            }
            let Some((until, key)) = self.expiries.pop_front() else {
                break;
            };
            // The entry may have been answered again since: only its last
            // expiry removes it.
            if matches!(self.states.get(&key), Some(State::Completed { until: u, .. }) if *u == until)
            {
                self.states.remove(&key);
            }
        }
    }
}

impl ServerTransactions {
    /// A table of at most `limit` transactions.
    pub fn new(limit: usize) -> ServerTransactions {
        ServerTransactions {
            table: Mutex::new(Table::default()),
            limit,
        }
    }

    /// Starts or matches the transaction of a request.
    pub fn begin(&self, key: &TransactionKey) -> Begin {
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        match table.states.get(key) {
            Some(State::Trying) => return Begin::Absorbed,
            Some(State::Completed { response, until }) if *until > now => {
                return Begin::Resend(response.clone())
            }
            _ => {}
        }
        table.drop_expired(now);
        if table.states.len() >= self.limit {
            return Begin::Full;
        }
        table.states.insert(key.clone(), State::Trying);
        Begin::New
    }

    /// Records the final response; it is kept for `linger` (Timer J,
    /// the same for every transaction kept: a longer one would hold the
    /// expiry of those answered after it until its own).
    pub fn complete(&self, key: &TransactionKey, response: Bytes, linger: Duration) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if linger.is_zero() {
            table.states.remove(key);
        } else {
            let until = Instant::now() + linger;
            table
                .states
                .insert(key.clone(), State::Completed { response, until });
            table.expiries.push_back((until, key.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retransmission_is_absorbed_then_answered_again_until_timer_j() {
        let t = ServerTransactions::new(2);
        let k = TransactionKey("a".into());
        assert_eq!(t.begin(&k), Begin::New);
        assert_eq!(t.begin(&k), Begin::Absorbed);
        t.complete(&k, Bytes::from_static(b"200"), Duration::from_secs(60));
        assert_eq!(t.begin(&k), Begin::Resend(Bytes::from_static(b"200")));
        t.complete(&k, Bytes::new(), Duration::ZERO);
        assert_eq!(t.begin(&k), Begin::New);
        assert_eq!(t.begin(&TransactionKey("b".into())), Begin::New);
        assert_eq!(t.begin(&TransactionKey("c".into())), Begin::Full);
    }

    #[test]
    fn answered_transactions_leave_the_full_table_at_timer_j() {
        let t = ServerTransactions::new(2);
        let (a, b, c) = (
            TransactionKey("a".into()),
            TransactionKey("b".into()),
            TransactionKey("c".into()),
        );
        assert_eq!(t.begin(&a), Begin::New);
        assert_eq!(t.begin(&b), Begin::New);
        t.complete(&a, Bytes::from_static(b"200"), Duration::from_millis(30));
        t.complete(&b, Bytes::from_static(b"200"), Duration::from_secs(60));
        assert_eq!(t.begin(&c), Begin::Full);
        std::thread::sleep(Duration::from_millis(40));
        // a has expired, b has not.
        assert_eq!(t.begin(&c), Begin::New);
        assert_eq!(t.begin(&b), Begin::Resend(Bytes::from_static(b"200")));
        assert_eq!(t.begin(&a), Begin::Full);
    }
}
