//! Planning: the dispatch problem, its LP, and the monolithic and hierarchical solves.
//!
//! - [`problem`]: the `problem.json` contract and its validation.
//! - [`network`]: the data of the LP over generic storage units on a network (units, sites,
//!   feeders, root, prices; the answer), shared by its two solvers.
//! - [`lp`]: the LP over generic storage units, with the solver behind a trait.
//! - [`ipm`]: the structured interior point, the LP's fast solver for the hierarchical mode's
//!   networks.
//! - [`generate`]: heterogeneous fleets from a seed (benchmarks, property tests).
//! - [`hierarchy`]: virtual batteries per feeder whose disaggregation is feasible by
//!   construction, and the top-down split.
//!
//! Both modes end the same way: per-battery schedules, checked against every battery's limits
//! by [`verify`] and priced by [`evaluate`] with the same formula, so that their objectives
//! compare like for like.

pub mod generate;
pub mod hierarchy;
pub mod ipm;
pub mod lp;
pub mod network;
pub mod problem;

use std::collections::BTreeMap;

use serde::Serialize;

use lp::{LpSolver, SolveError};
use network::{Attach, NetSite, Network, Unit};
use problem::{Battery, DispatchProblem, ProblemError};

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The problem is malformed.
    #[error("invalid problem: {0}")]
    Problem(#[from] ProblemError),
    /// The solver failed.
    #[error(transparent)]
    Solve(#[from] SolveError),
    /// A schedule broke a battery's limits: a bug, never sent.
    #[error("plan violates battery limits: {0:?}")]
    Infeasible(Vec<Violation>),
}

/// One battery's schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// Grid-side charge per interval, kW.
    pub charge_kw: Vec<f64>,
    /// Grid-side discharge per interval, kW.
    pub discharge_kw: Vec<f64>,
    /// State of charge at the end of each interval, fraction.
    pub soc: Vec<f64>,
}

/// Which soft limit a [`SlackUse`] exceeds, with the id of its feeder, site or battery.
/// Displayed and serialized as its name: `root import`, `feeder f1 export`, `site s7 import`,
/// `battery b3 terminal` (the `limit` of `plan.json`, docs/optimiser.md).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SlackKind {
    /// The root's import limit.
    RootImport,
    /// The root's export limit.
    RootExport,
    /// A feeder's import limit (its id).
    FeederImport(String),
    /// A feeder's export limit (its id).
    FeederExport(String),
    /// A site's import limit (its id).
    SiteImport(String),
    /// A site's export limit (its id).
    SiteExport(String),
    /// A battery's terminal state-of-charge target (its id).
    Terminal(String),
}

impl SlackKind {
    /// Whether its name starts with `prefix` (`feeder`, `site s7`, …): for callers that
    /// matched on the name when it was a string; matching on the variant says more.
    #[must_use]
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.to_string().starts_with(prefix)
    }
}

impl std::fmt::Display for SlackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RootImport => f.write_str("root import"),
            Self::RootExport => f.write_str("root export"),
            Self::FeederImport(id) => write!(f, "feeder {id} import"),
            Self::FeederExport(id) => write!(f, "feeder {id} export"),
            Self::SiteImport(id) => write!(f, "site {id} import"),
            Self::SiteExport(id) => write!(f, "site {id} export"),
            Self::Terminal(id) => write!(f, "battery {id} terminal"),
        }
    }
}

impl Serialize for SlackKind {
    /// As its name (a string), as `plan.json` and the HTTP API have it.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A limit that the plan's flows exceed (a soft limit, priced).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackUse {
    /// Which limit (serialized as its name: `root import`, `feeder f1 export`, …).
    pub limit: SlackKind,
    /// Interval.
    pub step: usize,
    /// By how much: kW for flow limits, kWh for terminal targets.
    pub amount: f64,
}

/// How a plan was made; serialized and displayed as `monolithic` or `hierarchical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanMode {
    /// One LP with every battery ([`monolithic`]).
    Monolithic,
    /// Virtual batteries per feeder, top-down disaggregation ([`hierarchy::solve`]).
    Hierarchical,
}

impl PlanMode {
    /// Its name: `monolithic` or `hierarchical`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Monolithic => "monolithic",
            Self::Hierarchical => "hierarchical",
        }
    }
}

