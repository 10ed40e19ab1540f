//! The linear program, built through good_lp, with the solver behind [`LpSolver`].
//!
//! The LP is written over generic storage *units* on a network of sites, feeders and the root,
//! so that one formulation serves both modes: in monolithic mode a unit is a battery at its
//! site; in hierarchical mode it is a virtual battery at its feeder (see `hierarchy`). The
//! units, the network and the answer are the types of [`super::network`].
//!
//! Per unit and interval `t`: grid-side charge `c_t ∈ [0, cmax_t]` and discharge
//! `d_t ∈ [0, dmax_t]`; stored energy `e_t = e_{t−1} + (α c_t − β d_t) Δt` within
//! `[emin_t, emax_t]`, from `e_0`; a terminal target `e_{T−1} = target` with priced shortfall
//! and excess. A unit may carry a fixed grid flow `offset_t` (a virtual battery's internal
//! rebalancing). Flows: a site's `net_load + Σ(c − d + offset)`; a feeder's, the sum of its
//! sites' and units'; the root's, `imp_t − exp_t`, the sum of all. Every limit is soft with a
//! priced slack; the peak `P ≥ imp_t`. Objective:
//! `Σ_t Δt (p_imp imp − p_exp exp) + peak · P + site peak · Σ_s P_s + wear Σ Δt (c + d)
//! + slack price · Σ Δt slack`, with `P_s ≥` site `s`'s flow when a site peak charge is set.

use good_lp::{
    Constraint, Expression, ProblemVariables, Solution, SolutionWithDual, SolverModel, Variable,
    constraint, variable,
};

use super::network::{Attach, LpPlan, LpSlack, LpSlackKind, Network, Unit};

/// Why an LP could not be solved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolveError {
    /// The solver gave up.
    #[error("the {solver} solver failed: {message}")]
    Solver {
        /// Which solver.
        solver: &'static str,
        /// What it said.
        message: String,
    },
}

/// A built LP: variables, objective, constraints.
pub struct Lp {
    /// Variables.
    pub vars: ProblemVariables,
    /// To minimise.
    pub objective: Expression,
    /// Constraints, in order (duals come back in this order).
    pub constraints: Vec<Constraint>,
    /// The variables whose values are wanted, in this order.
    pub wanted: Vec<Variable>,
}

impl std::fmt::Debug for Lp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lp")
            .field("variables", &self.vars.len())
            .field("constraints", &self.constraints.len())
            .finish_non_exhaustive()
    }
}

/// The values of the wanted variables and, where the solver gives them, the duals.
#[derive(Debug, Clone, PartialEq)]
pub struct LpSolution {
    /// Values, in the order of [`Lp::wanted`].
    pub values: Vec<f64>,
    /// Duals (shadow prices), in constraint order.
    pub duals: Option<Vec<f64>>,
}

/// An LP solver.
pub trait LpSolver: Send + Sync {
    /// Name for reports.
    fn name(&self) -> &'static str;
    /// Minimises the LP.
    fn solve(&self, lp: Lp) -> Result<LpSolution, SolveError>;
    /// Solves the network LP of [`solve`] directly, for a solver with a method for its
    /// structure; `None` (the default) hands it to [`LpSolver::solve`] as a good_lp model.
    fn network(&self, _net: &Network, _units: &[Unit]) -> Option<LpPlan> {
        None
    }
}

/// The structured interior point of [`super::ipm`] for networks whose units all sit on
/// feeders or the root (the hierarchical mode's), Clarabel through good_lp for the rest and
/// should it not converge.
#[derive(Debug, Clone, Copy, Default)]
pub struct Structured;

impl LpSolver for Structured {
    /// Clarabel's: the plans of the structured method say `structured-ipm` themselves.
    fn name(&self) -> &'static str {
        "clarabel"
    }

    fn solve(&self, lp: Lp) -> Result<LpSolution, SolveError> {
        Clarabel.solve(lp)
    }

    fn network(&self, net: &Network, units: &[Unit]) -> Option<LpPlan> {
        super::ipm::solve(net, units).ok()
    }
}

/// Clarabel: pure-Rust interior point, with duals.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clarabel;

impl LpSolver for Clarabel {
    fn name(&self) -> &'static str {
        "clarabel"
    }

    fn solve(&self, lp: Lp) -> Result<LpSolution, SolveError> {
        let fail = |e: good_lp::ResolutionError| SolveError::Solver {
            solver: "clarabel",
            message: e.to_string(),
        };
        let mut model = lp.vars.minimise(lp.objective).using(good_lp::clarabel);
        // Iterative refinement of each KKT solve down to 1e-8 (Clarabel's default, 1e-13,
        // took a third of the time on fleet LPs for the same plan to the cent).
        model
            .settings()
            .iterative_refinement_reltol(1e-8)
            .iterative_refinement_abstol(1e-8);
        let refs: Vec<_> = lp
            .constraints
            .into_iter()
            .map(|c| model.add_constraint(c))
            .collect();
        let mut solution = model.solve().map_err(fail)?;
        let values = lp.wanted.iter().map(|v| solution.value(*v)).collect();
        let duals = {
            let d = solution.compute_dual();
            refs.into_iter()
                .map(|r| good_lp::solvers::DualValues::dual(&d, r))
                .collect()
        };
        Ok(LpSolution {
            values,
            duals: Some(duals),
        })
    }
}

