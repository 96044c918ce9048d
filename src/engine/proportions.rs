//! Two shares compared: the pooled two-proportion z-test that tests every
//! row of a comparison and tells an explanation's steady values.

/// The pooled two-proportion z-test's two-sided p-value (1 when the
/// pooled share is 0 or 1: nothing varies).
pub fn two_proportion_p(x1: u64, n1: u64, x2: u64, n2: u64) -> f64 {
    let (x1, n1, x2, n2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let pooled = (x1 + x2) / (n1 + n2);
    if pooled <= 0.0 || pooled >= 1.0 {
        return 1.0;
    }
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let z = (x1 / n1 - x2 / n2) / se;
    libm::erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_z_test_matches_known_values() {
        // 45/100 vs 30/100: pooled 0.375, z = 2.19089, two-sided p = 0.028460.
        let p = two_proportion_p(45, 100, 30, 100);
        assert!((p - 0.028_460).abs() < 1e-5, "{p}");
        assert_eq!(two_proportion_p(0, 10, 0, 20), 1.0);
        assert_eq!(two_proportion_p(10, 10, 20, 20), 1.0);
    }
}