impl std::fmt::Display for PlanMode {
    /// Its name, padded as the format asks (`{:<12}`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A plan: schedules and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Monolithic or hierarchical.
    pub mode: PlanMode,
    /// LP solver.
    pub solver: &'static str,
    /// Total: energy + peak + wear + penalties, €.
    pub objective_eur: f64,
    /// Energy bought minus energy sold, €.
    pub energy_cost_eur: f64,
    /// Peak charge, €.
    pub peak_charge_eur: f64,
    /// Battery wear, €.
    pub wear_cost_eur: f64,
    /// Priced slack (limits and terminal targets missed), €.
    pub penalty_eur: f64,
    /// Highest root import, kW.
    pub peak_import_kw: f64,
    /// Wall time of the solve, s (measured by the caller).
    pub solve_seconds: f64,
    /// Root import per interval, kW.
    pub root_import_kw: Vec<f64>,
    /// Root export per interval, kW.
    pub root_export_kw: Vec<f64>,
    /// Marginal value of energy at the root per interval, €/kWh, where the solver gives duals.
    pub marginal_price_eur_per_kwh: Option<Vec<f64>>,
    /// Soft limits the plan exceeds.
    pub slacks: Vec<SlackUse>,
    /// Per battery id.
    pub batteries: BTreeMap<String, Schedule>,
}

/// A broken battery limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// Battery id.
    pub battery: String,
    /// Interval.
    pub step: usize,
    /// What: `charge`, `discharge`, `soc`.
    pub what: &'static str,
    /// The value.
    pub value: f64,
}

/// State of charge after each interval of `b` under a schedule.
#[must_use]
pub fn soc_path(b: &Battery, charge: &[f64], discharge: &[f64], dt: f64) -> Vec<f64> {
    let mut e = b.soc_initial * b.capacity_kwh;
    charge
        .iter()
        .zip(discharge)
        .map(|(c, d)| {
            e += (b.charge_efficiency * c - d / b.discharge_efficiency) * dt;
            e / b.capacity_kwh
        })
        .collect()
}

/// The kW a site's peak charge is billed on, given its peak over the horizon (≥ 0), its peak so
/// far in the billing period, if known, and the share billed on the period's peak: all of it on
/// the horizon's peak without a peak so far, else `share` on `max(peak so far, peak)` and the
/// rest on the horizon's peak.
#[must_use]
pub fn site_peak_factor(peak: f64, peak_so_far: Option<f64>, share: f64) -> f64 {
    let peak = peak.max(0.0);
    match peak_so_far {
        None => peak,
        Some(floor) => {
            let share = share.clamp(0.0, 1.0);
            share * peak.max(floor.max(0.0)) + (1.0 - share) * peak
        }
    }
}

/// Every broken battery limit of `schedules` (power ratings, state-of-charge bounds). Energy
/// balance holds by construction: the state of charge is recomputed from the powers.
#[must_use]
pub fn verify(p: &DispatchProblem, schedules: &BTreeMap<String, Schedule>) -> Vec<Violation> {
    verify_found(p, &found(p, schedules))
}

/// Each battery's schedule, if any, in the order of [`DispatchProblem::batteries`] (one
/// lookup per battery for the checks and prices that follow).
fn found<'a>(
    p: &DispatchProblem,
    schedules: &'a BTreeMap<String, Schedule>,
) -> Vec<Option<&'a Schedule>> {
    let batteries: Vec<&Battery> = p.batteries().map(|(_, b)| b).collect();
    map_shared(&batteries, BATTERIES_SHARED_FROM, |b| schedules.get(&b.id))
}

/// Batteries from which their checks are shared among the cores.
const BATTERIES_SHARED_FROM: usize = 10_000;

/// [`verify`] with the schedules [`found`].
fn verify_found(p: &DispatchProblem, found: &[Option<&Schedule>]) -> Vec<Violation> {
    let pairs: Vec<(&Battery, Option<&Schedule>)> = p
        .batteries()
        .map(|(_, b)| b)
        .zip(found.iter().copied())
        .collect();
    let runs: Vec<_> = pairs.chunks(BATTERIES_SHARED_FROM / 2).collect();
    map_shared(&runs, 2, |run| {
        let mut out = Vec::new();
        for &(b, s) in *run {
            verify_one(b, s, p.horizon_steps, p.dt_hours(), &mut out);
        }
        out
    })
    .concat()
}

