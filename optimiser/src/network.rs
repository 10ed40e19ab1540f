//! The network LP's data, shared by its two solvers (the good_lp model of `lp` and the
//! structured interior point of `ipm`): the storage [`Unit`]s and where they are attached, the
//! [`Network`] of sites, feeders and root with its prices and limits, and the answer,
//! [`LpPlan`], with the slacks it used ([`LpSlack`]).
//!
//! The formulation itself is described in `lp`.

/// Where a unit's flow goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Behind a site (index into [`Network::sites`]).
    Site(usize),
    /// Directly on a feeder (index into [`Network::feeders`]).
    Feeder(usize),
    /// Directly on the root.
    Root,
}

/// A storage unit of the LP.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Where it is.
    pub attach: Attach,
    /// Stored energy per kWh of grid-side charge.
    pub alpha: f64,
    /// Stored energy drawn per kWh of grid-side discharge.
    pub beta: f64,
    /// Grid-side charge limit per interval, kW.
    pub cmax: Vec<f64>,
    /// Grid-side discharge limit per interval, kW.
    pub dmax: Vec<f64>,
    /// Lowest stored energy after each interval.
    pub emin: Vec<f64>,
    /// Highest stored energy after each interval.
    pub emax: Vec<f64>,
    /// Stored energy at the start.
    pub e0: f64,
    /// Stored energy wanted at the end (soft), if any.
    pub target: Option<f64>,
    /// Fixed grid flow per interval, kW (positive: drawn).
    pub offset: Vec<f64>,
    /// Weight of the terminal slack (stored-energy units to kWh).
    pub target_weight: f64,
}

/// A site's flow limits and load.
#[derive(Debug, Clone, PartialEq)]
pub struct NetSite {
    /// Feeder index, if any.
    pub feeder: Option<usize>,
    /// Net load per interval, kW.
    pub net_load: Vec<f64>,
    /// Import limit, kW.
    pub import_limit: Option<f64>,
    /// Export limit, kW.
    pub export_limit: Option<f64>,
    /// The peak already billed, kW: the period share of the site peak charge applies above it.
    pub peak_so_far: Option<f64>,
}

/// The network the units sit on, with prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Intervals.
    pub steps: usize,
    /// Interval length, hours.
    pub dt: f64,
    /// Import price per interval, €/kWh.
    pub import_price: Vec<f64>,
    /// Export price per interval, €/kWh.
    pub export_price: Vec<f64>,
    /// Peak charge, €/kW.
    pub peak_charge: f64,
    /// Peak charge per site, €/kW.
    pub site_peak_charge: f64,
    /// Share of it billed above a site's peak so far (where given); the rest on the horizon's
    /// own peak.
    pub site_peak_period_share: f64,
    /// Wear cost, €/kWh of grid-side throughput.
    pub wear: f64,
    /// Slack price, € per kWh of violation.
    pub slack_price: f64,
    /// Price of a terminal target's miss, € per kWh.
    pub terminal_price: f64,
    /// Root limits (import, export), kW.
    pub root_limits: (Option<f64>, Option<f64>),
    /// Feeder limits (import, export), kW.
    pub feeders: Vec<(Option<f64>, Option<f64>)>,
    /// Sites.
    pub sites: Vec<NetSite>,
}

/// Which soft limit a slack of the LP relaxes: sites, feeders and units by their index in
/// [`Network::sites`], [`Network::feeders`] and the units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LpSlackKind {
    /// The root's import limit.
    RootImport,
    /// The root's export limit.
    RootExport,
    /// A feeder's import limit.
    FeederImport(usize),
    /// A feeder's export limit.
    FeederExport(usize),
    /// A site's import limit.
    SiteImport(usize),
    /// A site's export limit.
    SiteExport(usize),
    /// A unit's terminal target, missed below.
    TerminalShort(usize),
    /// A unit's terminal target, missed above.
    TerminalExcess(usize),
}

impl std::fmt::Display for LpSlackKind {
    /// `root import`, `feeder 3 export`, `site 7 import`, `unit 12 terminal short`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RootImport => f.write_str("root import"),
            Self::RootExport => f.write_str("root export"),
            Self::FeederImport(i) => write!(f, "feeder {i} import"),
            Self::FeederExport(i) => write!(f, "feeder {i} export"),
            Self::SiteImport(i) => write!(f, "site {i} import"),
            Self::SiteExport(i) => write!(f, "site {i} export"),
            Self::TerminalShort(i) => write!(f, "unit {i} terminal short"),
            Self::TerminalExcess(i) => write!(f, "unit {i} terminal excess"),
        }
    }
}

/// A priced slack the solver used.
#[derive(Debug, Clone, PartialEq)]
pub struct LpSlack {
    /// Which limit.
    pub what: LpSlackKind,
    /// Interval (the last one for terminal targets).
    pub step: usize,
    /// Amount, kW (kWh for terminal targets).
    pub amount: f64,
}

/// The LP's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LpPlan {
    /// Per unit: grid-side charge, kW.
    pub charge: Vec<Vec<f64>>,
    /// Per unit: grid-side discharge, kW.
    pub discharge: Vec<Vec<f64>>,
    /// Per unit: stored energy after each interval.
    pub energy: Vec<Vec<f64>>,
    /// Root import, kW.
    pub import: Vec<f64>,
    /// Root export, kW.
    pub export: Vec<f64>,
    /// The LP objective, €.
    pub objective: f64,
    /// Marginal value of energy at the root, €/kWh (dual of the root balance).
    pub marginal_price: Option<Vec<f64>>,
    /// Slacks above 1e-6.
    pub slacks: Vec<LpSlack>,
    /// The solver that solved it.
    pub solver: &'static str,
}
