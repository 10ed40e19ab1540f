//! The normal equations `A Θ Aᵀ + δI` of each Newton step, factored and solved by nested
//! elimination along the network ([`Normal`]):
//! - each unit's tridiagonal block (`LDLᵀ`, [`Tri`]) eliminated into its parent in `O(T²)`,
//!   solved [`GROUP`] side by side;
//! - each feeder's dense `T × T` block by Cholesky into the root or, for a feeder with at most
//!   [`BLOCK_UP_TO`] units, the units and the feeder together as a block-tridiagonal system by
//!   interval ([`FeederFactor::Block`]), its small blocks inverted by code unrolled for each
//!   size;
//! - the root's peak rows by Sherman–Morrison ([`Peak`]), leaving one dense `T × T` system;
//!
//! the feeders shared among the cores in the factorisation and the solves. Also the dense
//! kernels they run on (Cholesky, its solves, the dot product).

use super::model::{Model, UnitIx};
use crate::{map_shared, on_threads};

/// Dual regularisation added to the normal equations' diagonal.
const DELTA: f64 = 1e-12;

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
pub(super) struct Normal {
    units: Vec<Tri>,
    /// Per feeder, its factor.
    feeders: Vec<FeederFactor>,
    /// Root balance rows once everything else is eliminated: Cholesky factor (`T × T`).
    root: Vec<f64>,
    peak: Peak,
}

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

/// Eliminates unit `u`'s tridiagonal block into its parent's dense upper triangle
/// (`parent`, `T × T`): `parent −= G B⁻¹ G`, and adds its variables to the parent's diagonal.
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
    pub(super) fn factor(m: &Model, theta: &[f64]) -> Self {
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
    pub(super) fn solve(&self, m: &Model, r: &mut [f64]) {
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

#[cfg(test)]
mod tests {
    use super::super::tests::small;
    use super::*;

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
        let (m, _, _) = Model::build(&net, &units).unwrap();
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
}
