//! The LP in the solver's form, `min cᵀx` s.t. `Ax = b`, `l ≤ x ≤ u`, built from the network
//! ([`Model::build`]): where each unit's, feeder's and the root's variables and rows are, the
//! costs, bounds and right-hand side, and the products with `A` and `Aᵀ` (the units shared
//! among threads).

use super::{IpmError, cut_mut};
use crate::network::{Attach, LpSlack, LpSlackKind, Network, Unit};
use crate::on_threads;

/// Where a unit's flow goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Parent {
    Feeder(usize),
    Root,
}

/// Indices of one unit's variables and rows.
#[derive(Debug, Clone)]
pub(super) struct UnitIx {
    pub(super) parent: Parent,
    /// First variable: `c` at `+t`, `d` at `+T+t`, `e` at `+2T+t`, then short and excess.
    pub(super) var: usize,
    /// First row: energy balance at `+t`, then the terminal row.
    pub(super) row: usize,
    pub(super) target: bool,
    /// Stored energy per kWh of charge and per kWh of discharge, times Δt, in the unit's
    /// energy variables.
    pub(super) a: f64,
    pub(super) b: f64,
    /// Stored energy per unit of the energy variables.
    pub(super) escale: f64,
}

impl UnitIx {
    /// Its rows: `T`, and the terminal row if it has a target.
    pub(super) fn rows(&self, t_len: usize) -> usize {
        t_len + usize::from(self.target)
    }

    /// Its variables: `c`, `d`, `e` per interval, and short and excess if it has a target.
    fn vars(&self, t_len: usize) -> usize {
        3 * t_len + 2 * usize::from(self.target)
    }
}

/// The LP in the solver's form: `min cᵀx` s.t. `Ax = b`, `l ≤ x ≤ u`.
pub(super) struct Model {
    /// Intervals.
    pub(super) t: usize,
    pub(super) units: Vec<UnitIx>,
    /// Per feeder: first variable (`g` at `+t`, import slack `+T+t`, export slack `+2T+t`)
    /// and first row.
    pub(super) feeders: Vec<(usize, usize)>,
    /// Root variables: import `+t`, import slack `+T+t`, export `+2T+t`, export slack
    /// `+3T+t`, peak gap `+4T+t`, peak `+5T`.
    pub(super) root_var: usize,
    pub(super) root_row: usize,
    peak_row: usize,
    /// Units per feeder and on the root (indices into `units`).
    pub(super) feeder_units: Vec<Vec<usize>>,
    pub(super) root_units: Vec<usize>,
    /// Variables.
    pub(super) n: usize,
    /// Rows.
    pub(super) m: usize,
    pub(super) c: Vec<f64>,
    pub(super) b: Vec<f64>,
    pub(super) lo: Vec<f64>,
    pub(super) hi: Vec<f64>,
    /// A hint for the starting point, moved inside the bounds.
    pub(super) start: Vec<f64>,
}

impl Model {
    /// Row `t` of a unit's parent: its feeder's balance or the root's.
    pub(super) fn parent_row(&self, p: Parent, t: usize) -> usize {
        match p {
            Parent::Feeder(f) => self.feeders[f].1 + t,
            Parent::Root => self.root_row + t,
        }
    }

    /// `out = A x`.
    #[cfg(test)]
    pub(super) fn mul(&self, x: &[f64], out: &mut [f64]) {
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
    pub(super) fn mul_on(&self, x: &[f64], out: &mut [f64], threads: usize) {
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
    pub(super) fn mul_t_on(&self, y: &[f64], out: &mut [f64], threads: usize) {
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

    /// Builds the model of `units` on `net`; also the constant objective of the sites (their
    /// peaks and limit slacks, which no unit can change) and its slacks.
    pub(super) fn build(
        net: &Network,
        units: &[Unit],
    ) -> Result<(Self, f64, Vec<LpSlack>), IpmError> {
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
                    * crate::site_peak_factor(peak, site.peak_so_far, net.site_peak_period_share);
            }
            for (t, &x) in site.net_load.iter().enumerate() {
                if let Some(lim) = site.import_limit
                    && x > lim
                {
                    constant += slack_cost * (x - lim);
                    slacks.push(LpSlack {
                        what: LpSlackKind::SiteImport(s),
                        step: t,
                        amount: x - lim,
                    });
                }
                if let Some(lim) = site.export_limit
                    && -x > lim
                {
                    constant += slack_cost * (-x - lim);
                    slacks.push(LpSlack {
                        what: LpSlackKind::SiteExport(s),
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::small;
    use super::*;

    /// The products with the units shared among threads: the same as on one thread, but for
    /// rounding (the parents' sums add up in another order).
    #[test]
    fn the_products_shared_among_threads_agree() {
        let (net, units) = small();
        let (m, _, _) = Model::build(&net, &units).unwrap();
        let r: Vec<f64> = (0..m.m).map(|i| ((i * 31) % 17) as f64 - 8.0).collect();
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
    }
}
