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
//!   (the feeders shared among the machine's cores);
//! - the peak rows (`diag + θ_P 11ᵀ`) go into the root's balance rows by Sherman–Morrison,
//!   leaving one dense `T × T` system,
//!
//! where a general sparse factorisation of the same KKT system pays for the fill it cannot
//! foresee. Held to Clarabel's optimum through good_lp on random networks (unit tests here, a
//! property test in `hierarchy`). Every variable is boxed (physical bounds where the LP has
//! none), so the iterates stay bounded and the dual is always feasible.

use super::lp::{Attach, LpPlan, LpSlack, Network, Unit};
use super::{map_shared, on_threads};

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

/// Relative tolerance on the residuals and the complementarity gap.
const TOL: f64 = 1e-8;
/// Iterations before giving up.
const MAX_ITER: usize = 150;
/// Dual regularisation added to the normal equations' diagonal.
const DELTA: f64 = 1e-12;
/// Primal regularisation added to each `Θ⁻¹`.
const RHO: f64 = 1e-12;

/// Where a unit's flow goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    Feeder(usize),
    Root,
}

/// Indices of one unit's variables and rows.
#[derive(Debug, Clone)]
struct UnitIx {
    parent: Parent,
    /// First variable: `c` at `+t`, `d` at `+T+t`, `e` at `+2T+t`, then short and excess.
    var: usize,
    /// First row: energy balance at `+t`, then the terminal row.
    row: usize,
    target: bool,
    /// Stored energy per kWh of charge and per kWh of discharge, times Δt, in the unit's
    /// energy variables.
    a: f64,
    b: f64,
    /// Stored energy per unit of the energy variables.
    escale: f64,
}

impl UnitIx {
    fn rows(&self, t_len: usize) -> usize {
        t_len + usize::from(self.target)
    }

    fn vars(&self, t_len: usize) -> usize {
        3 * t_len + 2 * usize::from(self.target)
    }
}

/// The LP in the solver's form: `min cᵀx` s.t. `Ax = b`, `l ≤ x ≤ u`.
struct Model {
    t: usize,
    units: Vec<UnitIx>,
    /// Per feeder: first variable (`g` at `+t`, import slack `+T+t`, export slack `+2T+t`)
    /// and first row.
    feeders: Vec<(usize, usize)>,
    /// Root variables: import `+t`, import slack `+T+t`, export `+2T+t`, export slack
    /// `+3T+t`, peak gap `+4T+t`, peak `+5T`.
    root_var: usize,
    root_row: usize,
    peak_row: usize,
    /// Units per feeder and on the root (indices into `units`).
    feeder_units: Vec<Vec<usize>>,
    root_units: Vec<usize>,
    n: usize,
    m: usize,
    c: Vec<f64>,
    b: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// A hint for the starting point, moved inside the bounds.
    start: Vec<f64>,
}

impl Model {
    fn parent_row(&self, p: Parent, t: usize) -> usize {
        match p {
            Parent::Feeder(f) => self.feeders[f].1 + t,
            Parent::Root => self.root_row + t,
        }
    }

    /// `out = A x`.
    #[cfg(test)]
    fn mul(&self, x: &[f64], out: &mut [f64]) {
        self.mul_on(x, out, 1);
    }

    /// First row and first variable after the units'.
    fn units_end(&self) -> (usize, usize) {
        self.units
            .last()
            .map_or((0, 0), |u| (u.row + u.rows(self.t), u.var + u.vars(self.t)))
    }

    /// The units in (at most) `threads` contiguous runs, each with its part of `out`: from its
    /// first unit's `start` (first row or first variable) to the next run's, the last to `end`.
    fn unit_jobs<'a>(
        &'a self,
        out: &'a mut [f64],
        threads: usize,
        start: fn(&UnitIx) -> usize,
        end: usize,
    ) -> Vec<(&'a [UnitIx], &'a mut [f64])> {
        let n = self.units.len();
        let threads = threads.clamp(1, n.max(1));
        let runs: Vec<usize> = (0..=threads).map(|i| i * n / threads).collect();
        let bounds: Vec<usize> = runs[1..]
            .iter()
            .map(|&k| self.units.get(k).map_or(end, start))
            .collect();
        runs.windows(2)
            .map(|w| &self.units[w[0]..w[1]])
            .zip(cut_mut(&mut out[..end], &bounds))
            .collect()
    }

    /// `out = A x`, the units shared among `threads` threads: each writes its units' rows and
    /// sums their flows into its own copy of the parents' rows, added in order after.
    fn mul_on(&self, x: &[f64], out: &mut [f64], threads: usize) {
        let t_len = self.t;
        out.iter_mut().for_each(|v| *v = 0.0);
        let parents = (self.feeders.len() + 1) * t_len;
        let jobs = self.unit_jobs(out, threads, |u| u.row, self.units_end().0);
        let sums = on_threads(jobs, |(units, rows)| {
            let first = units.first().map_or(0, |u| u.row);
            let mut sums = vec![0.0; parents];
            for u in units {
                let (c, d, e) = (u.var, u.var + t_len, u.var + 2 * t_len);
                let parent = match u.parent {
                    Parent::Feeder(f) => f * t_len,
                    Parent::Root => parents - t_len,
                };
                for t in 0..t_len {
                    let r = u.row - first + t;
                    rows[r] += x[e + t] - u.a * x[c + t] + u.b * x[d + t];
                    if t > 0 {
                        rows[r] -= x[e + t - 1];
                    }
                    sums[parent + t] += x[c + t] - x[d + t];
                }
                if u.target {
                    rows[u.row - first + t_len] +=
                        x[e + t_len - 1] + x[u.var + 3 * t_len] - x[u.var + 3 * t_len + 1];
                }
            }
            sums
        });
        for sum in &sums {
            for (f, &(_, r)) in self.feeders.iter().enumerate() {
                for t in 0..t_len {
                    out[r + t] += sum[f * t_len + t];
                }
            }
            for t in 0..t_len {
                out[self.root_row + t] += sum[parents - t_len + t];
            }
        }
        for &(v, r) in &self.feeders {
            for t in 0..t_len {
                let flow = x[v + t] + x[v + t_len + t] - x[v + 2 * t_len + t];
                out[r + t] -= flow;
                out[self.root_row + t] += flow;
            }
        }
        let v = self.root_var;
        for t in 0..t_len {
            let import = x[v + t] + x[v + t_len + t];
            let export = x[v + 2 * t_len + t] + x[v + 3 * t_len + t];
            out[self.root_row + t] += export - import;
            out[self.peak_row + t] += import + x[v + 4 * t_len + t] - x[v + 5 * t_len];
        }
    }

    /// `out = Aᵀ y`.
    #[cfg(test)]
    fn mul_t(&self, y: &[f64], out: &mut [f64]) {
        self.mul_t_on(y, out, 1);
    }

    /// `out = Aᵀ y`, the units' variables shared among `threads` threads.
    fn mul_t_on(&self, y: &[f64], out: &mut [f64], threads: usize) {
        let t_len = self.t;
        let jobs = self.unit_jobs(out, threads, |u| u.var, self.units_end().1);
        on_threads(jobs, |(units, vars)| {
            let first = units.first().map_or(0, |u| u.var);
            for u in units {
                let v = u.var - first;
                let (c, d, e) = (v, v + t_len, v + 2 * t_len);
                for t in 0..t_len {
                    let r = u.row + t;
                    let p = y[self.parent_row(u.parent, t)];
                    vars[c + t] = -u.a * y[r] + p;
                    vars[d + t] = u.b * y[r] - p;
                    vars[e + t] = y[r]
                        - if t + 1 < t_len {
                            y[r + 1]
                        } else if u.target {
                            -y[u.row + t_len]
                        } else {
                            0.0
                        };
                }
                if u.target {
                    vars[v + 3 * t_len] = y[u.row + t_len];
                    vars[v + 3 * t_len + 1] = -y[u.row + t_len];
                }
            }
        });
        for &(v, r) in &self.feeders {
            for t in 0..t_len {
                let g = y[self.root_row + t] - y[r + t];
                out[v + t] = g;
                out[v + t_len + t] = g;
                out[v + 2 * t_len + t] = -g;
            }
        }
        let v = self.root_var;
        let mut peak = 0.0;
        for t in 0..t_len {
            let (r, p) = (y[self.root_row + t], y[self.peak_row + t]);
            out[v + t] = p - r;
            out[v + t_len + t] = p - r;
            out[v + 2 * t_len + t] = r;
            out[v + 3 * t_len + t] = r;
            out[v + 4 * t_len + t] = p;
            peak -= p;
        }
        out[v + 5 * t_len] = peak;
    }
}

