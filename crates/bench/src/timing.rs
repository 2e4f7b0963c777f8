//! The sampling rule of every latency run: warm-up iterations, then timed
//! ones until enough were taken or the time is up; median and p90.

use std::time::{Duration, Instant};

/// How many iterations a latency run takes.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Untimed iterations first.
    pub warmup: u32,
    /// Timed iterations wanted.
    pub iterations: u32,
    /// Stop earlier once this much time was spent timing (at least
    /// `min_iterations` taken).
    pub budget: Duration,
    /// Fewest timed iterations, whatever the budget.
    pub min_iterations: u32,
}

impl Plan {
    /// 20 warm-up, then 200 iterations or 2 s; `quick`: 5, then 50 or 0.5 s.
    pub fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                warmup: 5,
                iterations: 50,
                budget: Duration::from_millis(500),
                min_iterations: 5,
            }
        } else {
            Plan {
                warmup: 20,
                iterations: 200,
                budget: Duration::from_secs(2),
                min_iterations: 10,
            }
        }
    }
}

/// A distribution's summary, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median_ms: f64,
    pub p90_ms: f64,
    pub iterations: usize,
}

/// The median and p90 (nearest rank) of `samples` (milliseconds).
pub fn summarize(mut samples: Vec<f64>) -> Summary {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    if n == 0 {
        return Summary {
            median_ms: f64::NAN,
            p90_ms: f64::NAN,
            iterations: 0,
        };
    }
    let median = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    };
    let rank = ((n as f64) * 0.9).ceil() as usize;
    Summary {
        median_ms: median,
        p90_ms: samples[rank.clamp(1, n) - 1],
        iterations: n,
    }
}

/// Iterations of a latency run: `while s.more() { let t = Instant::now();
/// op; s.done(t) }`, then [`Sampler::summary`]. The warm-up iterations
/// are run but not kept; each kept sample is the time divided by
/// `per_call` (the operations in a pipelined batch).
pub struct Sampler {
    plan: Plan,
    per_call: u32,
    warm: u32,
    samples: Vec<f64>,
    started: Option<Instant>,
}

impl Sampler {
    pub fn new(plan: Plan, per_call: u32) -> Sampler {
        Sampler {
            plan,
            per_call: per_call.max(1),
            warm: 0,
            samples: Vec::with_capacity(plan.iterations as usize),
            started: None,
        }
    }

    /// Whether to run another iteration.
    pub fn more(&mut self) -> bool {
        if self.warm < self.plan.warmup {
            return true;
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        let n = self.samples.len();
        n < self.plan.iterations as usize
            && (n < self.plan.min_iterations as usize || started.elapsed() < self.plan.budget)
    }

    /// Whether the warm-up is over (the next [`Sampler::done`] is kept).
    pub fn warmed_up(&self) -> bool {
        self.warm >= self.plan.warmup
    }

    /// Records the iteration that began at `t`.
    pub fn done(&mut self, t: Instant) {
        if self.warm < self.plan.warmup {
            self.warm += 1;
        } else {
            self.samples
                .push(t.elapsed().as_secs_f64() * 1e3 / f64::from(self.per_call));
        }
    }

    pub fn summary(self) -> Summary {
        summarize(self.samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_by_nearest_rank() {
        let s = summarize((1..=10).map(f64::from).rev().collect());
        assert_eq!(s.median_ms, 5.5);
        assert_eq!(s.p90_ms, 9.0);
        assert_eq!(s.iterations, 10);
        let s = summarize(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.median_ms, s.p90_ms), (2.0, 3.0));
    }
}

#[cfg(test)]
mod sampler_tests {
    use super::*;

    #[test]
    fn warm_up_is_not_kept_and_the_count_is_bounded() {
        let plan = Plan {
            warmup: 3,
            iterations: 7,
            budget: Duration::from_secs(60),
            min_iterations: 1,
        };
        let mut s = Sampler::new(plan, 2);
        let mut runs = 0;
        while s.more() {
            runs += 1;
            s.done(Instant::now());
        }
        assert_eq!(runs, 10);
        assert_eq!(s.summary().iterations, 7);
    }
}
