//! Local fallback and site guard (pure): while the control plane is unreachable, hold a site's
//! grid import under a limit with the site's batteries ([`hold_import`]); while it is
//! reachable, hold the cap its setpoints carry by discharging more than they ask ([`guard`]).
//!
//! The site's import is `load − Σ battery power`, so the battery power that brings the import
//! to the limit is `Σ p + (import − limit)`. That total is shared among the batteries that can
//! discharge (state of charge known and above their reserve) in proportion to their discharge
//! ratings, each clamped to its rating, so no target is ever outside a battery's limits. When
//! the import is below the limit, the total shrinks toward zero and the fallback lets go.

/// What the fallback knows of one battery.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryView {
    /// Current power, kW, `> 0` discharging.
    pub power_kw: f64,
    /// Discharge rating, kW (`> 0`).
    pub max_discharge_kw: f64,
    /// State of charge, if known.
    pub soc: Option<f64>,
    /// Reserve state of charge, if known.
    pub soc_reserve: Option<f64>,
    /// Energy stored above the lowest state of charge it may discharge to (the higher of its
    /// minimum and its reserve), kWh, if known.
    pub energy_kwh: Option<f64>,
}

/// Margin above the reserve below which a battery is not asked to discharge.
const RESERVE_MARGIN: f64 = 0.01;

/// Per-battery power targets (kW, `>= 0`, each within its rating) that bring the site's import
/// to at most `limit_kw`; `None` when no battery needs a command (import under the limit and
/// nobody discharging for the fallback, shown by `engaged == false`).
#[must_use]
pub fn hold_import(
    import_kw: f64,
    limit_kw: f64,
    engaged: bool,
    batteries: &[BatteryView],
) -> Option<Vec<f64>> {
    if !import_kw.is_finite() || !limit_kw.is_finite() {
        return None;
    }
    if import_kw <= limit_kw && !engaged {
        return None;
    }
    let current: f64 = batteries.iter().map(|b| b.power_kw).sum();
    let total = (current + import_kw - limit_kw).max(0.0);
    let able = |b: &BatteryView| match (b.soc, b.soc_reserve) {
        (Some(soc), Some(rsv)) => soc > rsv + RESERVE_MARGIN && b.max_discharge_kw > 0.0,
        _ => false,
    };
    let capacity: f64 = batteries
        .iter()
        .filter(|b| able(b))
        .map(|b| b.max_discharge_kw)
        .sum();
    Some(
        batteries
            .iter()
            .map(|b| {
                if able(b) && capacity > 0.0 {
                    (total * b.max_discharge_kw / capacity).clamp(0.0, b.max_discharge_kw)
                } else {
                    0.0
                }
            })
            .collect(),
    )
}

