//! The per-variable passes of the iteration: few, fused, and shared among the cores in
//! contiguous runs of variables ([`on_vars`]). At 100,000 batteries the vectors are far larger
//! than the caches and the time goes into reading them, so each pass does all it can while a
//! variable is at hand: [`advance`] (the last step, then the residuals, `Θ` and the
//! predictor's right-hand side), [`affine`] (the predictor's direction and step lengths),
//! [`corrector_rho`] and [`corrector`] (the corrector's right-hand side, direction and step
//! lengths). Branch-free: a fixed variable is masked rather than skipped.

use super::cut_mut;
use crate::on_threads;

/// Primal regularisation added to each `Θ⁻¹`.
const RHO: f64 = 1e-12;

/// The per-variable terms of a Newton direction whose complementarity targets are
/// `x_l z_l = cl`, `x_u z_u = cu` (0 for the predictor; `σμ` less the predictor's second-order
/// term for the corrector). With `il = 1 / (x − l)`, `iu = 1 / (u − x)`, the direction solves
/// `A Θ Aᵀ Δy = r_p + A Θ ρ`, `Δx = Θ (Aᵀ Δy − ρ)`, with
/// `ρ = r_d + z_l − z_u − cl·il + cu·iu`, `Δz_l = (cl − z_l Δx)·il − z_l`,
/// `Δz_u = (cu + z_u Δx)·iu − z_u`. A fixed variable has `il = iu = 0` and `z_l = z_u = 0`,
/// so the same formulas leave its duals at 0, branch-free.
#[derive(Clone, Copy)]
struct Targets {
    cl: f64,
    cu: f64,
}

impl Targets {
    /// The corrector's targets: `σμ` less the predictor's second-order term `Δx Δz`.
    #[inline]
    fn corrector(sigma_mu: f64, dxa: f64, zl: f64, zu: f64, il: f64, iu: f64) -> Self {
        // The predictor's Δz_l = −z_l (1 + Δx il), Δz_u = −z_u (1 − Δx iu).
        Self {
            cl: sigma_mu + dxa * zl * (1.0 + dxa * il),
            cu: sigma_mu - dxa * zu * (1.0 - dxa * iu),
        }
    }

    #[inline]
    fn rho(self, rd: f64, zl: f64, zu: f64, il: f64, iu: f64) -> f64 {
        rd + zl - zu - self.cl * il + self.cu * iu
    }

    #[inline]
    fn dz(self, dx: f64, zl: f64, zu: f64, il: f64, iu: f64) -> (f64, f64) {
        ((self.cl - zl * dx) * il - zl, (self.cu + zu * dx) * iu - zu)
    }
}

/// The per-variable vectors of the iteration that change.
pub(super) struct Iterate {
    pub(super) x: Vec<f64>,
    /// `Aᵀ y`, kept up to date with `y`.
    aty: Vec<f64>,
    zl: Vec<f64>,
    zu: Vec<f64>,
    /// 1 / (x − l), 1 / (u − x) (0 for a fixed variable).
    ixl: Vec<f64>,
    ixu: Vec<f64>,
    rd: Vec<f64>,
    pub(super) theta: Vec<f64>,
    /// Θ ρ of the direction being computed.
    pub(super) trho: Vec<f64>,
    /// The predictor's Δx, the corrector's.
    dxa: Vec<f64>,
    dx: Vec<f64>,
}

impl Iterate {
    /// The iterate at `x` with the bound duals `zl`, `zu`, `Aᵀ y = 0` (`y = 0`) and no direction
    /// yet.
    pub(super) fn new(x: Vec<f64>, zl: Vec<f64>, zu: Vec<f64>) -> Self {
        let n = x.len();
        Self {
            x,
            aty: vec![0.0; n],
            zl,
            zu,
            ixl: vec![0.0; n],
            ixu: vec![0.0; n],
            rd: vec![0.0; n],
            theta: vec![0.0; n],
            trho: vec![0.0; n],
            dxa: vec![0.0; n],
            dx: vec![0.0; n],
        }
    }
}

/// One thread's share of the per-variable vectors: the bounds, scaled costs, the mask (1 where
/// a variable has bound terms, 0 where it is fixed: every other variable is boxed), the
/// iterate, and `at`, the `Aᵀ y` or `Aᵀ Δy` the pass reads.
struct Vars<'a> {
    lo: &'a [f64],
    hi: &'a [f64],
    c: &'a [f64],
    free: &'a [f64],
    at: &'a [f64],
    x: &'a mut [f64],
    aty: &'a mut [f64],
    zl: &'a mut [f64],
    zu: &'a mut [f64],
    ixl: &'a mut [f64],
    ixu: &'a mut [f64],
    rd: &'a mut [f64],
    theta: &'a mut [f64],
    trho: &'a mut [f64],
    dxa: &'a mut [f64],
    dx: &'a mut [f64],
}

/// Variables from which the per-variable passes are shared among threads: below it a pass
/// takes less time than starting a thread.
pub(super) const PARALLEL_VARS_FROM: usize = 20_000;