/// A soft upper bound `expr ≤ limit + s`, `s ≥ 0` priced.
struct Soft {
    what: LpSlackKind,
    step: usize,
}

/// Variables, objective and the soft limits, as the LP is built.
struct Builder {
    vars: ProblemVariables,
    objective: Expression,
    wanted: Vec<Variable>,
    softs: Vec<Soft>,
}

impl Builder {
    /// A slack `s ≥ 0` costing `weight` per unit, reported as `what` at `step`.
    fn soft(&mut self, what: LpSlackKind, step: usize, weight: f64) -> Variable {
        let s = self.vars.add(variable().min(0.0));
        self.objective += s * weight;
        self.wanted.push(s);
        self.softs.push(Soft { what, step });
        s
    }
}

/// Builds and solves the LP of `units` on `net`.
pub fn solve(net: &Network, units: &[Unit], solver: &dyn LpSolver) -> Result<LpPlan, SolveError> {
    if let Some(plan) = solver.network(net, units) {
        return Ok(plan);
    }
    let t_len = net.steps;
    let dt = net.dt;
    let mut b = Builder {
        vars: ProblemVariables::new(),
        objective: Expression::default(),
        wanted: Vec::new(),
        softs: Vec::new(),
    };
    let mut constraints = Vec::new();
    let slack_cost = net.slack_price * dt;

    // Per-interval flow expressions.
    let mut site_flow: Vec<Vec<Expression>> = net
        .sites
        .iter()
        .map(|s| s.net_load.iter().map(|x| Expression::from(*x)).collect())
        .collect();
    let mut feeder_flow: Vec<Vec<Expression>> =
        vec![vec![Expression::default(); t_len]; net.feeders.len()];
    let mut root_flow: Vec<Expression> = vec![Expression::default(); t_len];

    let mut unit_vars = Vec::with_capacity(units.len());
    for (u, unit) in units.iter().enumerate() {
        let mut cs = Vec::with_capacity(t_len);
        let mut ds = Vec::with_capacity(t_len);
        let mut es = Vec::with_capacity(t_len);
        for t in 0..t_len {
            let c = b.vars.add(variable().min(0.0).max(unit.cmax[t].max(0.0)));
            let d = b.vars.add(variable().min(0.0).max(unit.dmax[t].max(0.0)));
            let e = b.vars.add(
                variable()
                    .min(unit.emin[t])
                    .max(unit.emax[t].max(unit.emin[t])),
            );
            if net.wear > 0.0 {
                b.objective += (c + d) * (net.wear * dt);
            }
            let prev: Expression = if t == 0 {
                Expression::from(unit.e0)
            } else {
                Expression::from(es[t - 1])
            };
            constraints.push(constraint!(
                e == prev + c * (unit.alpha * dt) - d * (unit.beta * dt)
            ));
            let flow = Expression::from(c) - d + unit.offset[t];
            match unit.attach {
                Attach::Site(s) => site_flow[s][t] += flow,
                Attach::Feeder(f) => feeder_flow[f][t] += flow,
                Attach::Root => root_flow[t] += flow,
            }
            cs.push(c);
            ds.push(d);
            es.push(e);
        }
        if let Some(target) = unit.target {
            let w = net.terminal_price * unit.target_weight;
            let short = b.soft(LpSlackKind::TerminalShort(u), t_len - 1, w);
            let excess = b.soft(LpSlackKind::TerminalExcess(u), t_len - 1, w);
            constraints.push(constraint!(es[t_len - 1] + short - excess == target));
        }
        unit_vars.push((cs, ds, es));
    }

    // Sites: limits, then into their feeder or the root.
    let mut site_peaks = Vec::new();
    for (s, site) in net.sites.iter().enumerate() {
        // The site peak charge: on the horizon's peak, or split between the billing period's
        // (above the peak so far) and the horizon's.
        let tiers: Vec<(f64, f64)> = match site.peak_so_far {
            _ if net.site_peak_charge <= 0.0 => vec![],
            None => vec![(0.0, net.site_peak_charge)],
            Some(floor) => {
                let share = net.site_peak_period_share.clamp(0.0, 1.0);
                vec![
                    (floor.max(0.0), net.site_peak_charge * share),
                    (0.0, net.site_peak_charge * (1.0 - share)),
                ]
            }
        };
        let peaks: Vec<Variable> = tiers
            .iter()
            .filter(|(_, cost)| *cost > 0.0)
            .map(|&(floor, cost)| {
                let p = b.vars.add(variable().min(floor));
                b.objective += p * cost;
                site_peaks.push(p);
                p
            })
            .collect();
        for t in 0..t_len {
            let flow = std::mem::take(&mut site_flow[s][t]);
            for peak in &peaks {
                constraints.push(constraint!(*peak >= flow.clone()));
            }
            if let Some(lim) = site.import_limit {
                let sl = b.soft(LpSlackKind::SiteImport(s), t, slack_cost);
                constraints.push(constraint!(flow.clone() - sl <= lim));
            }
            if let Some(lim) = site.export_limit {
                let sl = b.soft(LpSlackKind::SiteExport(s), t, slack_cost);
                constraints.push(constraint!(flow.clone() + sl >= -lim));
            }
            match site.feeder {
                Some(f) => feeder_flow[f][t] += flow,
                None => root_flow[t] += flow,
            }
        }
    }
    for (f, (imp, exp)) in net.feeders.iter().enumerate() {
        for t in 0..t_len {
            let flow = std::mem::take(&mut feeder_flow[f][t]);
            if let Some(lim) = imp {
                let sl = b.soft(LpSlackKind::FeederImport(f), t, slack_cost);
                constraints.push(constraint!(flow.clone() - sl <= *lim));
            }
            if let Some(lim) = exp {
                let sl = b.soft(LpSlackKind::FeederExport(f), t, slack_cost);
                constraints.push(constraint!(flow.clone() + sl >= -*lim));
            }
            root_flow[t] += flow;
        }
    }
    // Root balance, limits and peak.
    let peak = b.vars.add(variable().min(0.0));
    b.objective += peak * net.peak_charge;
    let mut imports = Vec::with_capacity(t_len);
    let mut exports = Vec::with_capacity(t_len);
    let mut balance_rows = Vec::with_capacity(t_len);
    for (t, flow) in root_flow.into_iter().enumerate() {
        let imp = b.vars.add(variable().min(0.0));
        let exp = b.vars.add(variable().min(0.0));
        b.objective += imp * (net.import_price[t] * dt) - exp * (net.export_price[t] * dt);
        balance_rows.push(constraints.len());
        constraints.push(constraint!(imp - exp - flow == 0.0));
        constraints.push(constraint!(peak >= imp));
        if let Some(lim) = net.root_limits.0 {
            let sl = b.soft(LpSlackKind::RootImport, t, slack_cost);
            constraints.push(constraint!(imp - sl <= lim));
        }
        if let Some(lim) = net.root_limits.1 {
            let sl = b.soft(LpSlackKind::RootExport, t, slack_cost);
            constraints.push(constraint!(exp - sl <= lim));
        }
        imports.push(imp);
        exports.push(exp);
    }

    let Builder {
        vars,
        objective,
        mut wanted,
        softs,
    } = b;
    let n_soft = wanted.len();
    for (cs, ds, es) in &unit_vars {
        wanted.extend(cs);
        wanted.extend(ds);
        wanted.extend(es);
    }
    wanted.extend(&imports);
    wanted.extend(&exports);
    wanted.push(peak);
    wanted.extend(&site_peaks);

    let objective_expr = objective.clone();
    let solution = solver.solve(Lp {
        vars,
        objective,
        constraints,
        wanted: wanted.clone(),
    })?;
    let v = &solution.values;
    let mut at = n_soft;
    let mut take = |n: usize| {
        let out = v[at..at + n].to_vec();
        at += n;
        out
    };
    let mut plan = LpPlan {
        charge: Vec::with_capacity(units.len()),
        discharge: Vec::with_capacity(units.len()),
        energy: Vec::with_capacity(units.len()),
        import: Vec::new(),
        export: Vec::new(),
        objective: 0.0,
        marginal_price: None,
        slacks: Vec::new(),
        solver: solver.name(),
    };
    for _ in units {
        plan.charge.push(take(t_len));
        plan.discharge.push(take(t_len));
        plan.energy.push(take(t_len));
    }
    plan.import = take(t_len);
    plan.export = take(t_len);
    let lookup: std::collections::HashMap<Variable, f64> =
        wanted.iter().copied().zip(v.iter().copied()).collect();
    plan.objective = objective_expr.eval_with(&lookup);
    plan.slacks = softs
        .iter()
        .zip(v)
        .filter(|(_, x)| **x > 1e-6)
        .map(|(s, x)| LpSlack {
            what: s.what,
            step: s.step,
            amount: *x,
        })
        .collect();
    plan.marginal_price = solution.duals.map(|d| {
        balance_rows
            .iter()
            .map(|&r| (d[r] / dt * 1e6).round() / 1e6)
            .collect()
    });
    Ok(plan)
}
