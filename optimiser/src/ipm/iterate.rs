//! Mehrotra's predictor-corrector iteration on the model ([`run`]): the starting point inside
//! the bounds, the residuals and the stopping test, each Newton step's two directions (their
//! normal equations by [`Normal`], their per-variable work by the passes of `kernels`), and
//! the step lengths.

use super::IpmError;
use super::factor::Normal;
use super::kernels::{self, Fixed, Iterate};
use super::model::Model;

/// Relative tolerance on the residuals and the complementarity gap.
const TOL: f64 = 1e-8;
/// Iterations before giving up.
const MAX_ITER: usize = 150;

/// Variables from which the products with `A` and `Aᵀ` are shared among threads (each is
/// one pass over the units, cheaper than a per-variable pass).
const PARALLEL_PRODUCTS_FROM: usize = 200_000;

/// The optimum the iteration converged to.
pub(super) struct Solution {
    /// The primal variables.
    pub(super) x: Vec<f64>,
    /// The duals of the rows, for the costs scaled by `1 / cscale`.
    pub(super) y: Vec<f64>,
    /// The scale of the costs (their largest magnitude).
    pub(super) cscale: f64,
}

fn norm_inf(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Iterates on `m` to its optimum, the per-variable passes shared among the cores from
/// `shared_from` variables.
pub(super) fn run(m: &Model, shared_from: usize) -> Result<Solution, IpmError> {
    let (n, rows) = (m.n, m.m);
    // Costs scaled to at most 1.
    let cscale = norm_inf(&m.c).max(1e-12);
    let c: Vec<f64> = m.c.iter().map(|x| x / cscale).collect();
    let fixed: Vec<bool> = (0..n).map(|j| m.hi[j] - m.lo[j] < 1e-9).collect();
    // Every variable is boxed (`Model::build`), so a variable has both bound terms or, fixed,
    // none.
    debug_assert!(m.hi.iter().all(|h| h.is_finite()));
    let free: Vec<f64> = fixed.iter().map(|f| if *f { 0.0 } else { 1.0 }).collect();
    let x: Vec<f64> = (0..n)
        .map(|j| {
            if fixed[j] {
                m.lo[j]
            } else {
                let margin = (0.5 * (m.hi[j] - m.lo[j])).min(1.0);
                let lo = m.lo[j] + margin;
                m.start[j].clamp(lo, (m.hi[j] - margin).max(lo))
            }
        })
        .collect();
    let mut y = vec![0.0; rows];
    let zl: Vec<f64> = (0..n)
        .map(|j| {
            if fixed[j] {
                0.0
            } else {
                1.0 / (x[j] - m.lo[j])
            }
        })
        .collect();
    let zu: Vec<f64> = (0..n)
        .map(|j| {
            if fixed[j] {
                0.0
            } else {
                1.0 / (m.hi[j] - x[j])
            }
        })
        .collect();
    let n_compl = 2 * fixed.iter().filter(|f| !**f).count();
    let bnorm = norm_inf(&m.b);
    let cnorm = norm_inf(&c);

    let mut ax = vec![0.0; rows];
    let mut rp = vec![0.0; rows];
    let mut it = Iterate::new(x, zl, zu);
    let k = Fixed {
        lo: &m.lo,
        hi: &m.hi,
        c: &c,
        free: &free,
    };
    let threads = if n >= shared_from {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    } else {
        1
    };
    let product_threads = if n >= PARALLEL_PRODUCTS_FROM.max(shared_from) {
        threads
    } else {
        1
    };
    // Aᵀ Δy.
    let mut atdy = vec![0.0; n];
    let mut dy = vec![0.0; rows];
    let (mut primal, mut dual, mut gap) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let mut converged = false;
    let mut iterations = 0;
    // The last iteration's σμ and step lengths.
    let mut step = (0.0, 0.0, 0.0);
    for iter in 0..MAX_ITER {
        iterations = iter;
        // The last iteration's step (none before the first), fused with this iteration's
        // first pass.
        let (compl, pobj, rd_max) = kernels::advance(&mut it, &k, &atdy, threads, step);
        m.mul_on(&it.x, &mut ax, product_threads);
        for i in 0..rows {
            rp[i] = m.b[i] - ax[i];
        }
        primal = norm_inf(&rp) / (1.0 + bnorm);
        dual = rd_max / (1.0 + cnorm);
        gap = compl / (1.0 + f64::abs(pobj));
        if primal < TOL && dual < TOL && gap < TOL {
            converged = true;
            break;
        }
        let mu = compl / n_compl.max(1) as f64;
        let normal = Normal::factor(m, &it.theta);
        // Δy from Θ ρ: A Θ Aᵀ Δy = r_p + A Θ ρ; then Aᵀ Δy.
        let solve = |trho: &[f64], dy: &mut Vec<f64>, atdy: &mut Vec<f64>| {
            m.mul_on(trho, dy, product_threads);
            for (d, r) in dy.iter_mut().zip(&rp) {
                *d += r;
            }
            normal.solve(m, dy);
            m.mul_t_on(dy, atdy, product_threads);
        };
        // Predictor (affine scaling): complementarity targets 0 (its Θ ρ made with Θ).
        solve(&it.trho, &mut dy, &mut atdy);
        // Its Δx, longest steps and, from sums taken on the way, the complementarity after
        // them: Σ (x_l + a_p Δx)(z_l + a_d Δz_l) + (x_u − a_p Δx)(z_u + a_d Δz_u)
        // = compl + a_p S − a_d (compl + S) − a_p a_d (S + B).
        let (p, q, s_sum, b_sum) = kernels::affine(&mut it, &k, &atdy, threads);
        let (ap, ad) = (1.0 / p, 1.0 / q);
        let mu_aff = (compl + ap * s_sum - ad * (compl + s_sum) - ap * ad * (s_sum + b_sum))
            / n_compl.max(1) as f64;
        let sigma_mu = (mu_aff / mu).clamp(0.0, 1.0).powi(3) * mu;
        // Corrector.
        kernels::corrector_rho(&mut it, &k, threads, sigma_mu);
        solve(&it.trho, &mut dy, &mut atdy);
        let (p, q) = kernels::corrector(&mut it, &k, &atdy, threads, sigma_mu);
        let eta = 0.995;
        let (ap, ad) = ((eta / p).min(1.0), (eta / q).min(1.0));
        step = (sigma_mu, ap, ad);
        for (yi, d) in y.iter_mut().zip(&dy) {
            *yi += ad * d;
        }
    }
    if !converged {
        return Err(IpmError::NoConvergence {
            iterations,
            primal,
            dual,
            gap,
        });
    }
    Ok(Solution { x: it.x, y, cscale })
}
