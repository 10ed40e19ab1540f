//! Criterion benchmarks of vpp (`cargo bench -p vpp-benches`); this library holds their shared
//! fixtures. The benchmarks print figures; no test asserts a speed.

use vpp_battery_sim::rng::SplitMix64;
use vpp_domain::{BatterySpec, BatterySpecParams};

/// `n` varied home and commercial batteries from `seed`.
///
/// # Panics
/// Never for the parameter ranges used here (they are valid specs).
#[must_use]
pub fn varied_specs(n: usize, seed: u64) -> Vec<BatterySpec> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let cap = rng.range(5.0, 100.0);
            BatterySpec::new(BatterySpecParams {
                capacity_kwh: cap,
                max_charge_kw: cap * rng.range(0.3, 0.6),
                max_discharge_kw: cap * rng.range(0.3, 0.6),
                charge_efficiency: rng.range(0.92, 0.98),
                discharge_efficiency: rng.range(0.92, 0.98),
                soc_min: 0.05,
                soc_max: 0.95,
                soc_reserve: 0.1,
            })
            .expect("parameters within the valid ranges")
        })
        .collect()
}
