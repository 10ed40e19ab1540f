//! One simulated battery: physics plus the SunSpec 704 controls, the revert timer and faults.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use vpp_domain::{BatterySpec, Kilowatts, Soc};

use crate::physics::{self, BatteryState, PhysicsParams};

/// SunSpec 704 `WSetMod`: how the active-power setpoint is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WSetMode {
    /// `WSetPct`, a percentage of the power rating (`W_MAX_PCT`, 0).
    MaxPercent,
    /// `WSet`, in watts (`WATTS`, 1).
    Watts,
}

/// The active-power controls of SunSpec model 704, in engineering units.
///
/// While `enabled`, the battery follows the setpoint. A write of the setpoint with a non-zero
/// `revert_after` arms the revert timer: if no new write arrives in time, the controls revert
/// to the `revert_*` values (by default: disabled, 0 W), so the device falls back to its default
/// even when nobody is left to tell it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Controls {
    /// `WSetEna`.
    pub enabled: bool,
    /// `WSetMod`.
    pub mode: WSetMode,
    /// `WSet`, watts, `> 0` discharging.
    pub w_set: i32,
    /// `WSetRvrt`, watts.
    pub w_set_revert: i32,
    /// `WSetPct`, hundredths of a percent of the rating.
    pub pct_set: i16,
    /// `WSetPctRvrt`, hundredths of a percent.
    pub pct_set_revert: i16,
    /// `WSetEnaRvrt`.
    pub enabled_revert: bool,
    /// `WSetRvrtTms`, seconds; 0 disables the revert timer.
    pub revert_after_s: u32,
    /// Time left until the controls revert; zero when the timer is not running.
    pub revert_remaining: Duration,
}

impl Default for Controls {
    fn default() -> Self {
        Self {
            enabled: false,
            mode: WSetMode::Watts,
            w_set: 0,
            w_set_revert: 0,
            pct_set: 0,
            pct_set_revert: 0,
            enabled_revert: false,
            revert_after_s: 0,
            revert_remaining: Duration::ZERO,
        }
    }
}

impl Controls {
    /// Restarts the revert timer (called after every write of the setpoint group).
    pub fn rearm(&mut self) {
        self.revert_remaining = Duration::from_secs(u64::from(self.revert_after_s));
    }

    fn revert(&mut self) {
        self.enabled = self.enabled_revert;
        self.w_set = self.w_set_revert;
        self.pct_set = self.pct_set_revert;
        self.revert_remaining = Duration::ZERO;
    }

    /// Requested battery power under these controls.
    #[must_use]
    pub fn request(&self, spec: &BatterySpec, default: Kilowatts) -> Kilowatts {
        if !self.enabled {
            return default;
        }
        match self.mode {
            // Within range by construction: writes are validated against the ratings.
            WSetMode::Watts => Kilowatts::from_watts(f64::from(self.w_set)).unwrap_or(default),
            WSetMode::MaxPercent => {
                let share = f64::from(self.pct_set) / 10_000.0;
                let rating = if share >= 0.0 {
                    spec.max_discharge()
                } else {
                    spec.max_charge()
                };
                rating * share
            }
        }
    }
}

/// A fault a scenario can switch on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Working normally.
    Healthy,
    /// Does not answer Modbus requests at all (the battery itself keeps running).
    Offline,
    /// Accepts setpoint writes but ignores them, holding the power it had.
    Stuck {
        /// The power it keeps.
        held: Kilowatts,
    },
    /// Just reset: every value reads "not implemented" for a while, and the controls are back
    /// at their defaults.
    ResetBurst {
        /// How long the burst lasts.
        remaining: Duration,
    },
    /// Keeps serving the values it had when the fault began while the battery moves on.
    Stale {
        /// The state it keeps reporting.
        frozen: BatteryState,
    },
}

/// Which fault to switch on, without its runtime data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// See [`Fault::Healthy`].
    Healthy,
    /// See [`Fault::Offline`].
    Offline,
    /// See [`Fault::Stuck`].
    Stuck,
    /// See [`Fault::ResetBurst`].
    ResetBurst,
    /// See [`Fault::Stale`].
    Stale,
}

/// Identity strings served in SunSpec model 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `Mn`.
    pub manufacturer: String,
    /// `Md`.
    pub model: String,
    /// `Vr`.
    pub version: String,
    /// `SN`.
    pub serial: String,
}

/// One simulated battery.
#[derive(Debug, Clone)]
pub struct SimBattery {
    spec: BatterySpec,
    params: PhysicsParams,
    default_power: Kilowatts,
    state: BatteryState,
    controls: Controls,
    fault: Fault,
    heartbeat: u16,
    identity: Identity,
}