/// The broken limits of battery `b` under schedule `s` (see [`verify`]) into `out`.
fn verify_one(b: &Battery, s: Option<&Schedule>, t_len: usize, dt: f64, out: &mut Vec<Violation>) {
    let tol = 1e-6;
    let Some(s) = s else {
        out.push(Violation {
            battery: b.id.clone(),
            step: 0,
            what: "missing",
            value: f64::NAN,
        });
        return;
    };
    if s.charge_kw.len() != t_len || s.discharge_kw.len() != t_len {
        out.push(Violation {
            battery: b.id.clone(),
            step: 0,
            what: "length",
            value: s.charge_kw.len().min(s.discharge_kw.len()) as f64,
        });
        return;
    }
    let soc = soc_path(b, &s.charge_kw, &s.discharge_kw, dt);
    let slack = tol / b.capacity_kwh;
    for (t, ((c, d), soc)) in s.charge_kw.iter().zip(&s.discharge_kw).zip(soc).enumerate() {
        let mut bad = |what, value| {
            out.push(Violation {
                battery: b.id.clone(),
                step: t,
                what,
                value,
            });
        };
        if !(*c >= -tol && *c <= b.max_charge_kw() + tol) {
            bad("charge", *c);
        }
        if !(*d >= -tol && *d <= b.max_discharge_kw() + tol) {
            bad("discharge", *d);
        }
        if !(soc >= b.soc_min - slack && soc <= b.soc_max + slack) {
            bad("soc", soc);
        }
    }
}

/// Flows of a set of schedules, kW per interval (positive: importing).
#[derive(Debug, Clone, PartialEq)]
pub struct Flows {
    /// Per site (in `p.sites` order): net load plus its batteries' charge minus discharge.
    pub site: Vec<Vec<f64>>,
    /// Per feeder (in `p.feeders` order): the sum of its sites.
    pub feeder: Vec<Vec<f64>>,
    /// At the root: the sum of every site.
    pub root: Vec<f64>,
}

/// The flows of `schedules` on `p` (a battery without a schedule counts as idle).
#[must_use]
pub fn flows(p: &DispatchProblem, schedules: &BTreeMap<String, Schedule>) -> Flows {
    flows_found(p, &found(p, schedules))
}

/// [`flows`] with the schedules [`found`].
fn flows_found(p: &DispatchProblem, found: &[Option<&Schedule>]) -> Flows {
    let t_len = p.horizon_steps;
    let mut out = Flows {
        site: Vec::with_capacity(p.sites.len()),
        feeder: vec![vec![0.0; t_len]; p.feeders.len()],
        root: vec![0.0; t_len],
    };
    // Each site with its run of `found` (in site order); the sites' flows on all cores.
    let mut runs = Vec::with_capacity(p.sites.len());
    let mut at = 0;
    for site in &p.sites {
        let end = (at + site.batteries.len()).min(found.len());
        runs.push((site, &found[at..end]));
        at = end;
    }
    let flows = map_shared(&runs, BATTERIES_SHARED_FROM / 2, |(site, found)| {
        let mut flow = site.net_load_kw.clone();
        for sch in found.iter().flatten() {
            for ((f, c), d) in flow.iter_mut().zip(&sch.charge_kw).zip(&sch.discharge_kw) {
                *f += c - d;
            }
        }
        flow
    });
    for (flow, feeder) in flows.into_iter().zip(p.site_feeders()) {
        let sink = feeder.map_or(&mut out.root, |f| &mut out.feeder[f]);
        for (a, b) in sink.iter_mut().zip(&flow) {
            *a += b;
        }
        out.site.push(flow);
    }
    for flow in &out.feeder {
        for (a, b) in out.root.iter_mut().zip(flow) {
            *a += b;
        }
    }
    out
}

/// Prices `schedules` on `p`: flows, energy, peak, wear and every exceeded soft limit.
#[must_use]
pub fn evaluate(
    p: &DispatchProblem,
    schedules: BTreeMap<String, Schedule>,
    mode: PlanMode,
    solver: &'static str,
) -> Plan {
    let plan = price(p, &found(p, &schedules), mode, solver);
    Plan {
        batteries: schedules,
        ..plan
    }
}