/// Builds the model of `units` on `net`; also the constant objective of the sites (their
/// peaks and limit slacks, which no unit can change) and its slacks.
fn model(net: &Network, units: &[Unit]) -> Result<(Model, f64, Vec<LpSlack>), IpmError> {
    let t_len = net.steps;
    let dt = net.dt;
    let slack_cost = net.slack_price * dt;
    // Constant loads per feeder and on the root; the sites' own (constant) costs.
    let mut feeder_load = vec![vec![0.0; t_len]; net.feeders.len()];
    let mut root_load = vec![0.0; t_len];
    let mut constant = 0.0;
    let mut slacks = Vec::new();
    for (s, site) in net.sites.iter().enumerate() {
        if net.site_peak_charge > 0.0 {
            let peak = site.net_load.iter().fold(0.0_f64, |m, x| m.max(*x));
            constant += net.site_peak_charge
                * super::site_peak_factor(peak, site.peak_so_far, net.site_peak_period_share);
        }
        for (t, &x) in site.net_load.iter().enumerate() {
            if let Some(lim) = site.import_limit
                && x > lim
            {
                constant += slack_cost * (x - lim);
                slacks.push(LpSlack {
                    what: format!("site {s} import"),
                    step: t,
                    amount: x - lim,
                });
            }
            if let Some(lim) = site.export_limit
                && -x > lim
            {
                constant += slack_cost * (-x - lim);
                slacks.push(LpSlack {
                    what: format!("site {s} export"),
                    step: t,
                    amount: -x - lim,
                });
            }
            match site.feeder {
                Some(f) => feeder_load[f][t] += x,
                None => root_load[t] += x,
            }
        }
    }
    // A bound on any flow, for variables the LP leaves unbounded.
    let big = 1.0
        + net
            .sites
            .iter()
            .map(|s| s.net_load.iter().fold(0.0_f64, |m, x| m.max(x.abs())))
            .sum::<f64>()
        + units
            .iter()
            .map(|u| {
                (0..t_len)
                    .map(|t| u.cmax[t].max(0.0) + u.dmax[t].max(0.0) + u.offset[t].abs())
                    .fold(0.0, f64::max)
            })
            .sum::<f64>();

    let mut m = Model {
        t: t_len,
        units: Vec::with_capacity(units.len()),
        feeders: Vec::with_capacity(net.feeders.len()),
        root_var: 0,
        root_row: 0,
        peak_row: 0,
        feeder_units: vec![Vec::new(); net.feeders.len()],
        root_units: Vec::new(),
        n: 0,
        m: 0,
        c: Vec::new(),
        b: Vec::new(),
        lo: Vec::new(),
        hi: Vec::new(),
        start: Vec::new(),
    };
    // Every variable is boxed (the loops multiply by distances to both bounds).
    let push = |m: &mut Model, c: f64, lo: f64, hi: f64, start: f64| {
        let hi = if hi.is_finite() { hi } else { lo + 4.0 * big };
        m.c.push(c);
        m.lo.push(lo);
        m.hi.push(hi.max(lo));
        m.start.push(start);
        m.n += 1;
    };
    for unit in units {
        let parent = match unit.attach {
            Attach::Feeder(f) => {
                m.feeder_units[f].push(m.units.len());
                Parent::Feeder(f)
            }
            Attach::Root => {
                m.root_units.push(m.units.len());
                Parent::Root
            }
            Attach::Site(_) => return Err(IpmError::Unsupported),
        };
        // Energy in kWh of grid-side charge (each row's charge coefficient 1): energy rows
        // on the scale of the flows they couple to.
        let escale = if unit.alpha > 0.0 {
            unit.alpha * dt
        } else {
            1.0
        };
        let ix = UnitIx {
            parent,
            var: m.n,
            row: m.m,
            target: unit.target.is_some(),
            a: unit.alpha * dt / escale,
            b: unit.beta * dt / escale,
            escale,
        };
        let wear = net.wear * dt;
        for t in 0..t_len {
            let hi = unit.cmax[t].max(0.0);
            push(&mut m, wear, 0.0, hi, 0.5 * hi);
        }
        for t in 0..t_len {
            let hi = unit.dmax[t].max(0.0);
            push(&mut m, wear, 0.0, hi, 0.5 * hi);
        }
        for t in 0..t_len {
            let (lo, hi) = (unit.emin[t], unit.emax[t].max(unit.emin[t]));
            let (lo, hi) = (lo / escale, hi / escale);
            push(&mut m, 0.0, lo, hi, 0.5 * (lo + hi));
        }
        m.b.push(unit.e0 / escale);
        m.b.extend(std::iter::repeat_n(0.0, t_len - 1));
        m.m += t_len;
        if let Some(target) = unit.target {
            let w = net.terminal_price * unit.target_weight * escale;
            let hi = big * t_len as f64 / escale;
            push(&mut m, w, 0.0, hi, 0.0);
            push(&mut m, w, 0.0, hi, 0.0);
            m.b.push(target / escale);
            m.m += 1;
        }
        m.units.push(ix);
    }
    for &(imp, exp) in &net.feeders {
        m.feeders.push((m.n, m.m));
        let (lo, hi) = (
            exp.map_or(-big, |e| -e.min(big)),
            imp.map_or(big, |i| i.min(big)),
        );
        for _ in 0..t_len {
            push(&mut m, 0.0, lo, hi, 0.0);
        }
        // Import then export slack; fixed at 0 without that limit.
        for limit in [imp, exp] {
            let hi = if limit.is_some() { big } else { 0.0 };
            for _ in 0..t_len {
                push(&mut m, slack_cost, 0.0, hi, 0.0);
            }
        }
        m.m += t_len;
    }
    m.root_var = m.n;
    let (imp, exp) = net.root_limits;
    let import_hi = imp.map_or(big, |i| i.min(big));
    let export_hi = exp.map_or(big, |e| e.min(big));
    for t in 0..t_len {
        push(&mut m, net.import_price[t] * dt, 0.0, import_hi, 0.0);
    }
    for t in 0..t_len {
        let hi = if imp.is_some() { big } else { 0.0 };
        push(&mut m, net.import_price[t] * dt + slack_cost, 0.0, hi, 0.0);
    }
    for t in 0..t_len {
        push(&mut m, -net.export_price[t] * dt, 0.0, export_hi, 0.0);
    }
    for t in 0..t_len {
        let hi = if exp.is_some() { big } else { 0.0 };
        push(&mut m, slack_cost - net.export_price[t] * dt, 0.0, hi, 0.0);
    }
    for _ in 0..t_len {
        push(&mut m, 0.0, 0.0, 2.0 * big, 0.0);
    }
    push(&mut m, net.peak_charge, 0.0, 2.0 * big, 0.0);
    // Rows: feeders' balances, the root's balance, the peak rows.
    for (f, load) in feeder_load.iter().enumerate() {
        debug_assert_eq!(m.feeders[f].1, m.b.len());
        m.b.extend(load.iter().map(|x| -x));
    }
    m.root_row = m.m;
    m.b.extend(root_load.iter().map(|x| -x));
    m.m += t_len;
    m.peak_row = m.m;
    m.b.extend(std::iter::repeat_n(0.0, t_len));
    m.m += t_len;
    // Fixed flows of the units move to the right-hand side of their parent's balance.
    for (ix, unit) in m.units.clone().iter().zip(units) {
        for t in 0..t_len {
            let r = m.parent_row(ix.parent, t);
            m.b[r] -= unit.offset[t];
        }
    }
    Ok((m, constant, slacks))
}