/// `v` cut at `bounds` (ascending, last = its length); an empty `v` gives empty shares.
fn cut<'a, T>(v: &'a [T], bounds: &[usize]) -> Vec<&'a [T]> {
    if v.is_empty() {
        return vec![v; bounds.len()];
    }
    let mut start = 0;
    bounds
        .iter()
        .map(|&b| {
            let share = &v[start..b];
            start = b;
            share
        })
        .collect()
}

/// The constant per-variable vectors: bounds, scaled costs and the mask of [`Vars`].
pub(super) struct Fixed<'a> {
    pub(super) lo: &'a [f64],
    pub(super) hi: &'a [f64],
    pub(super) c: &'a [f64],
    pub(super) free: &'a [f64],
}

/// Runs `pass` over the variables, in `threads` contiguous shares; the results in order.
fn on_vars<R: Send>(
    it: &mut Iterate,
    k: &Fixed,
    at: &[f64],
    threads: usize,
    pass: impl Fn(Vars) -> R + Sync,
) -> Vec<R> {
    let n = it.x.len();
    let bounds: Vec<usize> = (1..=threads).map(|i| i * n / threads).collect();
    let (lo, hi, c) = (cut(k.lo, &bounds), cut(k.hi, &bounds), cut(k.c, &bounds));
    let (free, at) = (cut(k.free, &bounds), cut(at, &bounds));
    let mut aty = cut_mut(&mut it.aty, &bounds);
    let (mut x, mut zl, mut zu) = (
        cut_mut(&mut it.x, &bounds),
        cut_mut(&mut it.zl, &bounds),
        cut_mut(&mut it.zu, &bounds),
    );
    let (mut ixl, mut ixu) = (cut_mut(&mut it.ixl, &bounds), cut_mut(&mut it.ixu, &bounds));
    let (mut rd, mut theta) = (
        cut_mut(&mut it.rd, &bounds),
        cut_mut(&mut it.theta, &bounds),
    );
    let mut trho = cut_mut(&mut it.trho, &bounds);
    let (mut dxa, mut dx) = (cut_mut(&mut it.dxa, &bounds), cut_mut(&mut it.dx, &bounds));
    let shares = (0..bounds.len()).filter_map(|i| {
        Some(Vars {
            lo: lo[i],
            hi: hi[i],
            c: c[i],
            free: free[i],
            at: at[i],
            x: x.next()?,
            aty: aty.next()?,
            zl: zl.next()?,
            zu: zu.next()?,
            ixl: ixl.next()?,
            ixu: ixu.next()?,
            rd: rd.next()?,
            theta: theta.next()?,
            trho: trho.next()?,
            dxa: dxa.next()?,
            dx: dx.next()?,
        })
    });
    on_threads(shares.collect(), pass)
}

/// The last iteration's step (`step`: its `σμ`, primal and dual step lengths; all 0 before
/// the first), `x += a_p Δx`, `z += a_d Δz` and `Aᵀ y += a_d Aᵀ Δy` (`atdy`: `Aᵀ y` moves with
/// `y`, so it needs no product), fused with this iteration's first pass: the distances to the
/// bounds, `r_d`, `Θ` and the predictor's `Θ ρ`. Returns the complementarity, the (scaled)
/// primal objective and `‖r_d‖∞`.
pub(super) fn advance(
    it: &mut Iterate,
    k: &Fixed,
    atdy: &[f64],
    threads: usize,
    step: (f64, f64, f64),
) -> (f64, f64, f64) {
    let (sigma_mu, ap, ad) = step;
    let sums = on_vars(it, k, atdy, threads, |v| {
        let (mut compl, mut pobj, mut rd_max) = (0.0, 0.0, 0.0_f64);
        // Every slice cut to one length, so that the loops have no bounds checks.
        let n = v.x.len();
        let (lo, hi, c, free) = (&v.lo[..n], &v.hi[..n], &v.c[..n], &v.free[..n]);
        let (at, dx, dxa) = (&v.at[..n], &v.dx[..n], &v.dxa[..n]);
        let (x, zl, zu, aty) = (
            &mut v.x[..n],
            &mut v.zl[..n],
            &mut v.zu[..n],
            &mut v.aty[..n],
        );
        let (ixl, ixu, rd) = (&mut v.ixl[..n], &mut v.ixu[..n], &mut v.rd[..n]);
        let (theta, trho) = (&mut v.theta[..n], &mut v.trho[..n]);
        for j in 0..n {
            let (il, iu) = (ixl[j], ixu[j]);
            let t = Targets::corrector(sigma_mu, dxa[j], zl[j], zu[j], il, iu);
            let (dzl, dzu) = t.dz(dx[j], zl[j], zu[j], il, iu);
            x[j] += ap * dx[j];
            zl[j] += ad * dzl;
            zu[j] += ad * dzu;
            aty[j] += ad * at[j];
        }
        for j in 0..n {
            // Masks instead of branches (branch-free): a fixed variable
            // has no bound terms (its duals stay 0) and Θ = 0.
            let f = free[j];
            let xl = x[j] - lo[j];
            let xu = hi[j] - x[j];
            let (il, iu) = (f / (xl + (1.0 - f)), f / (xu + (1.0 - f)));
            ixl[j] = il;
            ixu[j] = iu;
            let r = f * (c[j] - aty[j] - zl[j] + zu[j]);
            rd[j] = r;
            rd_max = rd_max.max(r.abs());
            let th = f / (zl[j] * il + zu[j] * iu + RHO);
            theta[j] = th;
            // The predictor's Θ ρ (complementarity targets 0: ρ = r_d + z_l − z_u).
            trho[j] = th * (r + zl[j] - zu[j]);
            compl += zl[j] * xl + zu[j] * xu;
            pobj += c[j] * x[j];
        }
        (compl, pobj, rd_max)
    });
    sums.into_iter().fold((0.0, 0.0, 0.0_f64), |a, b| {
        (a.0 + b.0, a.1 + b.1, a.2.max(b.2))
    })
}