/// [`evaluate`] with the schedules [`found`], without them in the plan.
fn price(
    p: &DispatchProblem,
    found: &[Option<&Schedule>],
    mode: PlanMode,
    solver: &'static str,
) -> Plan {
    let t_len = p.horizon_steps;
    let dt = p.dt_hours();
    let Flows { site, feeder, root } = flows_found(p, found);
    let mut slacks = Vec::new();
    let throughput: f64 = map_shared(found, BATTERIES_SHARED_FROM, |sch| {
        sch.map_or(0.0, |s| {
            s.charge_kw.iter().chain(&s.discharge_kw).sum::<f64>()
        })
    })
    .into_iter()
    .sum();
    let wear = p.wear_cost_eur_per_kwh * dt * throughput;
    for ((_, b), sch) in p.batteries().zip(found) {
        let Some(sch) = sch else {
            continue;
        };
        if let (Some(target), Some(last)) = (b.soc_final, sch.soc.last()) {
            let miss = (last - target).abs() * b.capacity_kwh;
            if miss > 1e-6 {
                slacks.push(SlackUse {
                    limit: SlackKind::Terminal(b.id.clone()),
                    step: t_len - 1,
                    amount: miss,
                });
            }
        }
    }
    let mut site_peaks = 0.0;
    for (flow, s) in site.iter().zip(&p.sites) {
        let peak = flow.iter().copied().fold(0.0, f64::max);
        site_peaks += site_peak_factor(
            peak,
            s.peak_so_far_kw,
            p.site_peak_period_share.unwrap_or(1.0),
        );
        limits(
            &mut slacks,
            Node::Site(&s.id),
            flow,
            s.import_limit_kw,
            s.export_limit_kw,
        );
    }
    for (flow, f) in feeder.iter().zip(&p.feeders) {
        limits(
            &mut slacks,
            Node::Feeder(&f.id),
            flow,
            f.import_limit_kw,
            f.export_limit_kw,
        );
    }
    limits(
        &mut slacks,
        Node::Root,
        &root,
        p.root_import_limit_kw,
        p.root_export_limit_kw,
    );
    let import: Vec<f64> = root.iter().map(|x| x.max(0.0)).collect();
    let export: Vec<f64> = root.iter().map(|x| (-x).max(0.0)).collect();
    let energy: f64 = (0..t_len)
        .map(|t| {
            dt * (p.import_price_eur_per_kwh[t] * import[t]
                - p.export_price_eur_per_kwh[t] * export[t])
        })
        .sum();
    let peak = import.iter().copied().fold(0.0, f64::max);
    let penalty = 0.0
        + slacks
            .iter()
            .map(|s| {
                if matches!(s.limit, SlackKind::Terminal(_)) {
                    p.terminal_price() * s.amount
                } else {
                    p.slack_price() * s.amount * dt
                }
            })
            .sum::<f64>();
    let peak_cost = p.peak_charge_eur_per_kw * peak + p.site_peak_charge_eur_per_kw * site_peaks;
    Plan {
        mode,
        solver,
        objective_eur: energy + peak_cost + wear + penalty,
        energy_cost_eur: energy,
        peak_charge_eur: peak_cost,
        wear_cost_eur: wear,
        penalty_eur: penalty,
        peak_import_kw: peak,
        solve_seconds: 0.0,
        root_import_kw: import,
        root_export_kw: export,
        marginal_price_eur_per_kwh: None,
        slacks,
        batteries: BTreeMap::new(),
    }
}

/// Where a flow limit sits (for [`limits`]).
#[derive(Debug, Clone, Copy)]
enum Node<'a> {
    Root,
    Feeder(&'a str),
    Site(&'a str),
}

impl Node<'_> {
    fn import(self) -> SlackKind {
        match self {
            Self::Root => SlackKind::RootImport,
            Self::Feeder(id) => SlackKind::FeederImport(id.to_owned()),
            Self::Site(id) => SlackKind::SiteImport(id.to_owned()),
        }
    }

    fn export(self) -> SlackKind {
        match self {
            Self::Root => SlackKind::RootExport,
            Self::Feeder(id) => SlackKind::FeederExport(id.to_owned()),
            Self::Site(id) => SlackKind::SiteExport(id.to_owned()),
        }
    }
}

/// The slacks a `flow` at `node` needs against its import and export limits, into `out`.
fn limits(out: &mut Vec<SlackUse>, node: Node, flow: &[f64], imp: Option<f64>, exp: Option<f64>) {
    for (t, f) in flow.iter().enumerate() {
        if let Some(lim) = imp
            && *f > lim + 1e-6
        {
            out.push(SlackUse {
                limit: node.import(),
                step: t,
                amount: f - lim,
            });
        }
        if let Some(lim) = exp
            && -*f > lim + 1e-6
        {
            out.push(SlackUse {
                limit: node.export(),
                step: t,
                amount: -f - lim,
            });
        }
    }
}