/// Targets for the site guard (while the control plane is reachable): each battery's setpoint
/// plus a share of the discharge that brings the site's import down to `cap_kw`; `None` when
/// the setpoints alone keep the import at or under the cap (or nothing can help).
///
/// A spike the plan did not foresee may last: the guard rations each battery's stored energy
/// over `endurance_h` hours (it never discharges faster than `energy / endurance_h`, nor beyond
/// its rating), so that a long spike is shaved all along instead of only at its start — the
/// billed peak is the highest quarter-hour, so an empty battery at the spike's end is what
/// sets it.
///
/// The import the setpoints alone would give is `import − Σ (setpoint − power)` (the measured
/// import with each battery's own deviation taken out), so the guard lets go as soon as the
/// load falls back. The excess is shared in proportion to each battery's headroom: up to its
/// discharge rating when it may discharge (SoC known and above reserve), else only back to
/// zero from a charging setpoint. No target leaves `[setpoint, max(setpoint, rating)]`.
#[must_use]
pub fn guard(
    import_kw: f64,
    cap_kw: f64,
    endurance_h: f64,
    batteries: &[(f64, BatteryView)],
) -> Option<Vec<f64>> {
    if !import_kw.is_finite() || !cap_kw.is_finite() {
        return None;
    }
    let deviation: f64 = batteries.iter().map(|(sp, b)| sp - b.power_kw).sum();
    let excess = import_kw - deviation - cap_kw;
    if excess <= 1e-9 || !excess.is_finite() {
        return None;
    }
    let headroom: Vec<f64> = batteries
        .iter()
        .map(|(sp, b)| {
            let able = matches!((b.soc, b.soc_reserve),
                (Some(soc), Some(rsv)) if soc > rsv + RESERVE_MARGIN);
            let rationed = match b.energy_kwh {
                Some(e) if endurance_h > 0.0 => e.max(0.0) / endurance_h,
                _ => f64::INFINITY,
            };
            let top = if able {
                b.max_discharge_kw.max(0.0).min(rationed)
            } else {
                0.0
            };
            (top - sp).max(0.0)
        })
        .collect();
    let total: f64 = headroom.iter().sum();
    if total <= 1e-9 {
        return None;
    }
    let f = (excess / total).min(1.0);
    Some(
        batteries
            .iter()
            .zip(&headroom)
            .map(|((sp, _), h)| sp + f * h)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_raises_discharge_by_headroom_and_lets_go_when_the_load_falls() {
        // Both at their setpoints (charging 0.5 kW each), import 7 with a cap of 2: 5 kW of
        // excess over headrooms of 5.5 and 3.5 (ratings 5 and 3).
        let b = |sp: f64, max: f64| {
            (
                sp,
                BatteryView {
                    power_kw: sp,
                    ..bat(0.0, max, 0.5)
                },
            )
        };
        let t = guard(7.0, 2.0, 0.0, &[b(-0.5, 5.0), b(-0.5, 3.0)]).unwrap();
        assert!(
            (t.iter().sum::<f64>() - (-1.0 + 5.0)).abs() < 1e-12,
            "{t:?}"
        );
        assert!((t[0] - (-0.5 + 5.0 * 5.5 / 9.0)).abs() < 1e-12);
        // More than the headroom: every battery at its rating, never beyond.
        assert_eq!(
            guard(20.0, 2.0, 0.0, &[b(-0.5, 5.0), b(-0.5, 3.0)]).unwrap(),
            vec![5.0, 3.0]
        );
        // Already raised (discharging 2 kW over a charging setpoint) and the load falls: the
        // import the setpoints alone would give is under the cap, so it lets go.
        let raised = (
            -0.5,
            BatteryView {
                power_kw: 2.0,
                ..bat(0.0, 5.0, 0.5)
            },
        );
        assert_eq!(guard(-1.5, 2.0, 0.0, &[raised]), None);
        // Still over: it holds (the measured import already includes the raise).
        let t = guard(2.5, 2.0, 0.0, &[raised]).unwrap();
        assert!((t[0] - 2.5).abs() < 1e-12, "{t:?}");
        // An empty battery only stops charging; a discharging setpoint is never lowered.
        let empty = (
            -2.0,
            BatteryView {
                power_kw: -2.0,
                ..bat(0.0, 5.0, 0.105)
            },
        );
        assert_eq!(guard(9.0, 2.0, 0.0, &[empty]).unwrap(), vec![0.0]);
        assert_eq!(guard(9.0, 2.0, 0.0, &[b(4.0, 4.0)]), None);
        assert_eq!(guard(f64::NAN, 2.0, 0.0, &[b(0.0, 4.0)]), None);
    }

    fn bat(power: f64, max: f64, soc: f64) -> BatteryView {
        BatteryView {
            power_kw: power,
            max_discharge_kw: max,
            soc: Some(soc),
            soc_reserve: Some(0.1),
            energy_kwh: None,
        }
    }

    /// With little energy and a long spike ahead, the guard discharges no faster than the
    /// energy lasts over its endurance.
    #[test]
    fn the_guard_rations_stored_energy_over_its_endurance() {
        let low = BatteryView {
            energy_kwh: Some(0.6),
            ..bat(0.0, 5.0, 0.2)
        };
        let full = BatteryView {
            energy_kwh: Some(9.0),
            ..bat(0.0, 5.0, 0.9)
        };
        // 0.6 kWh over an hour: 0.6 kW, though 4.3 kW would hold the cap.
        let t = guard(6.3, 2.0, 1.0, &[(0.0, low)]).unwrap();
        assert!((t[0] - 0.6).abs() < 1e-12, "{t:?}");
        // Plenty of energy: the rating binds, as without rationing.
        let t = guard(9.0, 2.0, 1.0, &[(0.0, full)]).unwrap();
        assert!((t[0] - 5.0).abs() < 1e-12, "{t:?}");
        // Shared by headroom: the full battery takes the larger part.
        let t = guard(6.0, 2.0, 1.0, &[(0.0, low), (0.0, full)]).unwrap();
        assert!((t.iter().sum::<f64>() - 4.0).abs() < 1e-12, "{t:?}");
        assert!(t[0] <= 0.6 + 1e-12 && t[1] <= 5.0, "{t:?}");
        // No endurance: no rationing.
        let t = guard(6.3, 2.0, 0.0, &[(0.0, low)]).unwrap();
        assert!((t[0] - 4.3).abs() < 1e-12, "{t:?}");
    }

    #[test]
    fn nothing_to_do_under_the_limit() {
        assert_eq!(hold_import(3.0, 5.0, false, &[bat(0.0, 5.0, 0.5)]), None);
    }

    #[test]
    fn the_excess_is_shared_by_rating_and_clamped() {
        let t = hold_import(12.0, 6.0, false, &[bat(0.0, 5.0, 0.5), bat(0.0, 10.0, 0.5)]).unwrap();
        assert!(
            (t[0] - 2.0).abs() < 1e-12 && (t[1] - 4.0).abs() < 1e-12,
            "{t:?}"
        );
        let t = hold_import(40.0, 0.0, false, &[bat(0.0, 5.0, 0.5), bat(0.0, 10.0, 0.5)]).unwrap();
        assert_eq!(t, vec![5.0, 10.0], "never beyond a rating");
    }

    #[test]
    fn a_charging_battery_is_stopped_first() {
        // Charging at 3 kW pushes the import to 8, over a limit of 6: stopping the charge is
        // enough (total = -3 + 8 - 6 < 0, so every target is 0).
        let t = hold_import(8.0, 6.0, false, &[bat(-3.0, 5.0, 0.5)]).unwrap();
        assert_eq!(t, vec![0.0]);
    }

    #[test]
    fn empty_or_unknown_batteries_are_not_asked() {
        let unknown = BatteryView {
            soc: None,
            ..bat(0.0, 5.0, 0.5)
        };
        let t = hold_import(
            10.0,
            5.0,
            false,
            &[bat(0.0, 5.0, 0.105), unknown, bat(0.0, 5.0, 0.9)],
        )
        .unwrap();
        assert_eq!(t, vec![0.0, 0.0, 5.0]);
    }

    #[test]
    fn once_engaged_it_tracks_down_and_lets_go() {
        // Discharging 4 kW holds import at 5 under a limit of 6: ease off to 3 kW.
        let t = hold_import(5.0, 6.0, true, &[bat(4.0, 5.0, 0.5)]).unwrap();
        assert!((t[0] - 3.0).abs() < 1e-12);
        let t = hold_import(-2.0, 6.0, true, &[bat(1.0, 5.0, 0.5)]).unwrap();
        assert_eq!(t, vec![0.0]);
    }

    #[test]
    fn garbage_measurements_do_nothing() {
        assert_eq!(
            hold_import(f64::NAN, 6.0, true, &[bat(1.0, 5.0, 0.5)]),
            None
        );
    }
}
