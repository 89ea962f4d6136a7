//! A log-linear latency histogram (HDR-style): fixed memory, no allocation per sample.
//!
//! Values below 128 get a bucket each; above that, every power of two is split into 64
//! linear buckets, so a reported value is within 1/64 (1.6 %) above the true one.

/// Values below this get one bucket each.
const LINEAR: u64 = 128;
/// Linear buckets per power of two above [`LINEAR`].
const PER_OCTAVE: usize = 64;
/// Powers of two from 2^7 to 2^63.
const OCTAVES: usize = 57;
const BUCKETS: usize = LINEAR as usize + OCTAVES * PER_OCTAVE;

/// Counts of `u64` samples (nanoseconds, here) in log-linear buckets.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Box<[u64]>,
    total: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("total", &self.total)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub(crate) fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Adds one sample.
    pub(crate) fn record(&mut self, value: u64) {
        self.counts[index(value)] += 1;
        self.total += 1;
        self.sum += u128::from(value);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Adds every sample of `other`.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Number of samples.
    pub(crate) fn count(&self) -> u64 {
        self.total
    }

    /// Largest sample, 0 when empty.
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// Arithmetic mean, 0 when empty.
    pub(crate) fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The smallest bucket bound at or below which a fraction `q` (0..=1) of the samples
    /// lie, clamped to the largest sample; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }
}

/// The bucket of `v`.
fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros() as usize; // 7..=63
    let shift = exp - 6; // keeps the top 7 bits: 64..=127
    let top = (v >> shift) as usize;
    LINEAR as usize + (exp - 7) * PER_OCTAVE + (top - PER_OCTAVE)
}

/// The largest value that lands in bucket `i`.
fn upper(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let k = i - LINEAR as usize;
    let exp = k / PER_OCTAVE + 7;
    let top = (k % PER_OCTAVE + PER_OCTAVE) as u64;
    let shift = exp - 6;
    // In u128: for the very last bucket the bound is 2^64 - 1.
    (((u128::from(top) + 1) << shift) - 1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        for v in 0..LINEAR {
            assert_eq!(index(v), v as usize);
            assert_eq!(upper(index(v)), v);
        }
    }

    #[test]
    fn buckets_are_contiguous_and_cover_u64() {
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!(upper(BUCKETS - 1), u64::MAX);
        for i in 0..BUCKETS - 1 {
            let top = upper(i);
            assert_eq!(index(top), i, "upper bound of {i} is in {i}");
            assert_eq!(index(top + 1), i + 1, "next value starts bucket {}", i + 1);
        }
    }

    #[test]
    fn relative_error_is_below_one_sixty_fourth() {
        let mut v = 1u64;
        while v < u64::MAX / 3 {
            let up = upper(index(v));
            assert!(up >= v);
            assert!((up - v) as f64 <= v as f64 / 64.0, "{v} -> {up}");
            v = v * 3 + 1;
        }
    }

    #[test]
    fn quantiles_of_a_uniform_run() {
        let mut h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 10_000);
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((5_000_000.0..=5_000_000.0 * 1.016).contains(&p50), "{p50}");
        assert!((9_900_000.0..=9_900_000.0 * 1.016).contains(&p99), "{p99}");
        assert_eq!(h.quantile(1.0), 10_000_000);
        assert_eq!(h.max(), 10_000_000);
        assert!((h.mean() - 5_000_500.0).abs() < 1e-6);
    }

    #[test]
    fn quantile_is_clamped_to_the_largest_sample() {
        let mut h = Histogram::new();
        h.record(1000);
        assert_eq!(h.quantile(0.5), 1000);
        assert_eq!(h.quantile(0.0), 1000);
    }

    #[test]
    fn empty_reports_zero() {
        let h = Histogram::new();
        assert_eq!((h.count(), h.quantile(0.99), h.max()), (0, 0, 0));
        assert_eq!(h.mean(), 0.0);
    }

    #[test]
    fn merge_adds_counts_and_extremes() {
        let (mut a, mut b) = (Histogram::new(), Histogram::new());
        a.record(10);
        b.record(5);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile(0.0), 5);
        assert_eq!(a.max(), 1_000_000);
        assert_eq!(a.quantile(0.34), 10);
    }
}
