//! Battery physics: one pure step of energy, power and wear.
//!
//! Conventions: power is AC power at the inverter terminals, `> 0` discharging. With
//! `E_in` the AC energy absorbed and `E_out` the AC energy delivered during a step, the stored
//! energy changes by `ΔE = η_c·E_in − E_out/η_d − E_sd` where `E_sd` is self-discharge.
//!
//! Order of limits in one step: the request is clamped to the power ratings, then to the ramp
//! limit around the previous power, then to what the state of charge allows (discharging stops
//! at the reserve, charging at `soc_max`). State-of-charge protection overrides the ramp limit:
//! a battery that reaches its floor stops at once, as a real battery management system does.
//! Self-discharge never takes the battery below `soc_min`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use vpp_domain::{BatterySpec, KilowattHours, Kilowatts, Soc};

/// Simulation parameters that are not part of the battery's rating.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhysicsParams {
    /// Largest change of power per second; `None` means the inverter follows at once.
    pub ramp_kw_per_s: Option<Kilowatts>,
    /// Self-discharge per hour as a fraction of stored energy (e.g. `2e-5` ≈ 1.4 % a month).
    pub self_discharge_per_hour: f64,
}

impl Default for PhysicsParams {
    fn default() -> Self {
        Self {
            ramp_kw_per_s: None,
            self_discharge_per_hour: 2e-5,
        }
    }
}

/// What limited the power during a step (the last limit that bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The request was met.
    None,
    /// The power rating.
    Power,
    /// The ramp rate.
    Ramp,
    /// Discharging stopped at the reserve (or `soc_min`).
    Floor,
    /// Charging stopped at `soc_max`.
    Ceiling,
}

/// The physical state of one battery.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatteryState {
    /// Stored energy.
    pub energy: KilowattHours,
    /// AC power during the last step, `> 0` discharging.
    pub power: Kilowatts,
    /// Lifetime AC energy absorbed while charging.
    pub charged_ac: KilowattHours,
    /// Lifetime AC energy delivered while discharging.
    pub discharged_ac: KilowattHours,
    /// Lifetime energy lost to self-discharge.
    pub self_discharged: KilowattHours,
    /// Equivalent full cycles: stored energy removed by discharging over the usable capacity.
    pub cycles: f64,
    /// What limited the power in the last step.
    pub limit: Limit,
}

impl BatteryState {
    /// A battery at rest at `soc`, clamped into the spec's `[soc_min, soc_max]`.
    #[must_use]
    pub fn at_rest(spec: &BatterySpec, soc: Soc) -> Self {
        let soc = soc.get().clamp(spec.soc_min().get(), spec.soc_max().get());
        Self {
            energy: spec.capacity() * soc,
            power: Kilowatts::ZERO,
            charged_ac: KilowattHours::ZERO,
            discharged_ac: KilowattHours::ZERO,
            self_discharged: KilowattHours::ZERO,
            cycles: 0.0,
            limit: Limit::None,
        }
    }

    /// State of charge (stored energy over capacity), within `[soc_min, soc_max]`.
    #[must_use]
    pub fn soc(&self, spec: &BatterySpec) -> Soc {
        Soc::new((self.energy.get() / spec.capacity().get()).clamp(0.0, 1.0))
            .expect("a ratio clamped to [0, 1] is a valid state of charge")
    }
}

