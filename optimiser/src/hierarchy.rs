//! Hierarchical solve: virtual batteries per feeder, one small LP, top-down disaggregation.
//!
//! ## The virtual battery (feasible by construction)
//! The batteries of a feeder are grouped into classes (terminal target or free; round-trip
//! efficiency; initial and final state of charge): about one class per five batteries of a
//! feeder, at least 3 × 3 buckets and at most 5 × 5, fewer when there are many feeders (the
//! LP's size is what costs time).
//! Efficiency matters because the LP can then cycle the efficient batteries more; state of
//! charge because members far from their class's level would otherwise be moved to it.
//! Within a class, battery `i` with usable energy `u_i = (soc_max − soc_min)·capacity` follows
//!
//! `stored rate_i,t = u_i (X_t − Y_t) + ρ_i,t`
//!
//! where `X`, `Y ≥ 0` are the class's charge and discharge in "fractions of usable energy per
//! hour", decided by the LP, and `ρ_i` is a fixed *reference* that first brings every battery
//! to the class's common normalised level (the energy-weighted mean) and, at the end, spreads
//! them out to their own terminal targets, each at no more than half its rating. With the
//! normalised reference level `φ_i,t`, battery `i`'s state is `soc_min + u_i (φ_i,t + S_t)`
//! where `S` integrates `X − Y`; so the class's limits are
//! `S_t ∈ [max_i −φ_i,t, min_i 1 − φ_i,t]`, `X_t ≤ min_i (P_i − ρ⁺_i,t)/u_i`,
//! `Y_t ≤ min_i (P_i − ρ⁻_i,t)/u_i`, and grid-side the class charges `X Σ u_i/η_c,i` and
//! discharges `Y Σ u_i η_d,i`: linear, exact. Any LP answer within these limits gives every
//! battery a schedule within its own limits: that is the guarantee. It is an inner
//! approximation: what it gives up is measured against the monolithic LP (`vpp bench dispatch`).
//!
//! ## Two passes
//! The first pass is coarse (per feeder, one class of batteries with terminal targets and one
//! of free ones) and cheap; its references gather and spread the members at fixed times, which
//! moves energy between them when the class is idle. The second pass, at the budget's
//! resolution, times each member's reference on its coarse class's moves from the first (extra
//! charge for the emptier members while the class charges, extra discharge for the fuller while
//! it discharges), which moves next to none; the cheaper of the two verified plans is kept.
//! Where the budget gives no feeder a finer resolution than the coarse pass's (many feeders),
//! the second pass is skipped: re-timing alone lost (at 100,000 batteries on 500 feeders it
//! cost 653,235 € against the coarse pass's 134,358 €; why re-timing does so badly there is not
//! understood yet).
//!
//! ## Repair and verification
//! A class whose reference levels are too far apart for a common `S` (the bounds cross) is
//! split into single batteries, which are exact. Each battery's rate is netted (charge and
//! discharge at once become their difference: the same stored energy, less drawn from the
//! grid), clamped to its ratings, its state of charge recomputed, and every schedule verified
//! (`super::verify`): a violation is a bug and fails the plan.
//!
//! Site import/export limits (an optional field) are not modelled in the virtual batteries;
//! the plan reports any slack they need.

use std::collections::BTreeMap;

use super::lp::{self, LpSolver};
use super::network::{Attach, Unit};
use super::problem::{Battery, DispatchProblem};
use super::{Plan, PlanError, PlanMode, Schedule, finish, map_shared, network_of, repaired};

/// Virtual batteries the LP may have in all: the classes per feeder shrink as feeders grow in
/// number, so that the LP stays small.
pub const UNIT_BUDGET: usize = 600;

/// Batteries per class a feeder's resolution aims at.
const BATTERIES_PER_CLASS: usize = 5;

/// Classes a feeder may have whatever its size (the 3 × 3 resolution), budget permitting.
const CLASSES_AT_LEAST: usize = 36;