/// Dense symmetric positive-definite factor in place: the lower triangle of `a` (row-major,
/// `n × n`; the upper one is not read) becomes `L` with `L Lᵀ = a`. Tiny pivots are replaced
/// by a huge one (the direction is dropped rather than blowing up).
fn cholesky(a: &mut [f64], n: usize) {
    let scale = (0..n).map(|i| a[i * n + i].abs()).fold(0.0, f64::max);
    for j in 0..n {
        let (done, rest) = a.split_at_mut(j * n);
        let row_j = &mut rest[..n];
        // Row j left of the diagonal: L_jk = (a_jk − Σ_{m<k} L_jm L_km) / L_kk.
        for k in 0..j {
            let row_k = &done[k * n..k * n + k + 1];
            row_j[k] = (row_j[k] - dot(&row_j[..k], &row_k[..k])) / row_k[k];
        }
        let d = row_j[j] - dot(&row_j[..j], &row_j[..j]);
        row_j[j] = if d > 1e-14 * scale && d > 0.0 {
            d.sqrt()
        } else {
            1e64
        };
    }
}

/// Adds the strict upper triangle of `a` (`n × n`, row-major) into its lower one.
fn fold(a: &mut [f64], n: usize) {
    for j in 0..n {
        for i in 0..j {
            a[j * n + i] += a[i * n + j];
        }
    }
}

/// `a · b`, with four partial sums (so that it vectorises).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (ca, cb) = (a[..n].chunks_exact(4), b[..n].chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0.0; 4];
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// Solves `L Lᵀ x = b` in place with the factor of [`cholesky`].
fn cholesky_solve(l: &[f64], n: usize, x: &mut [f64]) {
    for i in 0..n {
        x[i] = (x[i] - dot(&l[i * n..i * n + i], &x[..i])) / l[i * n + i];
    }
    for i in (0..n).rev() {
        x[i] /= l[i * n + i];
        let xi = x[i];
        let row = &l[i * n..i * n + i];
        for (xk, lik) in x[..i].iter_mut().zip(row) {
            *xk -= lik * xi;
        }
    }
}

/// A unit's tridiagonal block `LDLᵀ`: inverse pivots `dinv` (`1 / d`) and multipliers `l`
/// (`l[i]` links `i` to `i − 1`), with its coupling `g` to the parent's rows.
#[derive(Debug, Clone, Default)]
struct Tri {
    dinv: Vec<f64>,
    l: Vec<f64>,
    g: Vec<f64>,
}

impl Tri {
    /// Solves the block in place.
    fn solve(&self, x: &mut [f64]) {
        let n = self.dinv.len();
        for i in 1..n {
            x[i] -= self.l[i] * x[i - 1];
        }
        for (xi, d) in x.iter_mut().zip(&self.dinv) {
            *xi *= d;
        }
        for i in (0..n.saturating_sub(1)).rev() {
            x[i] -= self.l[i + 1] * x[i + 1];
        }
    }
}

/// Units whose blocks [`solve_group`] solves side by side.
const GROUP: usize = 4;

/// Solves `GROUP` blocks of one size side by side: each solve is a chain of dependent
/// operations, and the chains of different blocks overlap.
fn solve_group(tris: [&Tri; GROUP], xs: &mut [Vec<f64>; GROUP]) {
    let n = tris[0].dinv.len();
    let xs: [&mut [f64]; GROUP] = xs.each_mut().map(|x| &mut x[..n]);
    let [x0, x1, x2, x3] = xs;
    let [t0, t1, t2, t3] = tris.map(|t| (&t.l[..n], &t.dinv[..n]));
    for i in 1..n {
        x0[i] -= t0.0[i] * x0[i - 1];
        x1[i] -= t1.0[i] * x1[i - 1];
        x2[i] -= t2.0[i] * x2[i - 1];
        x3[i] -= t3.0[i] * x3[i - 1];
    }
    for i in 0..n {
        x0[i] *= t0.1[i];
        x1[i] *= t1.1[i];
        x2[i] *= t2.1[i];
        x3[i] *= t3.1[i];
    }
    for i in (0..n.saturating_sub(1)).rev() {
        x0[i] -= t0.0[i + 1] * x0[i + 1];
        x1[i] -= t1.0[i + 1] * x1[i + 1];
        x2[i] -= t2.0[i + 1] * x2[i + 1];
        x3[i] -= t3.0[i + 1] * x3[i + 1];
    }
}

/// The root's peak rows, `diag(p) + θ_P 11ᵀ`, coupled to the balance rows by `diag(k)`, as
/// Sherman–Morrison gives their inverse: `P⁻¹z = q⊙z − γ q (q·z)` with `q = 1/p`.
#[derive(Debug, Clone, Default)]
struct Peak {
    q: Vec<f64>,
    k: Vec<f64>,
    gamma: f64,
}

impl Peak {
    fn apply_inverse(&self, z: &mut [f64]) {
        let qz: f64 = self.q.iter().zip(z.iter()).map(|(a, b)| a * b).sum();
        for (zi, qi) in z.iter_mut().zip(&self.q) {
            *zi = *zi * qi - self.gamma * qi * qz;
        }
    }
}

/// The factored normal equations `A Θ Aᵀ + δI`.
struct Normal {
    units: Vec<Tri>,
    /// Per feeder, its factor.
    feeders: Vec<FeederFactor>,
    /// Root balance rows once everything else is eliminated: Cholesky factor (`T × T`).
    root: Vec<f64>,
    peak: Peak,
}

/// Eliminates unit `u`'s tridiagonal block into its parent's dense upper triangle
/// (`parent`, `T × T`): `parent −= G B⁻¹ G`, and adds its variables to the parent's diagonal.
/// A unit's rows of `A Θ Aᵀ + δI`: its tridiagonal block (`diag`, `off[i] = M[i][i + 1]`,
/// `T` or `T + 1` rows), its coupling `g` to its parent's rows, and what its variables add to
/// the parent's diagonal.
struct UnitRows {
    diag: Vec<f64>,
    off: Vec<f64>,
    g: Vec<f64>,
    parent_diag: Vec<f64>,
}

fn unit_rows(m: &Model, theta: &[f64], u: &UnitIx) -> UnitRows {
    let t_len = m.t;
    let n = u.rows(t_len);
    let (c, d, e) = (u.var, u.var + t_len, u.var + 2 * t_len);
    let mut r = UnitRows {
        diag: vec![DELTA; n],
        off: vec![0.0; n],
        g: vec![0.0; t_len],
        parent_diag: vec![0.0; t_len],
    };
    for t in 0..t_len {
        let (tc, td, te) = (theta[c + t], theta[d + t], theta[e + t]);
        r.diag[t] += u.a * u.a * tc + u.b * u.b * td + te;
        if t + 1 < t_len {
            r.diag[t + 1] += te;
            r.off[t] -= te;
        } else if u.target {
            r.diag[t + 1] += te;
            r.off[t] += te;
        }
        r.g[t] = -u.a * tc - u.b * td;
        r.parent_diag[t] = tc + td;
    }
    if u.target {
        r.diag[t_len] += theta[u.var + 3 * t_len] + theta[u.var + 3 * t_len + 1];
    }
    r
}