/// Advances `state` by `dt` with the battery asked for `request` (`> 0` discharging).
///
/// Pure and allocation-free: the same inputs always give the same state.
#[must_use]
pub fn step(
    spec: &BatterySpec,
    params: &PhysicsParams,
    state: &BatteryState,
    dt: Duration,
    request: Kilowatts,
) -> BatteryState {
    let dt_s = dt.as_secs_f64();
    if dt_s <= 0.0 {
        return *state;
    }
    let dt_h = dt_s / 3600.0;
    let eta_c = spec.charge_efficiency().get();
    let eta_d = spec.discharge_efficiency().get();
    let e_min = spec.energy_at(spec.soc_min());
    let e_max = spec.energy_at(spec.soc_max());
    let e_floor = spec.energy_at(spec.soc_reserve());

    let mut limit = Limit::None;
    let mut p = spec.clamp_power(request);
    if p != request {
        limit = Limit::Power;
    }
    if let Some(ramp) = params.ramp_kw_per_s {
        let dp = ramp * dt_s;
        let ramped = p.clamp(state.power - dp, state.power + dp);
        if ramped != p {
            limit = Limit::Ramp;
            p = ramped;
        }
    }

    let e0 = state.energy;
    let e_sd =
        (e0 * (params.self_discharge_per_hour * dt_h)).min((e0 - e_min).max(KilowattHours::ZERO));
    let e1 = e0 - e_sd;

    let mut energy_in = KilowattHours::ZERO;
    let mut energy_out = KilowattHours::ZERO;
    let e2 = if p > Kilowatts::ZERO {
        let headroom = (e1 - e_floor).max(KilowattHours::ZERO);
        let p_soc = headroom.per_hours(dt_h) * eta_d;
        if p_soc < p {
            limit = Limit::Floor;
            p = p_soc;
        }
        energy_out = p.over_hours(dt_h);
        (e1 - energy_out * (1.0 / eta_d)).max(e_floor.min(e1))
    } else if p < Kilowatts::ZERO {
        let room = (e_max - e1).max(KilowattHours::ZERO);
        let p_soc = -(room.per_hours(dt_h) * (1.0 / eta_c));
        if p_soc > p {
            limit = Limit::Ceiling;
            p = p_soc;
        }
        energy_in = (-p).over_hours(dt_h);
        (e1 + energy_in * eta_c).min(e_max.max(e1))
    } else {
        e1
    };

    let usable = spec.capacity().get() * (spec.soc_max().get() - spec.soc_min().get());
    BatteryState {
        energy: e2,
        power: p,
        charged_ac: state.charged_ac + energy_in,
        discharged_ac: state.discharged_ac + energy_out,
        self_discharged: state.self_discharged + e_sd,
        cycles: state.cycles + energy_out.get() / eta_d / usable,
        limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use vpp_domain::BatterySpecParams;

    fn kw(v: f64) -> Kilowatts {
        Kilowatts::new(v).unwrap()
    }

    fn home() -> BatterySpec {
        BatterySpec::new(BatterySpecParams::home_battery()).unwrap()
    }

    const NO_LOSS: PhysicsParams = PhysicsParams {
        ramp_kw_per_s: None,
        self_discharge_per_hour: 0.0,
    };

    #[test]
    fn discharging_an_hour_removes_power_over_efficiency() {
        let spec = home();
        let s0 = BatteryState::at_rest(&spec, Soc::new(0.8).unwrap());
        let s1 = step(&spec, &NO_LOSS, &s0, Duration::from_secs(3600), kw(3.8));
        assert_eq!(s1.power, kw(3.8));
        assert!((s0.energy.get() - s1.energy.get() - 4.0).abs() < 1e-12);
        assert_eq!(s1.limit, Limit::None);
        assert!((s1.cycles - 4.0 / (13.5 * 0.95)).abs() < 1e-12);
    }

    #[test]
    fn requests_beyond_the_rating_are_clamped() {
        let spec = home();
        let s0 = BatteryState::at_rest(&spec, Soc::new(0.5).unwrap());
        let s1 = step(&spec, &NO_LOSS, &s0, Duration::from_secs(1), kw(-50.0));
        assert_eq!(s1.power, kw(-5.0));
        assert_eq!(s1.limit, Limit::Power);
    }

    #[test]
    fn discharging_stops_at_the_reserve_and_charging_at_soc_max() {
        let spec = home();
        let s0 = BatteryState::at_rest(&spec, Soc::new(0.11).unwrap());
        let s1 = step(&spec, &NO_LOSS, &s0, Duration::from_secs(3600), kw(5.0));
        assert_eq!(s1.limit, Limit::Floor);
        assert!((s1.soc(&spec).get() - 0.1).abs() < 1e-12);
        assert!((s1.power.get() - 0.01 * 13.5 * 0.95).abs() < 1e-12);
        let s2 = step(&spec, &NO_LOSS, &s1, Duration::from_secs(60), kw(5.0));
        assert_eq!(s2.power, Kilowatts::ZERO);

        let full = BatteryState::at_rest(&spec, Soc::new(0.99).unwrap());
        let s3 = step(&spec, &NO_LOSS, &full, Duration::from_secs(3600), kw(-5.0));
        assert_eq!(s3.limit, Limit::Ceiling);
        assert!((s3.soc(&spec).get() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ramp_limits_the_change_of_power() {
        let spec = home();
        let params = PhysicsParams {
            ramp_kw_per_s: Some(kw(1.0)),
            self_discharge_per_hour: 0.0,
        };
        let s0 = BatteryState::at_rest(&spec, Soc::new(0.5).unwrap());
        let s1 = step(&spec, &params, &s0, Duration::from_secs(2), kw(5.0));
        assert_eq!(s1.power, kw(2.0));
        assert_eq!(s1.limit, Limit::Ramp);
        let s2 = step(&spec, &params, &s1, Duration::from_secs(10), kw(5.0));
        assert_eq!(s2.power, kw(5.0));
    }

    #[test]
    fn self_discharge_stops_at_soc_min() {
        let spec = home();
        let params = PhysicsParams {
            ramp_kw_per_s: None,
            self_discharge_per_hour: 0.5,
        };
        let mut s = BatteryState::at_rest(&spec, Soc::new(0.2).unwrap());
        for _ in 0..100 {
            s = step(
                &spec,
                &params,
                &s,
                Duration::from_secs(3600),
                Kilowatts::ZERO,
            );
        }
        assert!((s.soc(&spec).get() - spec.soc_min().get()).abs() < 1e-12);
    }

    fn arb_spec() -> impl Strategy<Value = BatterySpec> {
        (
            0.5f64..2000.0,
            0.1f64..1000.0,
            0.1f64..1000.0,
            0.5f64..=1.0,
            0.5f64..=1.0,
            0.0f64..0.45,
            0.55f64..=1.0,
            0.0f64..=1.0,
        )
            .prop_map(|(cap, pc, pd, ec, ed, lo, hi, r)| {
                BatterySpec::new(BatterySpecParams {
                    capacity_kwh: cap,
                    max_charge_kw: pc,
                    max_discharge_kw: pd,
                    charge_efficiency: ec,
                    discharge_efficiency: ed,
                    soc_min: lo,
                    soc_max: hi,
                    soc_reserve: lo + r * (hi - lo),
                })
                .unwrap()
            })
    }

    fn arb_params() -> impl Strategy<Value = PhysicsParams> {
        (proptest::option::of(0.01f64..100.0), 0.0f64..0.01).prop_map(|(ramp, sd)| PhysicsParams {
            ramp_kw_per_s: ramp.map(kw),
            self_discharge_per_hour: sd,
        })
    }

    fn arb_steps() -> impl Strategy<Value = Vec<(u64, f64)>> {
        // (dt in ms up to one hour, request as a multiple of the larger rating, beyond it too)
        proptest::collection::vec((1u64..3_600_000, -1.5f64..1.5), 1000)
    }

    proptest! {
        // 100 cases × 1000 steps = 100,000 random steps.
        #![proptest_config(ProptestConfig::with_cases(100))]
        #[test]
        fn soc_power_and_energy_balance_hold_over_random_steps(
            spec in arb_spec(),
            params in arb_params(),
            soc0 in 0.0f64..=1.0,
            steps in arb_steps(),
        ) {
            let eta_c = spec.charge_efficiency().get();
            let eta_d = spec.discharge_efficiency().get();
            let scale = spec.max_charge().get().max(spec.max_discharge().get());
            let s0 = BatteryState::at_rest(&spec, Soc::new(soc0).unwrap());
            let mut s = s0;
            for (dt_ms, r) in steps {
                let next = step(&spec, &params, &s, Duration::from_millis(dt_ms), kw(r * scale));
                // State of charge within its limits.
                let soc = next.energy.get() / spec.capacity().get();
                prop_assert!(soc >= spec.soc_min().get() - 1e-12 && soc <= spec.soc_max().get() + 1e-12,
                    "soc {soc} outside [{}, {}]", spec.soc_min().get(), spec.soc_max().get());
                // Power within its ratings.
                prop_assert!(spec.allows(next.power), "power {} outside ratings", next.power);
                // Energy balance of this step.
                let e_in = next.charged_ac.get() - s.charged_ac.get();
                let e_out = next.discharged_ac.get() - s.discharged_ac.get();
                let e_sd = next.self_discharged.get() - s.self_discharged.get();
                let lhs = eta_c * e_in - e_out / eta_d - e_sd;
                let rhs = next.energy.get() - s.energy.get();
                let scale_e = spec.capacity().get().max(e_in).max(e_out);
                prop_assert!((lhs - rhs).abs() <= 1e-9 * scale_e, "step balance {lhs} vs {rhs}");
                s = next;
            }
            // And over the whole run.
            let lhs = eta_c * s.charged_ac.get() - s.discharged_ac.get() / eta_d - s.self_discharged.get();
            let rhs = s.energy.get() - s0.energy.get();
            let scale_e = s.charged_ac.get().max(s.discharged_ac.get()).max(spec.capacity().get());
            prop_assert!((lhs - rhs).abs() <= 1e-9 * scale_e, "run balance {lhs} vs {rhs}");
        }
    }
}