/// The network of `p` (sites with their loads and limits, feeders, root, prices).
fn network_of(p: &DispatchProblem) -> Network {
    let feeders = p.site_feeders();
    Network {
        steps: p.horizon_steps,
        dt: p.dt_hours(),
        import_price: p.import_price_eur_per_kwh.clone(),
        export_price: p.export_price_eur_per_kwh.clone(),
        peak_charge: p.peak_charge_eur_per_kw,
        site_peak_charge: p.site_peak_charge_eur_per_kw,
        site_peak_period_share: p.site_peak_period_share.unwrap_or(1.0),
        wear: p.wear_cost_eur_per_kwh,
        slack_price: p.slack_price(),
        terminal_price: p.terminal_price(),
        root_limits: (p.root_import_limit_kw, p.root_export_limit_kw),
        feeders: p
            .feeders
            .iter()
            .map(|f| (f.import_limit_kw, f.export_limit_kw))
            .collect(),
        sites: p
            .sites
            .iter()
            .zip(feeders)
            .map(|(s, feeder)| NetSite {
                feeder,
                net_load: s.net_load_kw.clone(),
                import_limit: s.import_limit_kw,
                export_limit: s.export_limit_kw,
                peak_so_far: s.peak_so_far_kw,
            })
            .collect(),
    }
}

/// A battery as an LP unit at its site.
fn battery_unit(b: &Battery, site: usize, t_len: usize) -> Unit {
    let (emin, emax) = b.energy_bounds();
    Unit {
        attach: Attach::Site(site),
        alpha: b.charge_efficiency,
        beta: 1.0 / b.discharge_efficiency,
        cmax: vec![b.max_charge_kw(); t_len],
        dmax: vec![b.max_discharge_kw(); t_len],
        emin: vec![emin; t_len],
        emax: vec![emax; t_len],
        e0: b.soc_initial * b.capacity_kwh,
        target: b.soc_final.map(|f| f * b.capacity_kwh),
        offset: vec![0.0; t_len],
        target_weight: 1.0,
    }
}

/// A schedule from LP powers, clamped to the battery's ratings (the solver's tolerances) and
/// with its state of charge recomputed.
fn schedule(b: &Battery, charge: &[f64], discharge: &[f64], dt: f64) -> Schedule {
    repaired(b, charge.to_vec(), discharge.to_vec(), dt)
}

/// The schedule of `b` from grid-side powers, repaired against the solver's tolerances: each
/// power clamped to its rating, then, step by step, charge (discharge) trimmed where the
/// stored energy would pass `soc_max` (`soc_min`), so that every bound holds exactly.
pub(crate) fn repaired(b: &Battery, mut c: Vec<f64>, mut d: Vec<f64>, dt: f64) -> Schedule {
    let (emin, emax) = b.energy_bounds();
    let mut e = b.soc_initial * b.capacity_kwh;
    let mut soc = Vec::with_capacity(c.len());
    // Loop-invariant divisors as factors (this runs for every battery and interval).
    let (max_c, max_d) = (b.max_charge_kw(), b.max_discharge_kw());
    let (eta_c, per_d) = (b.charge_efficiency, 1.0 / b.discharge_efficiency);
    let per_capacity = 1.0 / b.capacity_kwh;
    for (c, d) in c.iter_mut().zip(d.iter_mut()) {
        *c = c.clamp(0.0, max_c);
        *d = d.clamp(0.0, max_d);
        let next = e + (eta_c * *c - *d * per_d) * dt;
        if next > emax {
            // Charge less (the discharge stays).
            let room = (emax - e) / dt + *d * per_d;
            *c = (room / eta_c).clamp(0.0, *c);
        } else if next < emin {
            let room = (e - emin) / dt + eta_c * *c;
            *d = (room * b.discharge_efficiency).clamp(0.0, *d);
        }
        e = (e + (eta_c * *c - *d * per_d) * dt).clamp(emin, emax);
        soc.push(e * per_capacity);
    }
    Schedule {
        charge_kw: c,
        discharge_kw: d,
        soc,
    }
}