/// Class resolution per feeder: (efficiency classes, state-of-charge classes), the finest
/// whose most classes fit in `budget`: `eff · soc · soc` terminal ones (split by initial and
/// final state) if any battery has a terminal target, `eff · soc` free ones (by initial state
/// only) if any has none.
fn resolution(budget: usize, terminal: bool, free: bool) -> (usize, usize) {
    let classes = |r: usize, s: usize| r * s * (s * usize::from(terminal) + usize::from(free));
    [
        (5, 5),
        (5, 4),
        (4, 4),
        (4, 3),
        (3, 3),
        (2, 3),
        (2, 2),
        (1, 2),
    ]
    .into_iter()
    .find(|(r, s)| classes(*r, *s) <= budget)
    .unwrap_or((1, 1))
}

/// Share of its rating a battery's reference may use.
const REFERENCE_SHARE: f64 = 0.5;

/// A battery in a class, with its normalised reference.
struct Member<'a> {
    /// Its position in [`DispatchProblem::batteries`].
    index: usize,
    battery: &'a Battery,
    usable: f64,
    /// Reference level after each interval (fraction of usable energy).
    level: Vec<f64>,
    /// Reference stored rate per interval, kW (positive: charging).
    rate: Vec<f64>,
}

/// A class of batteries that become one LP unit.
struct Class<'a> {
    attach: Attach,
    members: Vec<Member<'a>>,
    terminal: bool,
}

fn usable(b: &Battery) -> f64 {
    ((b.soc_max - b.soc_min) * b.capacity_kwh).max(1e-9)
}

/// Normalised state of charge (0 at soc_min, 1 at soc_max).
fn normalised(b: &Battery, soc: f64) -> f64 {
    if b.soc_max > b.soc_min {
        (soc - b.soc_min) / (b.soc_max - b.soc_min)
    } else {
        0.0
    }
}

/// A path from 0 to `delta` (normalised) at no more than `max_step` per interval, starting at
/// the first interval (`from_start`) or ending at the last.
fn ramp(delta: f64, max_step: f64, t_len: usize, from_start: bool) -> Vec<f64> {
    let mut out = vec![0.0; t_len];
    if delta == 0.0 || max_step <= 0.0 {
        return out;
    }
    let steps = (delta.abs() / max_step).ceil().max(1.0) as usize;
    let per = delta / steps as f64;
    if from_start {
        for (t, x) in out.iter_mut().enumerate() {
            *x = per * (t + 1).min(steps) as f64;
        }
    } else {
        let first = t_len.saturating_sub(steps);
        for (t, x) in out.iter_mut().enumerate() {
            *x = if t < first {
                0.0
            } else {
                per * (t + 1 - first).min(steps) as f64
            };
        }
        if let Some(last) = out.last_mut() {
            // A horizon too short for the whole ramp still ends where it must.
            *last = delta;
        }
    }
    out
}

/// A path from 0 to `delta` like [`ramp`], but moving first where the class itself moves the
/// same way (`activity`: the class's normalised change per interval from a first solve), by no
/// more than the class moves: the member's extra movement then rides on the class's and moves
/// no energy between members. What is left goes by [`ramp`].
fn timed_ramp(
    delta: f64,
    max_step: f64,
    activity: &[f64],
    t_len: usize,
    from_start: bool,
) -> Vec<f64> {
    let mut moves = vec![0.0; t_len];
    let mut left = delta;
    let order: Vec<usize> = if from_start {
        (0..t_len).collect()
    } else {
        (0..t_len).rev().collect()
    };
    for t in order {
        if left.abs() < 1e-12 {
            break;
        }
        let a = activity.get(t).copied().unwrap_or(0.0);
        if a * left > 0.0 {
            let m = left.abs().min(a.abs()).min(max_step) * left.signum();
            moves[t] = m;
            left -= m;
        }
    }
    let rest = ramp(left, max_step, t_len, from_start);
    let mut acc = 0.0;
    (0..t_len)
        .map(|t| {
            acc += moves[t];
            acc + rest[t]
        })
        .collect()
}

