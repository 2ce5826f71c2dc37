//! Statistics for A/B benchmarks on a shared, noisy machine: medians, and a distribution-free
//! confidence interval for the median from order statistics (no normality assumed).

/// The median (mean of the two middle values for an even count); 0 for no values.
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A confidence interval for the median of `v`: `(low, high, coverage)` where `low`/`high` are
/// the k-th smallest and largest values and `coverage` = P(Bin(n, ½) in [k, n-k]) ≥ 95 % when
/// n allows it (n ≥ 6); with fewer values it is the min..max range and its (lower) coverage.
pub fn median_ci(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return (0.0, 0.0, 0.0);
    }
    // P(X < k) for X ~ Bin(n, 1/2).
    let below =
        |k: usize| -> f64 { (0..k).map(|i| binom(n, i)).sum::<f64>() / 2f64.powi(n as i32) };
    let mut k = 1;
    while k < n / 2 && 1.0 - 2.0 * below(k + 1) >= 0.95 {
        k += 1;
    }
    (v[k - 1], v[n - k], 1.0 - 2.0 * below(k))
}

fn binom(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn ci_of_the_median_uses_order_statistics() {
        // n = 8: [x(2), x(7)] covers 1 - 2 * 9/256 = 92.97 %; [x(1), x(8)] 99.2 %.
        let v: Vec<f64> = (1..=8).map(f64::from).collect();
        let (lo, hi, cov) = median_ci(&v);
        assert_eq!((lo, hi), (1.0, 8.0));
        assert!((cov - (1.0 - 2.0 / 256.0)).abs() < 1e-9, "{cov}");
        // n = 12: k = 3 gives 1 - 2 * 79/4096 = 96.1 %.
        let v: Vec<f64> = (1..=12).map(f64::from).collect();
        let (lo, hi, cov) = median_ci(&v);
        assert_eq!((lo, hi), (3.0, 10.0));
        assert!(cov >= 0.95, "{cov}");
        // n = 3: the range, with its real coverage (75 %).
        let (lo, hi, cov) = median_ci(&[2.0, 1.0, 3.0]);
        assert_eq!((lo, hi), (1.0, 3.0));
        assert!((cov - 0.75).abs() < 1e-9);
    }
}