/// Solves `p` as one LP with every battery in it.
pub fn monolithic(p: &DispatchProblem, solver: &dyn LpSolver) -> Result<Plan, PlanError> {
    p.validate()?;
    let t_len = p.horizon_steps;
    let batteries: Vec<(usize, &Battery)> = p.batteries().collect();
    let units: Vec<Unit> = batteries
        .iter()
        .map(|(s, b)| battery_unit(b, *s, t_len))
        .collect();
    let lp = lp::solve(&network_of(p), &units, solver)?;
    let schedules = batteries
        .iter()
        .enumerate()
        .map(|(u, (_, b))| Some(schedule(b, &lp.charge[u], &lp.discharge[u], p.dt_hours())))
        .collect();
    finish(
        p,
        schedules,
        PlanMode::Monolithic,
        lp.solver,
        lp.marginal_price,
    )
}

/// `f` of every item, in order; the items are shared in contiguous runs among the cores when
/// there are at least `from` of them (below that a thread costs more than it saves).
pub(crate) fn map_shared<T: Sync, R: Send>(
    items: &[T],
    from: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = if items.len() >= from.max(2) {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    } else {
        1
    };
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let run = items.len().div_ceil(threads);
    let runs: Vec<&[T]> = items.chunks(run).collect();
    on_threads(runs, |c| c.iter().map(&f).collect::<Vec<_>>())
        .into_iter()
        .flatten()
        .collect()
}

/// `run` on each job, the first on this thread and the others on threads of their own; the
/// results in order.
pub(crate) fn on_threads<J: Send, R: Send>(jobs: Vec<J>, run: impl Fn(J) -> R + Sync) -> Vec<R> {
    let mut jobs = jobs.into_iter();
    let Some(first) = jobs.next() else {
        return Vec::new();
    };
    let run = &run;
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.map(|j| scope.spawn(move || run(j))).collect();
        let mut out = vec![run(first)];
        out.extend(handles.into_iter().map(|h| match h.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }));
        out
    })
}

/// Verifies and prices the schedules, given in the order of [`DispatchProblem::batteries`]
/// (no lookup by id), and keys them by battery id.
fn finish(
    p: &DispatchProblem,
    schedules: Vec<Option<Schedule>>,
    mode: PlanMode,
    solver: &'static str,
    marginal: Option<Vec<f64>>,
) -> Result<Plan, PlanError> {
    let found: Vec<Option<&Schedule>> = schedules.iter().map(Option::as_ref).collect();
    let violations = verify_found(p, &found);
    if !violations.is_empty() {
        return Err(PlanError::Infeasible(violations));
    }
    let plan = price(p, &found, mode, solver);
    let batteries = p
        .batteries()
        .zip(schedules)
        .filter_map(|((_, b), s)| Some((b.id.clone(), s?)))
        .collect();
    Ok(Plan {
        marginal_price_eur_per_kwh: marginal,
        batteries,
        ..plan
    })
}

#[cfg(test)]
mod tests {
    use super::lp::Clarabel;
    use super::problem::{Feeder, Site};
    use super::*;

    /// Slack kinds and modes serialize (and display) as the names `plan.json` and the HTTP
    /// API give them.
    #[test]
    fn slack_kinds_and_modes_serialize_as_their_names() {
        let cases = [
            (SlackKind::RootImport, "root import"),
            (SlackKind::RootExport, "root export"),
            (SlackKind::FeederImport("f1".into()), "feeder f1 import"),
            (SlackKind::FeederExport("f 2".into()), "feeder f 2 export"),
            (SlackKind::SiteImport("s7".into()), "site s7 import"),
            (SlackKind::SiteExport("s8".into()), "site s8 export"),
            (SlackKind::Terminal("b3".into()), "battery b3 terminal"),
        ];
        for (kind, name) in cases {
            assert_eq!(kind.to_string(), name);
            assert!(kind.starts_with(&name[..name.len() - 3]));
            let json = serde_json::to_value(SlackUse {
                limit: kind,
                step: 3,
                amount: 1.5,
            })
            .unwrap();
            assert_eq!(
                json,
                serde_json::json!({ "limit": name, "step": 3, "amount": 1.5 })
            );
        }
        for (mode, name) in [
            (PlanMode::Monolithic, "monolithic"),
            (PlanMode::Hierarchical, "hierarchical"),
        ] {
            assert_eq!(serde_json::to_value(mode).unwrap(), name);
            assert_eq!(format!("{mode:<14}|"), format!("{name:<14}|"));
        }
    }