impl<'a> Class<'a> {
    /// Builds the members' references.
    fn new(
        attach: Attach,
        batteries: &[Indexed<'a>],
        terminal: bool,
        t_len: usize,
        dt: f64,
        activity: Option<&[f64]>,
    ) -> Self {
        let total: f64 = batteries.iter().map(|(_, b)| usable(b)).sum();
        let common = batteries
            .iter()
            .map(|(_, b)| normalised(b, b.soc_initial) * usable(b))
            .sum::<f64>()
            / total;
        let common_end = if terminal {
            batteries
                .iter()
                .map(|(_, b)| normalised(b, b.soc_final.unwrap_or(b.soc_initial)) * usable(b))
                .sum::<f64>()
                / total
        } else {
            0.0
        };
        let members = batteries
            .iter()
            .map(|&(index, b)| {
                let u = usable(b);
                let max_step = REFERENCE_SHARE * b.max_power_kw * dt / u;
                let start = normalised(b, b.soc_initial);
                let path = |delta: f64, from_start: bool| match activity {
                    Some(a) => timed_ramp(delta, max_step, a, t_len, from_start),
                    None => ramp(delta, max_step, t_len, from_start),
                };
                let gather = path(common - start, true);
                let spread = if terminal {
                    path(
                        normalised(b, b.soc_final.unwrap_or(b.soc_initial)) - common_end,
                        false,
                    )
                } else {
                    vec![0.0; t_len]
                };
                let level: Vec<f64> = (0..t_len).map(|t| start + gather[t] + spread[t]).collect();
                let rate = (0..t_len)
                    .map(|t| {
                        let prev = if t == 0 { start } else { level[t - 1] };
                        (level[t] - prev) * u / dt
                    })
                    .collect();
                Member {
                    index,
                    battery: b,
                    usable: u,
                    level,
                    rate,
                }
            })
            .collect();
        Self {
            attach,
            members,
            terminal,
        }
    }

    /// Bounds of the common `S` per interval.
    fn bounds(&self, t_len: usize) -> (Vec<f64>, Vec<f64>) {
        let lo = (0..t_len)
            .map(|t| {
                self.members
                    .iter()
                    .map(|m| -m.level[t])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let hi = (0..t_len)
            .map(|t| {
                self.members
                    .iter()
                    .map(|m| 1.0 - m.level[t])
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        (lo, hi)
    }

    fn consistent(&self, t_len: usize) -> bool {
        let (lo, hi) = self.bounds(t_len);
        lo.iter().zip(&hi).all(|(l, h)| l <= h)
            && self.members.iter().all(|m| {
                m.rate
                    .iter()
                    .all(|r| r.abs() <= m.battery.max_power_kw * (1.0 + 1e-9))
            })
    }

    /// The LP unit of the class.
    fn unit(&self, t_len: usize) -> Unit {
        let a_c: f64 = self
            .members
            .iter()
            .map(|m| m.usable / m.battery.charge_efficiency)
            .sum();
        let a_d: f64 = self
            .members
            .iter()
            .map(|m| m.usable * m.battery.discharge_efficiency)
            .sum();
        let (emin, emax) = self.bounds(t_len);
        let rate_limit = |t: usize, charge: bool| {
            self.members
                .iter()
                .map(|m| {
                    let r = m.rate[t];
                    let used = if charge { r.max(0.0) } else { (-r).max(0.0) };
                    ((m.battery.max_power_kw - used) / m.usable).max(0.0)
                })
                .fold(f64::INFINITY, f64::min)
        };
        let offset = (0..t_len)
            .map(|t| {
                self.members
                    .iter()
                    .map(|m| grid(m.battery, m.rate[t]))
                    .sum()
            })
            .collect();
        let total: f64 = self.members.iter().map(|m| m.usable).sum();
        // S at the end that lands the members on their targets (exactly, when every reference
        // completed its gathering; otherwise the energy-weighted best).
        let target = self.terminal.then(|| {
            self.members
                .iter()
                .map(|m| {
                    let b = m.battery;
                    let goal = normalised(b, b.soc_final.unwrap_or(b.soc_initial));
                    (goal - m.level[t_len - 1]) * m.usable
                })
                .sum::<f64>()
                / total
        });
        Unit {
            attach: self.attach,
            alpha: 1.0 / a_c,
            beta: 1.0 / a_d,
            cmax: (0..t_len).map(|t| a_c * rate_limit(t, true)).collect(),
            dmax: (0..t_len).map(|t| a_d * rate_limit(t, false)).collect(),
            emin,
            emax,
            e0: 0.0,
            target,
            offset,
            target_weight: total,
        }
    }

    /// Every member's schedule from the class's grid-side charge and discharge (as planned for
    /// `unit`, the class's LP unit), with the member's position in the problem's batteries.
    fn disaggregate(
        &self,
        unit: &Unit,
        charge: &[f64],
        discharge: &[f64],
        dt: f64,
    ) -> Vec<(usize, Schedule)> {
        let x: Vec<f64> = charge.iter().map(|c| c * unit.alpha).collect();
        let y: Vec<f64> = discharge.iter().map(|d| d * unit.beta).collect();
        let mut out = Vec::with_capacity(self.members.len());
        for m in &self.members {
            let b = m.battery;
            let (mut c, mut d) = (Vec::with_capacity(x.len()), Vec::with_capacity(x.len()));
            let (max_c, max_d) = (b.max_charge_kw(), b.max_discharge_kw());
            let per_c = 1.0 / b.charge_efficiency;
            for t in 0..x.len() {
                let stored =
                    (m.usable * (x[t] - y[t]) + m.rate[t]).clamp(-b.max_power_kw, b.max_power_kw);
                c.push((stored.max(0.0) * per_c).min(max_c));
                d.push(((-stored).max(0.0) * b.discharge_efficiency).min(max_d));
            }
            out.push((m.index, repaired(b, c, d, dt)));
        }
        out
    }
}

/// Grid-side power of a stored rate (positive: charging).
fn grid(b: &Battery, stored: f64) -> f64 {
    if stored >= 0.0 {
        stored / b.charge_efficiency
    } else {
        stored * b.discharge_efficiency
    }
}

/// Which class: feeder and key (`None` for a battery split off alone).
type ClassId = Option<(Option<usize>, (bool, usize, usize, usize))>;

/// Groups the batteries of `p` into classes per feeder, timing each class's reference by its
/// `activity` from a first solve when given.
fn classes<'a>(
    p: &'a DispatchProblem,
    activity: &BTreeMap<ClassId, Vec<f64>>,
    budget: usize,
    min_classes: usize,
) -> Vec<(ClassId, Class<'a>)> {
    let t_len = p.horizon_steps;
    let dt = p.dt_hours();
    let groups: Vec<_> = feeder_groups(p).into_iter().collect();
    let per_group = budget / groups.len().max(1);
    let per_feeder = map_shared(&groups, SHARED_FROM, |(feeder, batteries)| {
        feeder_classes(
            *feeder,
            batteries,
            activity,
            per_group,
            min_classes,
            t_len,
            dt,
        )
    });
    per_feeder.into_iter().flatten().collect()
}

/// Feeders (when making their classes) or classes (when making their LP units and splitting
/// their plans) from this many up are shared among the cores.
const SHARED_FROM: usize = 64;

/// The classes of one feeder's batteries (see [`classes`]).
fn feeder_classes<'a>(
    feeder: Option<usize>,
    batteries: &[Indexed<'a>],
    activity: &BTreeMap<ClassId, Vec<f64>>,
    per_group: usize,
    min_classes: usize,
    t_len: usize,
    dt: f64,
) -> Vec<(ClassId, Class<'a>)> {
    let mut out = Vec::new();
    let (eff_classes, soc_classes) = group_resolution(batteries, per_group, min_classes);
    let attach = feeder.map_or(Attach::Root, Attach::Feeder);
    let mut effs: Vec<f64> = batteries
        .iter()
        .map(|(_, b)| b.charge_efficiency * b.discharge_efficiency)
        .collect();
    effs.sort_by(f64::total_cmp);
    let cuts: Vec<f64> = (1..eff_classes)
        .map(|k| effs[k * effs.len() / eff_classes])
        .collect();
    let bucket = |phi: f64, n: usize| ((phi * n as f64) as usize).min(n - 1);
    let mut keyed: BTreeMap<(bool, usize, usize, usize), Vec<Indexed>> = BTreeMap::new();
    for &(index, b) in batteries {
        let eff = b.charge_efficiency * b.discharge_efficiency;
        let key = (
            b.soc_final.is_some(),
            cuts.iter().filter(|c| eff >= **c).count(),
            bucket(normalised(b, b.soc_initial), soc_classes),
            b.soc_final
                .map_or(0, |f| bucket(normalised(b, f), soc_classes)),
        );
        keyed.entry(key).or_default().push((index, b));
    }
    for (key, members) in keyed {
        let id = Some((feeder, key));
        // This class's own moves, else those of the coarse class it falls in.
        let timing = activity
            .get(&id)
            .or_else(|| activity.get(&Some((feeder, (key.0, 0, 0, 0)))))
            .map(Vec::as_slice);
        let class = Class::new(attach, &members, key.0, t_len, dt, timing);
        if class.consistent(t_len) {
            out.push((id, class));
        } else {
            // Repair: batteries whose references cannot share one S go alone (exact).
            for b in members {
                out.push((None, Class::new(attach, &[b], key.0, t_len, dt, None)));
            }
        }
    }
    out
}

/// Whether the budget gives some feeder a finer class resolution than the coarse pass's.
fn finer_than_coarse(p: &DispatchProblem, budget: usize, min_classes: usize) -> bool {
    let groups = feeder_groups(p);
    let per_group = budget / groups.len().max(1);
    groups
        .values()
        .any(|batteries| group_resolution(batteries, per_group, min_classes) != (1, 1))
}

/// A battery with its position in [`DispatchProblem::batteries`] (where its schedule goes).
type Indexed<'a> = (usize, &'a Battery);

/// Per feeder (`None`: on the root), its batteries.
fn feeder_groups(p: &DispatchProblem) -> BTreeMap<Option<usize>, Vec<Indexed<'_>>> {
    let feeders = p.site_feeders();
    let mut groups: BTreeMap<Option<usize>, Vec<Indexed>> = BTreeMap::new();
    for (index, (s, b)) in p.batteries().enumerate() {
        groups.entry(feeders[s]).or_default().push((index, b));
    }
    groups
}

/// A feeder's class resolution: finer where it has many batteries (about five per class),
/// within its share of the budget; at least the 3 × 3 resolution where the budget allows.
fn group_resolution(batteries: &[Indexed], per_group: usize, min_classes: usize) -> (usize, usize) {
    resolution(
        per_group.min(min_classes.max(batteries.len() / BATTERIES_PER_CLASS)),
        batteries.iter().any(|(_, b)| b.soc_final.is_some()),
        batteries.iter().any(|(_, b)| b.soc_final.is_none()),
    )
}

/// Plans `p` hierarchically.
pub fn solve(p: &DispatchProblem, solver: &dyn LpSolver) -> Result<Plan, PlanError> {
    solve_with_budget(p, solver, UNIT_BUDGET)
}

/// Plans `p` hierarchically with at most about `budget` virtual batteries.
pub fn solve_with_budget(
    p: &DispatchProblem,
    solver: &dyn LpSolver,
    budget: usize,
) -> Result<Plan, PlanError> {
    solve_with(p, solver, budget, CLASSES_AT_LEAST)
}

/// Plans `p` hierarchically with at most about `budget` virtual batteries, each feeder allowed
/// `min_classes` classes whatever its size (the tests reach every resolution with it).
pub fn solve_with(
    p: &DispatchProblem,
    solver: &dyn LpSolver,
    budget: usize,
    min_classes: usize,
) -> Result<Plan, PlanError> {
    p.validate()?;
    let t_len = p.horizon_steps;
    let dt = p.dt_hours();
    let net = network_of(p);
    let batteries = p.batteries().count();
    let pass = |activity: &BTreeMap<ClassId, Vec<f64>>, budget: usize| -> Result<_, PlanError> {
        let classes = classes(p, activity, budget, min_classes);
        let units: Vec<Unit> = map_shared(&classes, SHARED_FROM, |(_, c)| c.unit(t_len));
        let plan = lp::solve(&net, &units, solver)?;
        let k: Vec<usize> = (0..classes.len()).collect();
        let split = map_shared(&k, SHARED_FROM, |&k| {
            classes[k]
                .1
                .disaggregate(&units[k], &plan.charge[k], &plan.discharge[k], dt)
        });
        // In the problem's order (every battery is in one class).
        let mut schedules: Vec<Option<Schedule>> = (0..batteries).map(|_| None).collect();
        for (index, schedule) in split.into_iter().flatten() {
            schedules[index] = Some(schedule);
        }
        let mut moves = BTreeMap::new();
        for (k, (id, _)) in classes.iter().enumerate() {
            let u = &units[k];
            if id.is_some() {
                let m = plan.charge[k]
                    .iter()
                    .zip(&plan.discharge[k])
                    .map(|(c, d)| (u.alpha * c - u.beta * d) * dt)
                    .collect();
                moves.insert(*id, m);
            }
        }
        let plan = finish(
            p,
            schedules,
            PlanMode::Hierarchical,
            plan.solver,
            plan.marginal_price,
        )?;
        Ok((plan, moves))
    };
    // First pass, coarse (terminal or free per feeder): references gather and spread the
    // members on their own. Second pass, at the budget's resolution: they ride on the coarse
    // class's moves of the first, which moves (almost) no energy between members.
    let (first, moves) = pass(&BTreeMap::new(), 1)?;
    if moves.is_empty() {
        return Ok(first);
    }
    // A second pass at the coarse resolution (many feeders for the budget) only re-times the
    // references, which loses more than it gains (100,000 batteries on 500 feeders: 653,235 €
    // against the first pass's 134,358 €): it runs only where some feeder gets finer classes.
    if !finer_than_coarse(p, budget, min_classes) {
        return Ok(first);
    }
    let (second, _) = pass(&moves, budget)?;
    Ok(if second.objective_eur <= first.objective_eur {
        second
    } else {
        first
    })
}

#[cfg(test)]
mod tests {
    use super::super::generate;
    use super::super::lp::Clarabel;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// The structured interior point finds the optimum Clarabel finds through good_lp on
        /// the virtual batteries' LPs of random fleets (with and without feeders, every
        /// resolution), and its plan keeps every unit within its bounds.
        #[test]
        fn the_structured_solver_agrees_with_clarabel(
            n in 2_usize..40,
            seed in any::<u64>(),
            per_feeder in prop::sample::select(vec![0_usize, 4, 12, 1000]),
            (budget, min_classes) in prop::sample::select(vec![
                (1_usize, 36_usize), (12, 36), (600, 150),
            ]),
        ) {
            let p = generate::fleet_with(n, seed, per_feeder);
            let t_len = p.horizon_steps;
            let net = network_of(&p);
            let classes = classes(&p, &BTreeMap::new(), budget, min_classes);
            let units: Vec<Unit> = classes.iter().map(|(_, c)| c.unit(t_len)).collect();
            let reference = lp::solve(&net, &units, &Clarabel).unwrap();
            let scale = 1.0 + reference.objective.abs();
            let ours = match super::super::ipm::solve(&net, &units) {
                Ok(ours) => ours,
                // FIXME: a few fleets do not converge (see the pinned case below); the
                // `Structured` solver then hands the LP to Clarabel, which must give the
                // optimum.
                Err(super::super::ipm::IpmError::NoConvergence { .. }) => {
                    let via = lp::solve(&net, &units, &lp::Structured).unwrap();
                    prop_assert!((via.objective - reference.objective).abs() <= 1e-6 * scale);
                    return Ok(());
                }
                Err(e) => panic!("structured solver failed: {e}"),
            };
            prop_assert!(
                (ours.objective - reference.objective).abs() <= 1e-6 * scale,
                "structured {} vs clarabel {}", ours.objective, reference.objective
            );
            for (k, u) in units.iter().enumerate() {
                for t in 0..t_len {
                    let tol = 1e-7 * (1.0 + u.emax[t].abs());
                    prop_assert!(ours.charge[k][t] >= -1e-9 && ours.charge[k][t] <= u.cmax[t].max(0.0) + 1e-9);
                    prop_assert!(ours.discharge[k][t] >= -1e-9 && ours.discharge[k][t] <= u.dmax[t].max(0.0) + 1e-9);
                    prop_assert!(ours.energy[k][t] >= u.emin[t] - tol && ours.energy[k][t] <= u.emax[t].max(u.emin[t]) + tol);
                }
            }
        }

        /// FIXME: pins today's behaviour on a fleet the property test above found: the
        /// structured interior point stops without converging, and the `Structured` solver
        /// falls back to Clarabel, so the plan is still the optimum. Fix the iteration, then
        /// turn this into an agreement test.
        #[test]
        fn fixme_the_structured_solver_does_not_converge_on_one_fleet(_x in 0..1_u8) {
            let p = generate::fleet_with(14, 16_444_723_479_905_245_058, 12);
            let net = network_of(&p);
            let classes = classes(&p, &BTreeMap::new(), 1, 36);
            let units: Vec<Unit> =
                classes.iter().map(|(_, c)| c.unit(p.horizon_steps)).collect();
            let e = super::super::ipm::solve(&net, &units);
            prop_assert!(
                matches!(e, Err(super::super::ipm::IpmError::NoConvergence { .. })),
                "it converges now: turn this into an agreement test"
            );
            let via = lp::solve(&net, &units, &lp::Structured).unwrap();
            let reference = lp::solve(&net, &units, &Clarabel).unwrap();
            prop_assert!(
                (via.objective - reference.objective).abs()
                    <= 1e-6 * (1.0 + reference.objective.abs())
            );
        }

        /// The members' schedules add up to their virtual battery's plan: per class and
        /// interval, the members' stored energy (recomputed from their grid-side powers) sums
        /// to the class's planned energy, and their grid flow never exceeds the class's
        /// (netting a member's charge against its discharge only saves losses).
        #[test]
        fn member_schedules_sum_to_the_aggregate_plan(
            n in 2_usize..30,
            seed in any::<u64>(),
            (budget, min_classes) in prop::sample::select(vec![
                (1_usize, 36_usize), (12, 36), (600, 36), (600, 150),
            ]),
        ) {
            let p = generate::fleet(n, seed);
            let t_len = p.horizon_steps;
            let dt = p.dt_hours();
            let classes = classes(&p, &BTreeMap::new(), budget, min_classes);
            let units: Vec<Unit> = classes.iter().map(|(_, c)| c.unit(t_len)).collect();
            let plan = lp::solve(&network_of(&p), &units, &Clarabel).unwrap();
            for (k, (_, class)) in classes.iter().enumerate() {
                let schedules: BTreeMap<usize, Schedule> = class
                    .disaggregate(&units[k], &plan.charge[k], &plan.discharge[k], dt)
                    .into_iter()
                    .collect();
                let total: f64 = class.members.iter().map(|m| m.usable).sum();
                for t in 0..t_len {
                    // Planned: soc_min energy + usable · (reference level + S).
                    let planned: f64 = class
                        .members
                        .iter()
                        .map(|m| {
                            let (emin, _) = m.battery.energy_bounds();
                            emin + m.usable * (m.level[t] + plan.energy[k][t])
                        })
                        .sum();
                    let actual: f64 = class
                        .members
                        .iter()
                        .map(|m| schedules[&m.index].soc[t] * m.battery.capacity_kwh)
                        .sum();
                    prop_assert!(
                        (planned - actual).abs() <= 1e-5 * total.max(1.0),
                        "class {k} step {t}: planned {planned} kWh, members {actual} kWh"
                    );
                    let members_flow: f64 = class
                        .members
                        .iter()
                        .map(|m| {
                            let s = &schedules[&m.index];
                            s.charge_kw[t] - s.discharge_kw[t]
                        })
                        .sum();
                    let class_flow =
                        plan.charge[k][t] - plan.discharge[k][t] + units[k].offset[t];
                    prop_assert!(members_flow <= class_flow + 1e-6 * total.max(1.0));
                }
            }
        }
    }
}