fn unit_block(m: &Model, theta: &[f64], u: &UnitIx, parent: &mut [f64]) -> Tri {
    let t_len = m.t;
    let n = u.rows(t_len);
    let UnitRows {
        diag,
        off,
        g,
        parent_diag,
    } = unit_rows(m, theta, u);
    for (t, x) in parent_diag.iter().enumerate() {
        parent[t * t_len + t] += x;
    }
    // LDLᵀ.
    let mut tri = Tri {
        dinv: vec![0.0; n],
        l: vec![0.0; n],
        g,
    };
    let scale = diag.iter().fold(0.0_f64, |a, b| a.max(b.abs()));
    for i in 0..n {
        let mut p = diag[i];
        if i > 0 {
            tri.l[i] = off[i - 1] * tri.dinv[i - 1];
            p -= tri.l[i] * off[i - 1];
        }
        // A tiny pivot becomes a huge one: the direction is dropped rather than blowing up.
        tri.dinv[i] = if p > 1e-14 * scale && p > 0.0 {
            1.0 / p
        } else {
            1e-64
        };
    }
    // The inverse's recurrences: X_jj = 1/d_j + l_{j+1}² X_{j+1,j+1}; X_ij = −l_{i+1} X_{i+1,j}
    // for i < j.
    // Row by row from the bottom (each row is a multiple of the next beyond its diagonal),
    // kept scaled by the coupling: `w_j = g_j X_ij`; `g_i w_j` goes into the parent's upper
    // triangle (row i), which [`fold`] adds into the lower one before the parent is factored.
    let mut w = vec![0.0; t_len];
    let mut xdiag = 0.0;
    for i in (0..n).rev() {
        xdiag = tri.dinv[i]
            + if i + 1 < n {
                tri.l[i + 1] * tri.l[i + 1] * xdiag
            } else {
                0.0
            };
        if i >= t_len {
            continue;
        }
        if i + 1 < t_len {
            let f = -tri.l[i + 1];
            for x in &mut w[i + 1..] {
                *x *= f;
            }
        }
        w[i] = tri.g[i] * xdiag;
        let gi = tri.g[i];
        let row = &mut parent[i * t_len + i..(i + 1) * t_len];
        for (p, x) in row.iter_mut().zip(&w[i..]) {
            *p -= gi * x;
        }
    }
    tri
}

/// A feeder's factor.
#[derive(Debug, Clone)]
enum FeederFactor {
    /// Its units eliminated into its rows, which are then a dense block: its Cholesky factor
    /// (`T × T`) and the coupling `h` of its rows to the root's.
    Dense { l: Vec<f64>, h: Vec<f64> },
    /// Its units and its rows together, ordered by interval: block tridiagonal with blocks of
    /// `q = units + 1` rows (the units' rows at `t`, then the feeder's), and a last block for
    /// the terminal rows. Per block, the inverse of its pivot `D_b⁻¹` (`q × q`) and the
    /// diagonal coupling `c_b` to the next block (`L_{b+1} = diag(c_b) D_b⁻¹`).
    Block {
        units: Vec<usize>,
        dinv: Vec<f64>,
        c: Vec<f64>,
        h: Vec<f64>,
    },
}

impl FeederFactor {
    fn h(&self) -> &[f64] {
        match self {
            Self::Dense { h, .. } | Self::Block { h, .. } => h,
        }
    }
}

/// A feeder's units' factors (by unit index; none on the block path), and its own.
type FeederFactors = (Vec<(usize, Tri)>, FeederFactor);

/// Feeders with at most this many units are eliminated on the block path (`O(T² q²)` rather
/// than the dense `O(T³)`).
const BLOCK_UP_TO: usize = 4;

/// Inverts a small symmetric positive-definite matrix (`q × q`, row-major) into `out`.
/// On the stack: the block path inverts one per feeder and interval.
fn small_inverse(a: &[f64], q: usize, out: &mut [f64]) {
    const { assert!(BLOCK_UP_TO + 1 == 5) };
    debug_assert!((1..=BLOCK_UP_TO + 1).contains(&q));
    match q {
        1 => inverse_of::<1>(a, out),
        2 => inverse_of::<2>(a, out),
        3 => inverse_of::<3>(a, out),
        4 => inverse_of::<4>(a, out),
        _ => inverse_of::<5>(a, out),
    }
}

/// [`small_inverse`] for a size known at compile time (the loops unroll; it runs for every
/// interval of every block-path feeder in every iteration): `a = L D Lᵀ` with a unit lower
/// `L`, a tiny pivot replaced by a huge one as in [`cholesky`], then `a⁻¹ = L⁻ᵀ D⁻¹ L⁻¹`.
fn inverse_of<const Q: usize>(a: &[f64], out: &mut [f64]) {
    let (a, out) = (&a[..Q * Q], &mut out[..Q * Q]);
    let scale = (0..Q).map(|i| a[i * Q + i].abs()).fold(0.0, f64::max);
    let mut l = [[0.0; Q]; Q];
    let mut d = [0.0; Q];
    for j in 0..Q {
        let mut p = a[j * Q + j];
        for k in 0..j {
            p -= l[j][k] * l[j][k] * d[k];
        }
        d[j] = if p > 1e-14 * scale && p > 0.0 {
            p
        } else {
            1e128
        };
        for i in j + 1..Q {
            let mut v = a[i * Q + j];
            for k in 0..j {
                v -= l[i][k] * l[j][k] * d[k];
            }
            l[i][j] = v / d[j];
        }
    }
    // L⁻¹, unit lower: M_ij = −Σ_{j ≤ k < i} L_ik M_kj.
    let mut m = [[0.0; Q]; Q];
    for i in 0..Q {
        let mut row = [0.0; Q];
        row[i] = 1.0;
        for (j, r) in row.iter_mut().enumerate().take(i) {
            *r = -(j..i).map(|k| l[i][k] * m[k][j]).sum::<f64>();
        }
        m[i] = row;
    }
    let dinv = d.map(|x| 1.0 / x);
    for i in 0..Q {
        for j in 0..=i {
            let v: f64 = (i..Q).map(|k| m[k][i] * m[k][j] * dinv[k]).sum();
            out[i * Q + j] = v;
            out[j * Q + i] = v;
        }
    }
}

/// `v ← M v` for every `Q`-vector `v` of `col` (`M` is `Q × Q`, row-major): sizes known at
/// compile time, so the products unroll.
fn propagate<const Q: usize>(mb: &[f64], col: &mut [f64]) {
    let mut m = [[0.0; Q]; Q];
    for (i, row) in m.iter_mut().enumerate() {
        row.copy_from_slice(&mb[i * Q..(i + 1) * Q]);
    }
    for v in col.chunks_exact_mut(Q) {
        let mut x = [0.0; Q];
        x.copy_from_slice(v);
        for (vi, row) in v.iter_mut().zip(&m) {
            let mut acc = 0.0;
            for (a, b) in row.iter().zip(&x) {
                acc += a * b;
            }
            *vi = acc;
        }
    }
}

/// Solves the block path's system in place: `x` holds `T + 1` blocks of `q`.
fn block_solve(dinv: &[f64], c: &[f64], q: usize, x: &mut [f64]) {
    let blocks = x.len() / q;
    let mut w = vec![0.0; q];
    // Forward: z_b = r_b − c_{b−1} ⊙ w_{b−1}; w_b = D_b⁻¹ z_b.
    for b in 0..blocks {
        if b > 0 {
            let (done, rest) = x.split_at_mut(b * q);
            let prev = &done[(b - 1) * q..];
            for a in 0..q {
                rest[a] -= c[(b - 1) * q + a] * prev[a];
            }
        }
        let z = &mut x[b * q..(b + 1) * q];
        for i in 0..q {
            w[i] = dot(&dinv[(b * q + i) * q..(b * q + i + 1) * q], z);
        }
        z.copy_from_slice(&w);
    }
    // Back: y_b = w_b − D_b⁻¹ (c_b ⊙ y_{b+1}).
    let mut v = vec![0.0; q];
    for b in (0..blocks.saturating_sub(1)).rev() {
        for a in 0..q {
            v[a] = c[b * q + a] * x[(b + 1) * q + a];
        }
        for i in 0..q {
            x[b * q + i] -= dot(&dinv[(b * q + i) * q..(b * q + i + 1) * q], &v);
        }
    }
}