/// The predictor (affine scaling: complementarity targets 0): its `Δx` from `Aᵀ Δy`
/// (`atdy`) into the iterate, the reciprocals `p`, `q` of its longest primal and dual steps,
/// and the sums `S = Σ Δx (z_l − z_u)` and `B = Σ Δx² (z_l il + z_u iu)` from which the caller
/// has the complementarity after the steps (since `Δz_l = −z_l (1 + Δx il)`,
/// `Δz_u = −z_u (1 − Δx iu)`). Returns `(p, q, S, B)`.
pub(super) fn affine(
    it: &mut Iterate,
    k: &Fixed,
    atdy: &[f64],
    threads: usize,
) -> (f64, f64, f64, f64) {
    let affine = Targets { cl: 0.0, cu: 0.0 };
    let sums = on_vars(it, k, atdy, threads, |v| {
        let (mut p, mut q, mut s_sum, mut b_sum) = (1.0_f64, 1.0_f64, 0.0, 0.0);
        for j in 0..v.x.len() {
            let (il, iu, zl, zu) = (v.ixl[j], v.ixu[j], v.zl[j], v.zu[j]);
            let d = v.theta[j] * (v.at[j] - affine.rho(v.rd[j], zl, zu, il, iu));
            v.dxa[j] = d;
            p = p.max(-d * il).max(d * iu);
            // −Δz_l / z_l and −Δz_u / z_u (1 for a fixed variable).
            q = q.max(1.0 + d * il).max(1.0 - d * iu);
            s_sum += d * (zl - zu);
            b_sum += d * d * (zl * il + zu * iu);
        }
        (p, q, s_sum, b_sum)
    });
    sums.into_iter().fold((1.0_f64, 1.0_f64, 0.0, 0.0), |a, b| {
        (a.0.max(b.0), a.1.max(b.1), a.2 + b.2, a.3 + b.3)
    })
}

/// The corrector's targets for variable `j` of a share.
#[inline]
fn corrector_target(sigma_mu: f64, v: &Vars, j: usize) -> Targets {
    Targets::corrector(sigma_mu, v.dxa[j], v.zl[j], v.zu[j], v.ixl[j], v.ixu[j])
}

/// The corrector's `Θ ρ` (targets `σμ` less the predictor's second-order term) into the
/// iterate.
pub(super) fn corrector_rho(it: &mut Iterate, k: &Fixed, threads: usize, sigma_mu: f64) {
    on_vars(it, k, &[], threads, |v| {
        for j in 0..v.x.len() {
            let t = corrector_target(sigma_mu, &v, j);
            v.trho[j] = v.theta[j] * t.rho(v.rd[j], v.zl[j], v.zu[j], v.ixl[j], v.ixu[j]);
        }
    });
}

/// The corrector's `Δx` from `Aᵀ Δy` (`atdy`) into the iterate; returns the reciprocals
/// `(p, q)` of its longest primal and dual steps.
pub(super) fn corrector(
    it: &mut Iterate,
    k: &Fixed,
    atdy: &[f64],
    threads: usize,
    sigma_mu: f64,
) -> (f64, f64) {
    let steps = on_vars(it, k, atdy, threads, |v| {
        let (mut p, mut q) = (1.0_f64, 1.0_f64);
        for j in 0..v.x.len() {
            let (il, iu, zl, zu, t) = (
                v.ixl[j],
                v.ixu[j],
                v.zl[j],
                v.zu[j],
                corrector_target(sigma_mu, &v, j),
            );
            let d = v.theta[j] * (v.at[j] - t.rho(v.rd[j], zl, zu, il, iu));
            v.dx[j] = d;
            let (dzl, dzu) = t.dz(d, zl, zu, il, iu);
            p = p.max(-d * il).max(d * iu);
            // 1 / z (0 for a fixed variable: its z and Δz stay 0).
            let f = v.free[j];
            q = q
                .max(-dzl * f / (zl + (1.0 - f)))
                .max(-dzu * f / (zu + (1.0 - f)));
        }
        (p, q)
    });
    steps
        .into_iter()
        .fold((1.0_f64, 1.0_f64), |a, b| (a.0.max(b.0), a.1.max(b.1)))
}
