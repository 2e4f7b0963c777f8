//! Sequence sets (RFC 3501 9, `sequence-set`): message sequence numbers or
//! UIDs, with `*` for the largest one in use.

/// One end of a range: a number (never 0) or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    /// A sequence number or UID.
    Value(u32),
    /// `*`: the largest number in use.
    Largest,
}

impl SeqNumber {
    fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqNumber::Value(n) => n,
            SeqNumber::Largest => largest,
        }
    }
}

/// A sequence set: ranges in the order given. `a:b` and `b:a` are the same
/// range (RFC 3501 9, `seq-range`), so `*:1` is `1:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<(SeqNumber, SeqNumber)>);

impl SequenceSet {
    /// Whether `n` is in the set when `*` stands for `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|&(a, b)| {
            let (a, b) = (a.resolve(largest), b.resolve(largest));
            a.min(b) <= n && n <= a.max(b)
        })
    }

    /// The ranges as inclusive `(low, high)` pairs when `*` stands for
    /// `largest`.
    pub fn ranges(&self, largest: u32) -> Vec<(u32, u32)> {
        self.0
            .iter()
            .map(|&(a, b)| {
                let (a, b) = (a.resolve(largest), b.resolve(largest));
                (a.min(b), a.max(b))
            })
            .collect()
    }

    /// The largest number the set names, `*` counting as `largest`.
    pub fn max_value(&self, largest: u32) -> u32 {
        self.ranges(largest).iter().map(|r| r.1).max().unwrap_or(0)
    }
}

/// Renders ascending numbers compactly (`1:3,7`), as in COPYUID.
pub fn compact(numbers: impl IntoIterator<Item = u32>) -> String {
    compact_ranges(numbers.into_iter().map(|n| (n, n)))
}

/// Renders ascending, disjoint inclusive ranges compactly (`1:3,7`),
/// joining adjacent ones: a `sequence-set` (RFC 3501 9) of as many parts
/// as there are runs, whatever the ranges hold.
pub fn compact_ranges(ranges: impl IntoIterator<Item = (u32, u32)>) -> String {
    let mut out = String::new();
    let mut run: Option<(u32, u32)> = None;
    let push = |out: &mut String, (a, b): (u32, u32)| {
        if !out.is_empty() {
            out.push(',');
        }
        if a == b {
            out.push_str(&a.to_string());
        } else {
            out.push_str(&format!("{a}:{b}"));
        }
    };
    for (low, high) in ranges {
        run = match run {
            Some((a, b)) if b.checked_add(1) == Some(low) => Some((a, high)),
            Some(r) => {
                push(&mut out, r);
                Some((low, high))
            }
            None => Some((low, high)),
        };
    }
    if let Some(r) = run {
        push(&mut out, r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeqNumber::*;

    #[test]
    fn reversed_and_star_ranges() {
        let s = SequenceSet(vec![(Largest, Value(1))]);
        assert!(s.contains(1, 5) && s.contains(5, 5) && !s.contains(6, 5));
        let s = SequenceSet(vec![(Value(4), Value(2))]);
        assert_eq!(s.ranges(10), vec![(2, 4)]);
        // RFC 3501 6.4.8: "UID 5:*" names the largest UID even below 5.
        let s = SequenceSet(vec![(Value(5), Largest)]);
        assert!(s.contains(3, 3));
    }

    #[test]
    fn compact_rendering() {
        assert_eq!(compact([1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(compact([]), "");
    }
}