/// The block path of [`feeder_block`]: factors feeder `f` with its units and subtracts its
/// Schur complement from `root` (upper triangle): `root −= H Z H` with `Z` the feeder rows'
/// part of the subsystem's inverse, from the block inverse's recurrences
/// (`X_bb = D_b⁻¹ + L_{b+1}ᵀ X_{b+1,b+1} L_{b+1}`, `X_bs = −L_{b+1}ᵀ X_{b+1,s}` for `b < s`),
/// carrying only the feeder row's column of each block.
fn feeder_block_path(m: &Model, theta: &[f64], f: usize, root: &mut [f64]) -> FeederFactor {
    let t_len = m.t;
    let units = m.feeder_units[f].clone();
    let k = units.len();
    let q = k + 1;
    let blocks = t_len + 1;
    // A_b (q × q) and c_b (coupling of block b to b + 1).
    let mut a = vec![0.0; blocks * q * q];
    let mut c = vec![0.0; blocks * q];
    let at = |b: usize, i: usize, j: usize| (b * q + i) * q + j;
    for (slot, &ui) in units.iter().enumerate() {
        let u = &m.units[ui];
        let r = unit_rows(m, theta, u);
        for t in 0..t_len {
            a[at(t, slot, slot)] = r.diag[t];
            a[at(t, slot, k)] = r.g[t];
            a[at(t, k, slot)] = r.g[t];
            a[at(t, k, k)] += r.parent_diag[t];
            // To the next interval, or (last) to the terminal row.
            c[t * q + slot] = if t + 1 < t_len || u.target {
                r.off[t]
            } else {
                0.0
            };
        }
        a[at(t_len, slot, slot)] = if u.target { r.diag[t_len] } else { 1.0 };
    }
    a[at(t_len, k, k)] = 1.0;
    let v = m.feeders[f].0;
    let mut h = vec![0.0; t_len];
    for t in 0..t_len {
        let sum = theta[v + t] + theta[v + t_len + t] + theta[v + 2 * t_len + t];
        a[at(t, k, k)] += sum + DELTA;
        h[t] = -sum;
        root[t * t_len + t] += sum;
    }
    // Block LDLᵀ: D_b = A_b − diag(c_{b−1}) D_{b−1}⁻¹ diag(c_{b−1}).
    let mut dinv = vec![0.0; blocks * q * q];
    let mut d = vec![0.0; q * q];
    for b in 0..blocks {
        d.copy_from_slice(&a[b * q * q..(b + 1) * q * q]);
        if b > 0 {
            for i in 0..q {
                for j in 0..q {
                    d[i * q + j] -= c[(b - 1) * q + i] * dinv[at(b - 1, i, j)] * c[(b - 1) * q + j];
                }
            }
        }
        small_inverse(&d, q, &mut dinv[b * q * q..(b + 1) * q * q]);
    }
    // Inverse's diagonal blocks from the bottom, and the feeder column of each row of blocks,
    // with M_b = −D_b⁻¹ diag(c_b) (so that −L_{b+1}ᵀ = M_b and L_{b+1}ᵀ X L_{b+1} = M_b X M_bᵀ).
    let mut xdiag = dinv[(blocks - 1) * q * q..].to_vec();
    let mut mx = vec![0.0; q * q];
    let mut mb = vec![0.0; q * q];
    let mut col = vec![0.0; t_len * q]; // col[s] = X_{b,s}[:, k] for s ≥ b
    let mut tmp = vec![0.0; q];
    for b in (0..t_len).rev() {
        for i in 0..q {
            for j in 0..q {
                mb[i * q + j] = -dinv[at(b, i, j)] * c[b * q + j];
            }
        }
        // X_bb = D_b⁻¹ + M_b X_{b+1,b+1} M_bᵀ.
        for i in 0..q {
            for j in 0..q {
                mx[i * q + j] = (0..q).map(|r| mb[i * q + r] * xdiag[r * q + j]).sum();
            }
        }
        for i in 0..q {
            for j in 0..q {
                xdiag[i * q + j] =
                    dinv[at(b, i, j)] + (0..q).map(|r| mx[i * q + r] * mb[j * q + r]).sum::<f64>();
            }
        }
        // X_{b,s}[:, k] = M_b X_{b+1,s}[:, k].
        let tail = &mut col[(b + 1) * q..];
        match q {
            2 => propagate::<2>(&mb, tail),
            3 => propagate::<3>(&mb, tail),
            4 => propagate::<4>(&mb, tail),
            5 => propagate::<5>(&mb, tail),
            _ => {
                for v in tail.chunks_exact_mut(q) {
                    tmp.copy_from_slice(v);
                    for (i, vi) in v.iter_mut().enumerate() {
                        *vi = dot(&mb[i * q..(i + 1) * q], &tmp);
                    }
                }
            }
        }
        for i in 0..q {
            col[b * q + i] = xdiag[i * q + k];
        }
        // Z[b][s] = X_{b,s}[k, k]: root row b, columns s ≥ b.
        let hb = h[b];
        let row = &mut root[b * t_len + b..(b + 1) * t_len];
        for (s, r) in (b..t_len).zip(row.iter_mut()) {
            *r -= hb * h[s] * col[s * q + k];
        }
    }
    FeederFactor::Block { units, dinv, c, h }
}

/// Eliminates feeder `f` and its units: their factors, and the feeder's Schur complement
/// added into `root` (lower triangle): `root −= H S⁻¹ H = WᵀW` with `W = L⁻¹H`.
fn feeder_block(
    m: &Model,
    theta: &[f64],
    f: usize,
    block_up_to: usize,
    root: &mut [f64],
) -> FeederFactors {
    if m.feeder_units[f].len() <= block_up_to {
        return (Vec::new(), feeder_block_path(m, theta, f, root));
    }
    let t_len = m.t;
    let mut s = vec![0.0; t_len * t_len];
    let mut h = vec![0.0; t_len];
    let tris = m.feeder_units[f]
        .iter()
        .map(|&k| (k, unit_block(m, theta, &m.units[k], &mut s)))
        .collect();
    let v = m.feeders[f].0;
    for t in 0..t_len {
        let sum = theta[v + t] + theta[v + t_len + t] + theta[v + 2 * t_len + t];
        s[t * t_len + t] += sum + DELTA;
        h[t] = -sum;
        root[t * t_len + t] += sum;
    }
    fold(&mut s, t_len);
    cholesky(&mut s, t_len);
    // Wᵀ: row j is W's column j, non-zero from j on.
    let mut wt = vec![0.0; t_len * t_len];
    for j in 0..t_len {
        let col = &mut wt[j * t_len..(j + 1) * t_len];
        col[j] = h[j] / s[j * t_len + j];
        for i in j + 1..t_len {
            col[i] = -dot(&s[i * t_len + j..i * t_len + i], &col[j..i]) / s[i * t_len + i];
        }
    }
    for i in 0..t_len {
        for j in 0..=i {
            // (WᵀW)_ij = Σ_{k ≥ i} W_ki W_kj (i ≥ j).
            root[i * t_len + j] -= dot(
                &wt[i * t_len + i..(i + 1) * t_len],
                &wt[j * t_len + i..(j + 1) * t_len],
            );
        }
    }
    (tris, FeederFactor::Dense { l: s, h })
}

/// Feeders from which the normal equations' solves share them among the cores.
const FEEDERS_SHARED_FROM: usize = 64;

/// Floating-point operations of an elimination below which it stays on one thread.
const PARALLEL_FROM: usize = 2_000_000;

impl Normal {
    /// Factors on as many threads as the machine has (one for small problems).
    fn factor(m: &Model, theta: &[f64]) -> Self {
        let t2 = m.t * m.t;
        let flops = m.units.len() * t2 + m.feeders.len() * t2 * m.t / 2;
        let threads = if flops >= PARALLEL_FROM {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            1
        };
        Self::factor_on(m, theta, threads, BLOCK_UP_TO)
    }