    /// Shared among threads or not, every item is mapped once and in order.
    #[test]
    fn shared_maps_keep_the_order() {
        let items: Vec<u64> = (0..1001).collect();
        for from in [1, 1000, 2000] {
            let out = map_shared(&items, from, |x| x * 3);
            assert_eq!(
                out,
                items.iter().map(|x| x * 3).collect::<Vec<_>>(),
                "from {from}"
            );
        }
        assert!(map_shared(&[] as &[u64], 1, |x| *x).is_empty());
    }

    /// A billing period's peak: below the peak so far only the horizon's share of the site
    /// peak charge applies, so a plan may import more there; the LP's objective and `evaluate`
    /// agree, and a peak so far changes nothing with a zero period share.
    #[test]
    fn import_up_to_the_peak_so_far_costs_only_the_horizon_share() {
        // One site, flat 1 kW load, a 10 kWh battery that must end full: it charges from the
        // grid, raising the site's import above 1 kW.
        let mut p = problem(vec![1.0; 8], vec![0.2; 8]);
        p.site_peak_charge_eur_per_kw = 10.0;
        p.sites[0].batteries[0].soc_initial = 0.2;
        p.sites[0].batteries[0].soc_final = Some(0.9);
        let base = monolithic(&p, &Clarabel).unwrap();
        p.sites[0].peak_so_far_kw = Some(5.0);
        p.site_peak_period_share = Some(0.0);
        let no_share = monolithic(&p, &Clarabel).unwrap();
        assert!((no_share.objective_eur - base.objective_eur).abs() < 1e-6);
        p.site_peak_period_share = Some(1.0);
        let period = monolithic(&p, &Clarabel).unwrap();
        // All of the charge on a 5 kW period peak: 50 € whatever the plan does below it.
        assert!(
            period.peak_charge_eur >= 50.0 - 1e-6,
            "{}",
            period.peak_charge_eur
        );
        // Without the horizon's charge the plan charges faster (a higher site peak).
        let peak = |pl: &Plan| {
            (0..8)
                .map(|t| {
                    1.0 + pl
                        .batteries
                        .values()
                        .map(|s| s.charge_kw[t] - s.discharge_kw[t])
                        .sum::<f64>()
                })
                .fold(0.0, f64::max)
        };
        assert!(
            peak(&period) > peak(&base) + 0.1,
            "{} vs {}",
            peak(&period),
            peak(&base)
        );
        assert!(peak(&period) <= 5.0 + 1e-6);
        // Half and half: the objective is the same formula as the LP's.
        p.site_peak_period_share = Some(0.5);
        let half = monolithic(&p, &Clarabel).unwrap();
        let units: Vec<Unit> = p
            .batteries()
            .map(|(s, b)| battery_unit(b, s, p.horizon_steps))
            .collect();
        let lp = lp::solve(&network_of(&p), &units, &Clarabel).unwrap();
        assert!(
            (half.objective_eur - lp.objective).abs() < 1e-4,
            "{} vs {}",
            half.objective_eur,
            lp.objective
        );
        p.site_peak_period_share = Some(1.5);
        assert!(p.validate().is_err());
    }
    use proptest::prelude::*;

    fn battery(id: &str) -> Battery {
        Battery {
            id: id.into(),
            capacity_kwh: 10.0,
            max_power_kw: 5.0,
            charge_efficiency: 0.95,
            discharge_efficiency: 0.95,
            soc_min: 0.1,
            soc_max: 0.9,
            soc_initial: 0.5,
            soc_final: Some(0.5),
        }
    }

    fn problem(net_load: Vec<f64>, prices: Vec<f64>) -> DispatchProblem {
        DispatchProblem {
            step_minutes: 60.0,
            horizon_steps: net_load.len(),
            export_price_eur_per_kwh: prices.iter().map(|p| p - 0.1).collect(),
            import_price_eur_per_kwh: prices,
            peak_charge_eur_per_kw: 0.0,
            site_peak_charge_eur_per_kw: 0.0,
            site_peak_period_share: None,
            wear_cost_eur_per_kwh: 0.0,
            slack_price_eur_per_kwh: None,
            terminal_price_eur_per_kwh: None,
            root_import_limit_kw: None,
            root_export_limit_kw: None,
            feeders: vec![],
            sites: vec![Site {
                id: "s".into(),
                feeder: None,
                net_load_kw: net_load,
                import_limit_kw: None,
                export_limit_kw: None,
                peak_so_far_kw: None,
                batteries: vec![battery("b")],
            }],
        }
    }