impl SimBattery {
    /// A healthy battery at rest at `soc`, with default controls.
    #[must_use]
    pub fn new(spec: BatterySpec, params: PhysicsParams, soc: Soc, identity: Identity) -> Self {
        Self {
            state: BatteryState::at_rest(&spec, soc),
            spec,
            params,
            default_power: Kilowatts::ZERO,
            controls: Controls::default(),
            fault: Fault::Healthy,
            heartbeat: 0,
            identity,
        }
    }

    /// Rating and limits (the reserve can change through SunSpec 802 `SoCRsvMin`).
    #[must_use]
    pub fn spec(&self) -> &BatterySpec {
        &self.spec
    }

    /// Simulation parameters.
    #[must_use]
    pub fn params(&self) -> &PhysicsParams {
        &self.params
    }

    /// The true physical state (what the battery does, whatever it reports).
    #[must_use]
    pub fn state(&self) -> &BatteryState {
        &self.state
    }

    /// The state the device reports: frozen while [`Fault::Stale`].
    #[must_use]
    pub fn reported_state(&self) -> &BatteryState {
        match &self.fault {
            Fault::Stale { frozen } => frozen,
            _ => &self.state,
        }
    }

    /// The 704 controls.
    #[must_use]
    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    /// The active fault.
    #[must_use]
    pub fn fault(&self) -> &Fault {
        &self.fault
    }

    /// Identity strings.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Heartbeat counter (802 `Hb`), advanced every step unless the device is stale.
    #[must_use]
    pub fn heartbeat(&self) -> u16 {
        self.heartbeat
    }

    /// Whether the device answers Modbus requests.
    #[must_use]
    pub fn is_online(&self) -> bool {
        !matches!(self.fault, Fault::Offline)
    }

    /// Whether every value currently reads as "not implemented".
    #[must_use]
    pub fn in_reset_burst(&self) -> bool {
        matches!(self.fault, Fault::ResetBurst { .. })
    }

    /// Replaces the controls after a validated register write and rearms the revert timer when
    /// the write touched the setpoint group.
    pub fn set_controls(&mut self, controls: Controls, rearm: bool) {
        self.controls = controls;
        if rearm {
            self.controls.rearm();
        }
    }

    /// Changes the reserve (802 `SoCRsvMin`); validated by the spec.
    pub fn set_reserve(&mut self, reserve: Soc) -> Result<(), vpp_domain::DomainError> {
        self.spec = self.spec.with_reserve(reserve)?;
        Ok(())
    }

    /// Switches a fault on (or off with [`FaultKind::Healthy`]). A reset burst lasts `burst`.
    pub fn set_fault(&mut self, kind: FaultKind, burst: Duration) {
        self.fault = match kind {
            FaultKind::Healthy => Fault::Healthy,
            FaultKind::Offline => Fault::Offline,
            FaultKind::Stuck => Fault::Stuck {
                held: self.state.power,
            },
            FaultKind::ResetBurst => {
                self.controls = Controls::default();
                Fault::ResetBurst { remaining: burst }
            }
            FaultKind::Stale => Fault::Stale { frozen: self.state },
        };
    }

    /// The power the battery is asked for right now.
    #[must_use]
    pub fn request(&self) -> Kilowatts {
        match self.fault {
            Fault::Stuck { held } => held,
            _ => self.controls.request(&self.spec, self.default_power),
        }
    }

    /// Advances the battery by `dt`. When the revert timer expires inside the step, the step is
    /// split there: the setpoint applies up to the expiry and the reverted controls after it.
    pub fn step(&mut self, dt: Duration) -> &BatteryState {
        self.step_traced(dt);
        &self.state
    }

    /// [`Self::step`], telling the AC power the battery held over the step (what a meter in
    /// front of it would have seen).
    pub fn step_traced(&mut self, dt: Duration) -> StepPower {
        let mut left = dt;
        let mut split = None;
        let rem = self.controls.revert_remaining;
        if !rem.is_zero() && rem <= left {
            self.state = physics::step(&self.spec, &self.params, &self.state, rem, self.request());
            split = Some((rem, self.state.power));
            self.controls.revert();
            left -= rem;
        } else if !rem.is_zero() {
            self.controls.revert_remaining -= left;
        }
        self.state = physics::step(&self.spec, &self.params, &self.state, left, self.request());
        let after = self.state.power;
        let (until, before) = split.unwrap_or((dt, after));
        if let Fault::ResetBurst { remaining } = &mut self.fault {
            *remaining = remaining.saturating_sub(dt);
            if remaining.is_zero() {
                self.fault = Fault::Healthy;
            }
        }
        if !matches!(self.fault, Fault::Stale { .. }) {
            self.heartbeat = self.heartbeat.wrapping_add(1);
        }
        StepPower {
            until,
            before,
            after,
        }
    }
}

