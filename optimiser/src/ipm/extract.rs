//! The LP's answer from the iteration's optimum ([`plan`]): each unit's charge, discharge and
//! stored energy (back in its own energy units), the root's import and export, the objective
//! with the sites' constant part, the slacks used and the marginal value of energy at the root
//! (the dual of its balance).

use super::iterate::Solution;
use super::model::Model;
use crate::network::{LpPlan, LpSlack, LpSlackKind};

/// The plan of the optimum `s` of `m` (intervals of `dt` hours), with the sites' `constant`
/// objective and `site_slacks` (see `Model::build`).
pub(super) fn plan(
    m: &Model,
    dt: f64,
    s: &Solution,
    constant: f64,
    site_slacks: Vec<LpSlack>,
) -> LpPlan {
    let Solution { x, y, cscale } = s;
    let cscale = *cscale;
    let t_len = m.t;
    let mut plan = LpPlan {
        charge: Vec::with_capacity(m.units.len()),
        discharge: Vec::with_capacity(m.units.len()),
        energy: Vec::with_capacity(m.units.len()),
        import: Vec::with_capacity(t_len),
        export: Vec::with_capacity(t_len),
        objective: constant + m.c.iter().zip(x).map(|(a, b)| a * b).sum::<f64>(),
        marginal_price: Some(
            (0..t_len)
                .map(|t| (-y[m.root_row + t] * cscale / dt * 1e6).round() / 1e6)
                .collect(),
        ),
        slacks: site_slacks,
        solver: "structured-ipm",
    };
    let mut slack = |what: LpSlackKind, step: usize, amount: f64| {
        if amount > 1e-6 {
            plan.slacks.push(LpSlack { what, step, amount });
        }
    };
    for (k, u) in m.units.iter().enumerate() {
        if u.target {
            slack(
                LpSlackKind::TerminalShort(k),
                t_len - 1,
                x[u.var + 3 * t_len] * u.escale,
            );
            slack(
                LpSlackKind::TerminalExcess(k),
                t_len - 1,
                x[u.var + 3 * t_len + 1] * u.escale,
            );
        }
    }
    for (f, &(v, _)) in m.feeders.iter().enumerate() {
        for t in 0..t_len {
            slack(LpSlackKind::FeederImport(f), t, x[v + t_len + t]);
            slack(LpSlackKind::FeederExport(f), t, x[v + 2 * t_len + t]);
        }
    }
    let v = m.root_var;
    for t in 0..t_len {
        slack(LpSlackKind::RootImport, t, x[v + t_len + t]);
        slack(LpSlackKind::RootExport, t, x[v + 3 * t_len + t]);
    }
    for u in &m.units {
        plan.charge.push(x[u.var..u.var + t_len].to_vec());
        plan.discharge
            .push(x[u.var + t_len..u.var + 2 * t_len].to_vec());
        plan.energy.push(
            x[u.var + 2 * t_len..u.var + 3 * t_len]
                .iter()
                .map(|e| e * u.escale)
                .collect(),
        );
    }
    for t in 0..t_len {
        plan.import.push(x[v + t] + x[v + t_len + t]);
        plan.export
            .push(x[v + 2 * t_len + t] + x[v + 3 * t_len + t]);
    }
    plan
}