    /// Factors with the feeders shared among up to `threads` threads, those with at most
    /// `block_up_to` units on the block path.
    fn factor_on(m: &Model, theta: &[f64], threads: usize, block_up_to: usize) -> Self {
        let t_len = m.t;
        let mut root = vec![0.0; t_len * t_len];
        let mut units: Vec<Tri> = vec![Tri::default(); m.units.len()];
        let mut feeders: Vec<FeederFactor> = Vec::with_capacity(m.feeders.len());
        let threads = threads.clamp(1, m.feeders.len().max(1));
        // Feeders in contiguous chunks of about equal work, one per thread, each with its own
        // root accumulator.
        let work: Vec<usize> = (0..m.feeders.len())
            .map(|f| m.feeder_units[f].len() * t_len + t_len * t_len)
            .collect();
        let total: usize = work.iter().sum();
        let mut bounds = vec![0];
        let mut acc = 0;
        for (f, w) in work.iter().enumerate() {
            acc += w;
            if acc * threads >= total * bounds.len() && bounds.len() < threads {
                bounds.push(f + 1);
            }
        }
        if bounds.len() == 1 || bounds.last() != Some(&m.feeders.len()) {
            bounds.push(m.feeders.len());
        }
        let chunk = |range: std::ops::Range<usize>, root: &mut [f64]| {
            range
                .map(|f| feeder_block(m, theta, f, block_up_to, root))
                .collect::<Vec<_>>()
        };
        // Each run of feeders sums into its own copy of the root block; added in order.
        let runs: Vec<std::ops::Range<usize>> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
        let results: Vec<(Vec<_>, Vec<f64>)> = on_threads(runs, |range| {
            let mut own = vec![0.0; t_len * t_len];
            let out = chunk(range, &mut own);
            (out, own)
        });
        for (chunk, own) in results {
            for (a, b) in root.iter_mut().zip(&own) {
                *a += b;
            }
            for (tris, factor) in chunk {
                for (k, tri) in tris {
                    units[k] = tri;
                }
                feeders.push(factor);
            }
        }
        for &k in &m.root_units {
            units[k] = unit_block(m, theta, &m.units[k], &mut root);
        }
        // Root's own variables; the peak rows eliminated by Sherman–Morrison:
        // R − K P⁻¹ K = R − diag(k² q) + γ (k⊙q)(k⊙q)ᵀ.
        let v = m.root_var;
        let tp = theta[v + 5 * t_len];
        let mut peak = Peak {
            q: vec![0.0; t_len],
            k: vec![0.0; t_len],
            gamma: 0.0,
        };
        for t in 0..t_len {
            let (ti, tsi) = (theta[v + t], theta[v + t_len + t]);
            let (tx, tsx, tq) = (
                theta[v + 2 * t_len + t],
                theta[v + 3 * t_len + t],
                theta[v + 4 * t_len + t],
            );
            root[t * t_len + t] += ti + tsi + tx + tsx + DELTA;
            peak.k[t] = -(ti + tsi);
            peak.q[t] = 1.0 / (ti + tsi + tq + DELTA);
        }
        peak.gamma = tp / (1.0 + tp * peak.q.iter().sum::<f64>());
        for i in 0..t_len {
            let vi = peak.k[i] * peak.q[i];
            root[i * t_len + i] -= peak.k[i] * vi;
            for j in 0..=i {
                root[i * t_len + j] += peak.gamma * vi * peak.k[j] * peak.q[j];
            }
        }
        fold(&mut root, t_len);
        cholesky(&mut root, t_len);
        Self {
            units,
            feeders,
            root,
            peak,
        }
    }

    /// The units with blocks of their own, in runs of at most [`GROUP`] of one size.
    fn groups(&self) -> Vec<Vec<usize>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (k, tri) in self.units.iter().enumerate() {
            if tri.dinv.is_empty() {
                continue;
            }
            match groups.last_mut() {
                Some(g) if g.len() < GROUP && self.units[g[0]].dinv.len() == tri.dinv.len() => {
                    g.push(k);
                }
                _ => groups.push(vec![k]),
            }
        }
        groups
    }

    /// Solves the blocks of a group of [`Self::groups`] in place, `work[i]` holding unit
    /// `group[i]`'s rows: side by side when the group is full.
    fn solve_units(&self, m: &Model, group: &[usize], work: &mut [Vec<f64>; GROUP]) {
        if let Ok(ks) = <[usize; GROUP]>::try_from(group) {
            solve_group(ks.map(|k| &self.units[k]), work);
        } else {
            for (w, &k) in work.iter_mut().zip(group) {
                let n = m.units[k].rows(m.t);
                self.units[k].solve(&mut w[..n]);
            }
        }
    }

    /// Solves `(A Θ Aᵀ + δI) y = r` in place.
    fn solve(&self, m: &Model, r: &mut [f64]) {
        self.solve_sharing(m, r, FEEDERS_SHARED_FROM);
    }

    /// [`Self::solve`], the feeders shared among the cores from `shared_from` of them.
    fn solve_sharing(&self, m: &Model, r: &mut [f64], shared_from: usize) {
        let t_len = m.t;
        // Units into their parents (those of block-path feeders go with their feeder), in
        // groups of one size solved side by side.
        let groups = self.groups();
        let mut work: [Vec<f64>; GROUP] = std::array::from_fn(|_| vec![0.0; t_len + 1]);
        for group in &groups {
            for (w, &k) in work.iter_mut().zip(group) {
                let u = &m.units[k];
                let n = u.rows(t_len);
                w[..n].copy_from_slice(&r[u.row..u.row + n]);
            }
            self.solve_units(m, group, &mut work);
            for (w, &k) in work.iter().zip(group) {
                let (u, tri) = (&m.units[k], &self.units[k]);
                for t in 0..t_len {
                    r[m.parent_row(u.parent, t)] -= tri.g[t] * w[t];
                }
            }
        }
        // Feeders into the root (shared among the cores; their parts added in order).
        let feeders: Vec<usize> = (0..m.feeders.len()).collect();
        let forward = map_shared(&feeders, shared_from, |&f| {
            let row = m.feeders[f].1;
            let factor = &self.feeders[f];
            let h = factor.h();
            match factor {
                FeederFactor::Dense { l, .. } => {
                    let reduced = r[row..row + t_len].to_vec();
                    let mut x = reduced.clone();
                    cholesky_solve(l, t_len, &mut x);
                    let part: Vec<f64> = (0..t_len).map(|t| h[t] * x[t]).collect();
                    (reduced, part)
                }
                FeederFactor::Block { units, dinv, c, .. } => {
                    let q = units.len() + 1;
                    let x = gather(m, units, row, r);
                    let mut y = x.clone();
                    block_solve(dinv, c, q, &mut y);
                    let part: Vec<f64> = (0..t_len).map(|t| h[t] * y[t * q + q - 1]).collect();
                    (x, part)
                }
            }
        });
        for (_, part) in &forward {
            for (rt, p) in r[m.root_row..m.root_row + t_len].iter_mut().zip(part) {
                *rt -= p;
            }
        }
        // Peak rows into the root rows, the root rows, the peak rows.
        let (rr, rp) = r[m.root_row..m.root_row + 2 * t_len].split_at_mut(t_len);
        let mut z = rp.to_vec();
        self.peak.apply_inverse(&mut z);
        for t in 0..t_len {
            rr[t] -= self.peak.k[t] * z[t];
        }
        cholesky_solve(&self.root, t_len, rr);
        for t in 0..t_len {
            rp[t] -= self.peak.k[t] * rr[t];
        }
        self.peak.apply_inverse(rp);
        // Back: feeders, then units.
        let root = r[m.root_row..m.root_row + t_len].to_vec();
        let back = map_shared(&feeders, shared_from, |&f| {
            let mut rhs = forward[f].0.clone();
            let factor = &self.feeders[f];
            let h = factor.h();
            match factor {
                FeederFactor::Dense { l, .. } => {
                    for t in 0..t_len {
                        rhs[t] -= h[t] * root[t];
                    }
                    cholesky_solve(l, t_len, &mut rhs);
                }
                FeederFactor::Block { units, dinv, c, .. } => {
                    let q = units.len() + 1;
                    for t in 0..t_len {
                        rhs[t * q + q - 1] -= h[t] * root[t];
                    }
                    block_solve(dinv, c, q, &mut rhs);
                }
            }
            rhs
        });
        for ((&(_, row), factor), x) in m.feeders.iter().zip(&self.feeders).zip(back) {
            match factor {
                FeederFactor::Dense { .. } => r[row..row + t_len].copy_from_slice(&x),
                FeederFactor::Block { units, .. } => scatter(m, units, row, &x, r),
            }
        }
        for group in &groups {
            for (w, &k) in work.iter_mut().zip(group) {
                let (u, tri) = (&m.units[k], &self.units[k]);
                let n = u.rows(t_len);
                w[..n].copy_from_slice(&r[u.row..u.row + n]);
                for t in 0..t_len {
                    w[t] -= tri.g[t] * r[m.parent_row(u.parent, t)];
                }
            }
            self.solve_units(m, group, &mut work);
            for (w, &k) in work.iter().zip(group) {
                let u = &m.units[k];
                let n = u.rows(t_len);
                r[u.row..u.row + n].copy_from_slice(&w[..n]);
            }
        }
    }
}