/// The AC power a battery held over one step (`> 0` discharging). [`physics::step`] holds the
/// power constant over its `dt`, so a step has one power, or two when the revert timer
/// expired inside it and split it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepPower {
    /// How long into the step `before` was held (the whole step when it was not split).
    pub until: Duration,
    /// Power from the start of the step to `until`.
    pub before: Kilowatts,
    /// Power from `until` to the end of the step: the battery's power after the step.
    pub after: Kilowatts,
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpp_domain::BatterySpecParams;

    fn battery() -> SimBattery {
        let spec = BatterySpec::new(BatterySpecParams::home_battery()).unwrap();
        let params = PhysicsParams {
            ramp_kw_per_s: None,
            self_discharge_per_hour: 0.0,
        };
        let id = Identity {
            manufacturer: "vpp".into(),
            model: "sim".into(),
            version: "1".into(),
            serial: "SN1".into(),
        };
        SimBattery::new(spec, params, Soc::new(0.5).unwrap(), id)
    }

    fn enable(b: &mut SimBattery, w: i32, revert_s: u32) {
        let c = Controls {
            enabled: true,
            w_set: w,
            revert_after_s: revert_s,
            ..*b.controls()
        };
        b.set_controls(c, true);
    }

    #[test]
    fn setpoint_applies_then_reverts_exactly_at_the_timeout() {
        let mut b = battery();
        enable(&mut b, 3000, 10);
        b.step(Duration::from_secs(4));
        assert_eq!(b.state().power.get(), 3.0);
        let e_before = b.state().discharged_ac.get();
        // The timer expires 6 s into this 8 s step: 6 s at 3 kW, then 2 s at the default.
        let held = b.step_traced(Duration::from_secs(8));
        assert_eq!(
            held,
            StepPower {
                until: Duration::from_secs(6),
                before: Kilowatts::new(3.0).unwrap(),
                after: Kilowatts::ZERO,
            }
        );
        assert_eq!(b.state().power.get(), 0.0);
        assert!(!b.controls().enabled);
        let delivered = b.state().discharged_ac.get() - e_before;
        assert!(
            (delivered - 3.0 * 6.0 / 3600.0).abs() < 1e-12,
            "{delivered}"
        );
    }

    #[test]
    fn refreshing_the_setpoint_keeps_it_alive() {
        let mut b = battery();
        for _ in 0..5 {
            enable(&mut b, -2000, 10);
            let held = b.step_traced(Duration::from_secs(9));
            assert_eq!(b.state().power.get(), -2.0);
            assert_eq!(held.until, Duration::from_secs(9), "not split");
            assert_eq!(
                (held.before, held.after),
                (b.state().power, b.state().power)
            );
        }
    }

    #[test]
    fn a_zero_timeout_never_reverts() {
        let mut b = battery();
        enable(&mut b, 1000, 0);
        b.step(Duration::from_secs(3600));
        assert_eq!(b.state().power.get(), 1.0);
    }

    #[test]
    fn percent_mode_uses_the_rating_of_the_direction() {
        let mut b = battery();
        let c = Controls {
            enabled: true,
            mode: WSetMode::MaxPercent,
            pct_set: -5000,
            ..*b.controls()
        };
        b.set_controls(c, true);
        b.step(Duration::from_secs(1));
        assert_eq!(b.state().power.get(), -2.5);
    }

    #[test]
    fn stuck_batteries_ignore_new_setpoints() {
        let mut b = battery();
        enable(&mut b, 1000, 0);
        b.step(Duration::from_secs(1));
        b.set_fault(FaultKind::Stuck, Duration::ZERO);
        enable(&mut b, -4000, 0);
        b.step(Duration::from_secs(1));
        assert_eq!(b.state().power.get(), 1.0);
    }

    #[test]
    fn stale_batteries_report_frozen_values_while_moving_on() {
        let mut b = battery();
        enable(&mut b, 5000, 0);
        b.step(Duration::from_secs(1));
        b.set_fault(FaultKind::Stale, Duration::ZERO);
        let hb = b.heartbeat();
        b.step(Duration::from_secs(600));
        assert!(b.state().energy < b.reported_state().energy);
        assert_eq!(b.heartbeat(), hb);
    }

    #[test]
    fn a_reset_burst_clears_controls_and_ends_by_itself() {
        let mut b = battery();
        enable(&mut b, 5000, 0);
        b.set_fault(FaultKind::ResetBurst, Duration::from_secs(3));
        assert!(b.in_reset_burst());
        assert!(!b.controls().enabled);
        b.step(Duration::from_secs(2));
        assert!(b.in_reset_burst());
        b.step(Duration::from_secs(1));
        assert!(!b.in_reset_burst());
        assert_eq!(b.state().power.get(), 0.0);
    }
}
