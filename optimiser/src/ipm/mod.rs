//! A structured interior-point solver for the network LP of [`super::lp`] when every unit sits
//! on a feeder or on the root (the hierarchical mode's virtual batteries).
//!
//! It solves exactly the LP that `lp::solve` writes through good_lp (same variables, limits,
//! prices and soft slacks; a site without units only adds constants), with Mehrotra's
//! predictor-corrector method. What makes it fast is the linear algebra: each Newton step
//! solves the normal equations `A Θ Aᵀ Δy = r` by nested elimination along the network,
//! - a unit's rows (its energy balance in time and its terminal target) form a tridiagonal
//!   block, eliminated in `O(T²)` into its feeder (or the root);
//! - a feeder's rows then form a dense `T × T` block, eliminated by Cholesky into the root
//!   (the feeders shared among the machine's cores) — or, for a feeder with few units, the
//!   units and the feeder together as a block-tridiagonal system by interval;
//! - the peak rows (`diag + θ_P 11ᵀ`) go into the root's balance rows by Sherman–Morrison,
//!   leaving one dense `T × T` system,
//!
//! where a general sparse factorisation of the same KKT system pays for the fill it cannot
//! foresee. Held to Clarabel's optimum through good_lp on random networks (unit tests here, a
//! property test in `hierarchy`). Every variable is boxed (physical bounds where the LP has
//! none), so the iterates stay bounded and the dual is always feasible.
//!
//! This module holds the entry, [`solve`]; the work is in
//! - `model`: the LP in the solver's form, built from the network, and the products with `A`
//!   and `Aᵀ`;
//! - `factor`: the normal equations' factorisation and solves;
//! - `kernels`: the per-variable passes of each iteration;
//! - `iterate`: the predictor-corrector iteration;
//! - `extract`: the plan from the optimum.

mod extract;
mod factor;
mod iterate;
mod kernels;
mod model;

use crate::network::{Attach, LpPlan, Network, Unit};
use model::Model;

/// Why the structured solver did not give a plan (the caller then solves the generic LP).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IpmError {
    /// A unit sits behind a site: the structure this solver relies on is not there.
    #[error("a unit behind a site (the structured solver takes units on feeders and the root)")]
    Unsupported,
    /// The iterations did not converge.
    #[error(
        "no convergence in {iterations} iterations (primal {primal:.1e}, dual {dual:.1e}, gap {gap:.1e})"
    )]
    NoConvergence {
        /// Iterations made.
        iterations: usize,
        /// Relative primal residual.
        primal: f64,
        /// Relative dual residual.
        dual: f64,
        /// Relative complementarity gap.
        gap: f64,
    },
}

/// Solves the LP of `units` on `net` (see [`super::lp::solve`] for the formulation).
pub fn solve(net: &Network, units: &[Unit]) -> Result<LpPlan, IpmError> {
    solve_sharing(net, units, kernels::PARALLEL_VARS_FROM)
}

/// [`solve`], the per-variable passes shared among the cores from `shared_from` variables.
fn solve_sharing(net: &Network, units: &[Unit], shared_from: usize) -> Result<LpPlan, IpmError> {
    // Before building anything: monolithic mode's units all sit behind sites.
    if units.iter().any(|u| matches!(u.attach, Attach::Site(_))) {
        return Err(IpmError::Unsupported);
    }
    let (m, constant, site_slacks) = Model::build(net, units)?;
    let optimum = iterate::run(&m, shared_from)?;
    Ok(extract::plan(&m, net.dt, &optimum, constant, site_slacks))
}