/// A block-path feeder's rows of `r`, by interval (its units' rows at `t`, then its own),
/// then the units' terminal rows (0 where a unit has none, and for the feeder's slot).
fn gather(m: &Model, units: &[usize], row: usize, r: &[f64]) -> Vec<f64> {
    let t_len = m.t;
    let q = units.len() + 1;
    let mut x = vec![0.0; (t_len + 1) * q];
    for (slot, &ui) in units.iter().enumerate() {
        let u = &m.units[ui];
        for t in 0..t_len {
            x[t * q + slot] = r[u.row + t];
        }
        if u.target {
            x[t_len * q + slot] = r[u.row + t_len];
        }
    }
    for t in 0..t_len {
        x[t * q + q - 1] = r[row + t];
    }
    x
}

/// The inverse of [`gather`].
fn scatter(m: &Model, units: &[usize], row: usize, x: &[f64], r: &mut [f64]) {
    let t_len = m.t;
    let q = units.len() + 1;
    for (slot, &ui) in units.iter().enumerate() {
        let u = &m.units[ui];
        for t in 0..t_len {
            r[u.row + t] = x[t * q + slot];
        }
        if u.target {
            r[u.row + t_len] = x[t_len * q + slot];
        }
    }
    for t in 0..t_len {
        r[row + t] = x[t * q + q - 1];
    }
}

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
struct Iterate {
    x: Vec<f64>,
    /// `Aᵀ y`, kept up to date with `y`.
    aty: Vec<f64>,
    zl: Vec<f64>,
    zu: Vec<f64>,
    /// 1 / (x − l), 1 / (u − x) (0 for a fixed variable).
    ixl: Vec<f64>,
    ixu: Vec<f64>,
    rd: Vec<f64>,
    theta: Vec<f64>,
    /// Θ ρ of the direction being computed.
    trho: Vec<f64>,
    /// The predictor's Δx, the corrector's.
    dxa: Vec<f64>,
    dx: Vec<f64>,
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
const PARALLEL_VARS_FROM: usize = 20_000;

/// Variables from which the products with `A` and `Aᵀ` are shared among threads (each is
/// one pass over the units, cheaper than a per-variable pass).
const PARALLEL_PRODUCTS_FROM: usize = 200_000;

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

/// `v` cut at `bounds`, mutably.
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

/// The constant per-variable vectors.
struct Fixed<'a> {
    lo: &'a [f64],
    hi: &'a [f64],
    c: &'a [f64],
    free: &'a [f64],
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

fn norm_inf(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Solves the LP of `units` on `net` (see [`super::lp::solve`] for the formulation).
pub fn solve(net: &Network, units: &[Unit]) -> Result<LpPlan, IpmError> {
    solve_sharing(net, units, PARALLEL_VARS_FROM)
}

/// [`solve`], the per-variable passes shared among the cores from `shared_from` variables.
fn solve_sharing(net: &Network, units: &[Unit], shared_from: usize) -> Result<LpPlan, IpmError> {
    // Before building anything: monolithic mode's units all sit behind sites.
    if units.iter().any(|u| matches!(u.attach, Attach::Site(_))) {
        return Err(IpmError::Unsupported);
    }
    let (m, constant, site_slacks) = model(net, units)?;
    let (n, rows) = (m.n, m.m);
    // Costs scaled to at most 1.
    let cscale = norm_inf(&m.c).max(1e-12);
    let c: Vec<f64> = m.c.iter().map(|x| x / cscale).collect();
    let fixed: Vec<bool> = (0..n).map(|j| m.hi[j] - m.lo[j] < 1e-9).collect();
    // Every variable is boxed (`model`), so a variable has both bound terms or, fixed, none.
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
    let mut it = Iterate {
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
    };
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
    // The per-variable passes are few, fused and shared among the cores: at 100,000
    // batteries the vectors are far larger than the caches, and the time goes into reading
    // them.
    for iter in 0..MAX_ITER {
        iterations = iter;
        // The last iteration's step (none before the first), fused with this iteration's
        // first pass: `Aᵀ y` moves with `y` (`Aᵀ Δy` is at hand), so it needs no product.
        let (sigma_mu, ap, ad) = step;
        let sums = on_vars(&mut it, &k, &atdy, threads, |v| {
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
        let (compl, pobj, rd_max) = sums.into_iter().fold((0.0, 0.0, 0.0_f64), |a, b| {
            (a.0 + b.0, a.1 + b.1, a.2.max(b.2))
        });
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
        let normal = Normal::factor(&m, &it.theta);
        // Δy from Θ ρ: A Θ Aᵀ Δy = r_p + A Θ ρ; then Aᵀ Δy.
        let solve = |trho: &[f64], dy: &mut Vec<f64>, atdy: &mut Vec<f64>| {
            m.mul_on(trho, dy, product_threads);
            for (d, r) in dy.iter_mut().zip(&rp) {
                *d += r;
            }
            normal.solve(&m, dy);
            m.mul_t_on(dy, atdy, product_threads);
        };
        // Predictor (affine scaling): complementarity targets 0 (its Θ ρ made with Θ).
        let affine = Targets { cl: 0.0, cu: 0.0 };
        solve(&it.trho, &mut dy, &mut atdy);
        // Its Δx, longest steps and, from sums taken on the way, the complementarity after
        // them: Σ (x_l + a_p Δx)(z_l + a_d Δz_l) + (x_u − a_p Δx)(z_u + a_d Δz_u)
        // = compl + a_p S − a_d (compl + S) − a_p a_d (S + B), S = Σ Δx (z_l − z_u),
        // B = Σ Δx² (z_l il + z_u iu), since Δz_l = −z_l (1 + Δx il), Δz_u = −z_u (1 − Δx iu).
        let sums = on_vars(&mut it, &k, &atdy, threads, |v| {
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
        let (p, q, s_sum, b_sum) = sums.into_iter().fold((1.0_f64, 1.0_f64, 0.0, 0.0), |a, b| {
            (a.0.max(b.0), a.1.max(b.1), a.2 + b.2, a.3 + b.3)
        });
        let (ap, ad) = (1.0 / p, 1.0 / q);
        let mu_aff = (compl + ap * s_sum - ad * (compl + s_sum) - ap * ad * (s_sum + b_sum))
            / n_compl.max(1) as f64;
        let sigma_mu = (mu_aff / mu).clamp(0.0, 1.0).powi(3) * mu;
        // Corrector.
        let target = |v: &Vars, j: usize| {
            Targets::corrector(sigma_mu, v.dxa[j], v.zl[j], v.zu[j], v.ixl[j], v.ixu[j])
        };
        on_vars(&mut it, &k, &[], threads, |v| {
            for j in 0..v.x.len() {
                let t = target(&v, j);
                v.trho[j] = v.theta[j] * t.rho(v.rd[j], v.zl[j], v.zu[j], v.ixl[j], v.ixu[j]);
            }
        });
        solve(&it.trho, &mut dy, &mut atdy);
        let steps = on_vars(&mut it, &k, &atdy, threads, |v| {
            let (mut p, mut q) = (1.0_f64, 1.0_f64);
            for j in 0..v.x.len() {
                let (il, iu, zl, zu, t) = (v.ixl[j], v.ixu[j], v.zl[j], v.zu[j], target(&v, j));
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
        let (p, q) = steps
            .into_iter()
            .fold((1.0_f64, 1.0_f64), |a, b| (a.0.max(b.0), a.1.max(b.1)));
        let eta = 0.995;
        let (ap, ad) = ((eta / p).min(1.0), (eta / q).min(1.0));
        step = (sigma_mu, ap, ad);
        for (yi, d) in y.iter_mut().zip(&dy) {
            *yi += ad * d;
        }
    }
    let x = it.x;
    if !converged {
        return Err(IpmError::NoConvergence {
            iterations,
            primal,
            dual,
            gap,
        });
    }

    let t_len = m.t;
    let dt = net.dt;
    let mut plan = LpPlan {
        charge: Vec::with_capacity(units.len()),
        discharge: Vec::with_capacity(units.len()),
        energy: Vec::with_capacity(units.len()),
        import: Vec::with_capacity(t_len),
        export: Vec::with_capacity(t_len),
        objective: constant + m.c.iter().zip(&x).map(|(a, b)| a * b).sum::<f64>(),
        marginal_price: Some(
            (0..t_len)
                .map(|t| (-y[m.root_row + t] * cscale / dt * 1e6).round() / 1e6)
                .collect(),
        ),
        slacks: site_slacks,
        solver: "structured-ipm",
    };
    let mut slack = |what: String, step: usize, amount: f64| {
        if amount > 1e-6 {
            plan.slacks.push(LpSlack { what, step, amount });
        }
    };
    for (k, u) in m.units.iter().enumerate() {
        if u.target {
            slack(
                format!("unit {k} terminal short"),
                t_len - 1,
                x[u.var + 3 * t_len] * u.escale,
            );
            slack(
                format!("unit {k} terminal excess"),
                t_len - 1,
                x[u.var + 3 * t_len + 1] * u.escale,
            );
        }
    }
    for (f, &(v, _)) in m.feeders.iter().enumerate() {
        for t in 0..t_len {
            slack(format!("feeder {f} import"), t, x[v + t_len + t]);
            slack(format!("feeder {f} export"), t, x[v + 2 * t_len + t]);
        }
    }
    let v = m.root_var;
    for t in 0..t_len {
        slack("root import".to_owned(), t, x[v + t_len + t]);
        slack("root export".to_owned(), t, x[v + 3 * t_len + t]);
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
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small network: two feeders (one with both limits, one with an import limit), units
    /// on them and on the root (the last four, on the root, of one size: the normal equations'
    /// solves take them side by side), root limits and a peak charge.
    fn small() -> (Network, Vec<Unit>) {
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
        let site = |feeder, base: f64| super::super::lp::NetSite {
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
                super::super::lp::NetSite {
                    peak_so_far: Some(6.0),
                    ..site(Some(1), 1.0)
                },
                site(None, 0.5),
            ],
        };
        (net, units)
    }

    /// Small inverses of every block-path size: `a a⁻¹ = I` for positive-definite blocks, and
    /// a singular block gives finite numbers (its direction dropped), not infinities.
    #[test]
    fn small_inverses_invert_and_survive_a_singular_block() {
        for q in 1..=BLOCK_UP_TO + 1 {
            // B Bᵀ + I with a deterministic B.
            let b: Vec<f64> = (0..q * q)
                .map(|i| ((i * 37) % 11) as f64 / 5.0 - 1.0)
                .collect();
            let a: Vec<f64> = (0..q * q)
                .map(|ij| {
                    let (i, j) = (ij / q, ij % q);
                    (0..q).map(|k| b[i * q + k] * b[j * q + k]).sum::<f64>()
                        + if i == j { 1.0 } else { 0.0 }
                })
                .collect();
            let mut inv = vec![0.0; q * q];
            small_inverse(&a, q, &mut inv);
            for i in 0..q {
                for j in 0..q {
                    let p: f64 = (0..q).map(|k| a[i * q + k] * inv[k * q + j]).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((p - want).abs() < 1e-10, "q {q}, ({i}, {j}): {p}");
                }
            }
            let singular = vec![1.0; q * q];
            small_inverse(&singular, q, &mut inv);
            assert!(inv.iter().all(|x| x.is_finite()), "q {q}: {inv:?}");
        }
    }

    /// The structured elimination solves the normal equations: checked against a dense
    /// `A Θ Aᵀ + δI` assembled column by column from the model's own products.
    #[test]
    fn the_nested_elimination_solves_the_normal_equations() {
        let (net, units) = small();
        let (m, _, _) = model(&net, &units).unwrap();
        let theta: Vec<f64> = (0..m.n)
            .map(|j| 0.1 + ((j * 7919) % 97) as f64 / 13.0)
            .collect();
        // Dense M = A Θ Aᵀ.
        let mut dense = vec![0.0; m.m * m.m];
        let mut col = vec![0.0; m.m];
        let mut unit = vec![0.0; m.n];
        for j in 0..m.n {
            unit.iter_mut().for_each(|v| *v = 0.0);
            unit[j] = 1.0;
            m.mul(&unit, &mut col);
            for a in 0..m.m {
                for b in 0..m.m {
                    dense[a * m.m + b] += theta[j] * col[a] * col[b];
                }
            }
        }
        let r: Vec<f64> = (0..m.m).map(|i| ((i * 31) % 17) as f64 - 8.0).collect();
        // The products with the units shared among threads: the same, but for rounding (the
        // parents' sums add up in another order).
        let x: Vec<f64> = (0..m.n).map(|j| ((j * 13) % 7) as f64 - 3.0).collect();
        let (mut ax, mut aty) = (vec![0.0; m.m], vec![0.0; m.n]);
        m.mul(&x, &mut ax);
        m.mul_t(&r, &mut aty);
        for threads in [2, 3, 64] {
            let (mut shared, mut shared_t) = (vec![1.0; m.m], vec![1.0; m.n]);
            m.mul_on(&x, &mut shared, threads);
            m.mul_t_on(&r, &mut shared_t, threads);
            for (a, b) in shared.iter().zip(&ax).chain(shared_t.iter().zip(&aty)) {
                assert!((a - b).abs() < 1e-9, "{threads} threads: {a} vs {b}");
            }
        }
        // On one thread and with the feeders shared among threads.
        for (threads, block_up_to) in [(1, 0), (2, 0), (3, 0), (1, BLOCK_UP_TO), (2, 1)] {
            let normal = Normal::factor_on(&m, &theta, threads, block_up_to);
            if block_up_to == 0 {
                assert!(normal.groups().iter().any(|g| g.len() == GROUP));
            }
            let mut y = r.clone();
            normal.solve(&m, &mut y);
            // Sharing the feeders among threads changes nothing (their parts are added in
            // order).
            let mut shared = r.clone();
            normal.solve_sharing(&m, &mut shared, 1);
            assert_eq!(shared, y);
            for a in 0..m.m {
                let back: f64 =
                    (0..m.m).map(|b| dense[a * m.m + b] * y[b]).sum::<f64>() + DELTA * y[a];
                assert!(
                    (back - r[a]).abs() < 1e-7 * (1.0 + r[a].abs()),
                    "{threads} threads, block path up to {block_up_to} units, row {a}: {back} vs {}",
                    r[a]
                );
            }
        }
    }

    /// The same optimum as the LP through good_lp and Clarabel, with the same marginal
    /// value of energy and within every bound.
    #[test]
    fn it_finds_the_optimum_of_the_good_lp_model() {
        let (net, units) = small();
        let ours = solve(&net, &units).unwrap();
        let reference = super::super::lp::solve(&net, &units, &super::super::lp::Clarabel).unwrap();
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