    #[test]
    fn validation_names_the_field() {
        let mut p = problem(vec![1.0; 4], vec![0.2; 4]);
        p.sites[0].batteries[0].soc_min = 0.95;
        let e = p.validate().unwrap_err();
        assert_eq!(e.field, "sites[0].batteries[0].soc_min");
        let mut p = problem(vec![1.0; 4], vec![0.2; 4]);
        p.sites[0].net_load_kw.pop();
        assert_eq!(p.validate().unwrap_err().field, "sites[0].net_load_kw");
        let mut p = problem(vec![1.0; 4], vec![0.2; 4]);
        p.sites[0].feeder = Some("nowhere".into());
        assert_eq!(p.validate().unwrap_err().field, "sites[0].feeder");
        let mut p = problem(vec![1.0; 4], vec![0.2; 4]);
        p.export_price_eur_per_kwh[2] = 0.5;
        assert_eq!(
            p.validate().unwrap_err().field,
            "export_price_eur_per_kwh[2]"
        );
        let mut p = problem(vec![1.0; 4], vec![0.2; 4]);
        p.import_price_eur_per_kwh[1] = f64::NAN;
        assert_eq!(
            p.validate().unwrap_err().field,
            "import_price_eur_per_kwh[1]"
        );
    }

    #[test]
    fn it_buys_cheap_and_sells_dear_within_limits() {
        let p = problem(vec![2.0; 4], vec![0.1, 0.1, 0.5, 0.5]);
        let plan = monolithic(&p, &Clarabel).unwrap();
        let b = &plan.batteries["b"];
        assert!(b.charge_kw[0] > 1.0 && b.discharge_kw[3] > 1.0, "{b:?}");
        assert!(verify(&p, &plan.batteries).is_empty());
        assert!((b.soc[3] - 0.5).abs() < 1e-6, "terminal target met");
        // Marginal value of energy follows the price when nothing binds.
        let mp = plan.marginal_price_eur_per_kwh.unwrap();
        assert!(mp[0] < mp[3], "{mp:?}");
        // The objective is what the flows cost.
        let flows: f64 = (0..4)
            .map(|t| p.import_price_eur_per_kwh[t] * plan.root_import_kw[t])
            .sum();
        assert!((plan.objective_eur - flows).abs() < 1e-6);
    }

    #[test]
    fn an_impossible_limit_is_a_priced_slack_not_an_infeasible_plan() {
        let mut p = problem(vec![20.0; 4], vec![0.2; 4]);
        p.feeders = vec![Feeder {
            id: "f".into(),
            import_limit_kw: Some(10.0),
            export_limit_kw: None,
        }];
        p.sites[0].feeder = Some("f".into());
        for plan in [
            monolithic(&p, &Clarabel).unwrap(),
            hierarchy::solve(&p, &Clarabel).unwrap(),
        ] {
            assert!(plan.penalty_eur > 0.0);
            assert!(
                plan.slacks
                    .iter()
                    .all(|s| s.limit == SlackKind::FeederImport("f".into())),
                "{:?}",
                plan.slacks
            );
            assert!(verify(&p, &plan.batteries).is_empty());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Random heterogeneous fleets: every disaggregated schedule is within its battery's
        /// limits (its state of charge is recomputed from its powers: energy balance), the
        /// root flows are the sum of the schedules and the loads, and the hierarchical
        /// objective is never below the monolithic optimum.
        #[test]
        fn hierarchical_schedules_are_feasible_and_add_up(
            n in 1_usize..40,
            seed in any::<u64>(),
            (budget, min_classes) in prop::sample::select(vec![
                (1_usize, 36_usize), (6, 36), (12, 36), (600, 36), (600, 48), (600, 150),
            ]),
        ) {
            let p = generate::fleet(n, seed);
            let hier = hierarchy::solve_with(&p, &Clarabel, budget, min_classes).unwrap();
            prop_assert!(verify(&p, &hier.batteries).is_empty());
            for t in 0..p.horizon_steps {
                let mut total: f64 = p.sites.iter().map(|s| s.net_load_kw[t]).sum();
                for s in hier.batteries.values() {
                    total += s.charge_kw[t] - s.discharge_kw[t];
                }
                let root = hier.root_import_kw[t] - hier.root_export_kw[t];
                prop_assert!((total - root).abs() < 1e-6);
            }
            let mono = monolithic(&p, &Clarabel).unwrap();
            prop_assert!(hier.objective_eur >= mono.objective_eur - 1e-4 * mono.objective_eur.abs());
        }
    }
}