/// `v` cut at `bounds` (ascending, last = its length), mutably: the threads' shares of a
/// vector (runs of units' rows or variables in `model`, of variables in `kernels`).
fn cut_mut<'a, T>(v: &'a mut [T], bounds: &[usize]) -> std::vec::IntoIter<&'a mut [T]> {
    let mut out = Vec::with_capacity(bounds.len());
    let mut rest = v;
    let mut at = 0;
    for &b in bounds {
        let (head, tail) = rest.split_at_mut(b - at);
        out.push(head);
        rest = tail;
        at = b;
    }
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lp;
    use crate::network::NetSite;

    /// A small network: two feeders (one with both limits, one with an import limit), units
    /// on them and on the root (the last four, on the root, of one size: the normal equations'
    /// solves take them side by side), root limits and a peak charge.
    pub(super) fn small() -> (Network, Vec<Unit>) {
        let t_len = 6;
        let unit = |attach, target: Option<f64>, k: f64| Unit {
            attach,
            alpha: 0.95,
            beta: 1.0 / 0.9,
            cmax: vec![2.0 * k; t_len],
            dmax: vec![1.5 * k; t_len],
            emin: vec![0.5 * k; t_len],
            emax: vec![4.0 * k; t_len],
            e0: 2.0 * k,
            target,
            offset: (0..t_len).map(|t| 0.1 * t as f64 - 0.2).collect(),
            target_weight: 1.0,
        };
        let units = vec![
            unit(Attach::Feeder(0), Some(2.5), 1.0),
            unit(Attach::Feeder(0), None, 2.0),
            unit(Attach::Feeder(1), Some(1.0), 0.5),
            unit(Attach::Root, None, 1.0),
            unit(Attach::Root, Some(1.2), 0.6),
            unit(Attach::Root, Some(0.8), 0.4),
            unit(Attach::Root, Some(2.0), 0.9),
            unit(Attach::Root, Some(1.1), 0.7),
        ];
        let site = |feeder, base: f64| NetSite {
            feeder,
            net_load: (0..t_len)
                .map(|t| base + (t as f64 * 1.3).sin() * 2.0)
                .collect(),
            import_limit: None,
            export_limit: None,
            peak_so_far: None,
        };
        let net = Network {
            steps: t_len,
            dt: 0.5,
            import_price: (0..t_len).map(|t| 0.2 + 0.05 * (t % 3) as f64).collect(),
            export_price: vec![0.05; t_len],
            peak_charge: 0.8,
            // Sites carry no unit: their peak charges are constants (one with a peak so far).
            site_peak_charge: 0.7,
            site_peak_period_share: 0.5,
            wear: 0.01,
            slack_price: 5.0,
            terminal_price: 0.6,
            root_limits: (Some(9.0), None),
            feeders: vec![(Some(2.0), Some(1.0)), (Some(1.5), None)],
            sites: vec![
                site(Some(0), 2.0),
                NetSite {
                    peak_so_far: Some(6.0),
                    ..site(Some(1), 1.0)
                },
                site(None, 0.5),
            ],
        };
        (net, units)
    }

    /// The same optimum as the LP through good_lp and Clarabel, with the same marginal
    /// value of energy and within every bound.
    #[test]
    fn it_finds_the_optimum_of_the_good_lp_model() {
        let (net, units) = small();
        let ours = solve(&net, &units).unwrap();
        let reference = lp::solve(&net, &units, &lp::Clarabel).unwrap();
        assert!(
            (ours.objective - reference.objective).abs() < 1e-6 * (1.0 + reference.objective.abs()),
            "{} vs {}",
            ours.objective,
            reference.objective
        );
        let (a, b) = (
            ours.marginal_price.unwrap(),
            reference.marginal_price.unwrap(),
        );
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-4, "marginal prices {a:?} vs {b:?}");
        }
        // With the per-variable passes shared among threads: the same plan but for rounding
        // (partial sums add up in another order).
        let shared = solve_sharing(&net, &units, 1).unwrap();
        assert!((shared.objective - ours.objective).abs() < 1e-9 * (1.0 + ours.objective.abs()));
        for (k, u) in units.iter().enumerate() {
            for t in 0..net.steps {
                assert!((shared.charge[k][t] - ours.charge[k][t]).abs() < 1e-6);
                assert!(ours.charge[k][t] >= -1e-9 && ours.charge[k][t] <= u.cmax[t] + 1e-9);
                assert!(ours.discharge[k][t] >= -1e-9 && ours.discharge[k][t] <= u.dmax[t] + 1e-9);
                assert!(
                    ours.energy[k][t] >= u.emin[t] - 1e-9 && ours.energy[k][t] <= u.emax[t] + 1e-9
                );
            }
        }
    }

    #[test]
    fn units_behind_sites_are_not_taken() {
        let (net, mut units) = small();
        units[0].attach = Attach::Site(0);
        assert_eq!(solve(&net, &units).unwrap_err(), IpmError::Unsupported);
    }
}
