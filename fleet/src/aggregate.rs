//! Hierarchical aggregation with honest uncertainty: per node (fleet, region, substation,
//! feeder, site), the available discharge and charge power, the energy above reserve and the
//! headroom below the maximum, each as P10 / P50 / P90, with coverage and the age of the
//! oldest data.
//!
//! The model: an asset that reported recently is available for sure; a stale one is
//! available with a confidence `c` that decays with the age of its data (halving every
//! `half_life` past `stale_after`, and at most 0.5 when the gateway flagged its values as
//! frozen); an offline one counts for nothing and is never extrapolated. Per quantity `x`,
//! P50 is the expected total `Σ c·x`; the spread comes from treating each stale asset as
//! available or not (variance `Σ c(1−c)·x²`), with P10 = P50 − 1.2816 σ (never below what the
//! online assets give for sure) and P90 = P50 + 1.2816 σ (never above what every counted asset
//! could give). So P10 ≤ P50 ≤ P90, and offline assets add 0 to all three.
//!
//! Updates are incremental: a new sample for one asset changes its contribution, and the
//! difference is added to the node sums on its path to the root (O(depth)). Confidence changes
//! with time alone, so [`Aggregator::refresh`] re-evaluates the assets that are not online at
//! a new "now" (O(stale assets × depth)).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use vpp_domain::{AssetPath, Level, NodePath, Soc};

use crate::twin::{Capability, Status, Thresholds, Twin};

/// z-score of the 10th/90th percentile of a normal distribution.
const Z90: f64 = 1.281_551_565_545;

/// The four aggregated quantities, in this order.
pub const QUANTITIES: [&str; 4] = [
    "discharge_kw",
    "charge_kw",
    "energy_above_reserve_kwh",
    "headroom_kwh",
];

/// How confidence decays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AggregationConfig {
    /// Status thresholds.
    pub thresholds: Thresholds,
    /// Past `stale_after`, confidence halves every `half_life`.
    pub half_life: TimeDelta,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        Self {
            thresholds: Thresholds::default(),
            half_life: TimeDelta::seconds(15),
        }
    }
}

/// What the aggregation needs of one asset.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AssetInput {
    /// Ratings.
    pub capability: Capability,
    /// Reserve state of charge (dispatch floor).
    pub reserve: Option<Soc>,
    /// Last measured state of charge.
    pub soc: Option<Soc>,
    /// When it was measured.
    pub measured_at: Option<DateTime<Utc>>,
    /// Flagged stale by the gateway.
    pub flagged_stale: bool,
}

impl AssetInput {
    /// The input a twin gives, with `reserve` from its reported configuration.
    #[must_use]
    pub fn from_twin(twin: &Twin, reserve: Option<Soc>) -> Self {
        let latest = twin.latest();
        Self {
            capability: *twin.capability(),
            reserve,
            soc: latest.and_then(|o| o.readings.soc),
            measured_at: latest.map(|o| o.measured_at),
            flagged_stale: latest.is_some_and(|o| o.flagged_stale),
        }
    }

    fn freshness(&self) -> Freshness {
        Freshness {
            measured_at: self.measured_at,
            flagged: self.flagged_stale,
        }
    }

    /// The four quantities if the asset is as it last reported (0 where unknown).
    fn quantities(&self) -> [f64; 4] {
        let cap = &self.capability;
        let (Some(soc), Some(capacity)) = (self.soc, cap.capacity) else {
            return [0.0; 4];
        };
        let soc = soc.get();
        let floor = vpp_domain::soc_floor(cap.soc_min.map(Soc::get), self.reserve.map(Soc::get));
        let ceiling = cap.soc_max.map_or(1.0, Soc::get);
        let kwh = capacity.get();
        let discharge = if soc > floor {
            cap.max_discharge.map_or(0.0, |p| p.get())
        } else {
            0.0
        };
        let charge = if soc < ceiling {
            cap.max_charge.map_or(0.0, |p| p.get())
        } else {
            0.0
        };
        [
            discharge,
            charge,
            ((soc - floor) * kwh).max(0.0),
            ((ceiling - soc) * kwh).max(0.0),
        ]
    }
}

/// How recent an asset's data is: all that its confidence depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Freshness {
    measured_at: Option<DateTime<Utc>>,
    flagged: bool,
}

impl Freshness {
    fn status(&self, now: DateTime<Utc>, th: &Thresholds) -> Status {
        let Some(at) = self.measured_at else {
            return Status::Offline;
        };
        let age = now - at;
        if age > th.offline_after {
            Status::Offline
        } else if age > th.stale_after || self.flagged {
            Status::Stale
        } else {
            Status::Online
        }
    }

    /// Confidence that the asset still has what it last reported.
    fn confidence(&self, now: DateTime<Utc>, cfg: &AggregationConfig) -> f64 {
        let th = &cfg.thresholds;
        match (self.status(now, th), self.measured_at) {
            (Status::Online, _) => 1.0,
            (Status::Stale, Some(at)) => {
                let past = (now - at - th.stale_after).num_milliseconds().max(0) as f64;
                let half = cfg.half_life.num_milliseconds().max(1) as f64;
                let c = 0.5f64.powf(past / half);
                if self.flagged { c.min(0.5) } else { c }
            }
            _ => 0.0,
        }
    }
}

/// One asset's share of its ancestors' sums.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Contribution {
    mean: [f64; 4],
    var: [f64; 4],
    sure: [f64; 4],
    max: [f64; 4],
    reporting: u64,
}

impl Contribution {
    fn of(input: &AssetInput, now: DateTime<Utc>, cfg: &AggregationConfig) -> Self {
        Self::from_parts(input.quantities(), input.freshness().confidence(now, cfg))
    }

    /// The contribution of quantities `x` held with confidence `c`.
    fn from_parts(x: [f64; 4], c: f64) -> Self {
        if c <= 0.0 {
            return Self::default();
        }
        let mut out = Self {
            reporting: 1,
            ..Self::default()
        };
        for (q, x) in x.into_iter().enumerate() {
            out.mean[q] = c * x;
            out.var[q] = c * (1.0 - c) * x * x;
            out.max[q] = x;
            if c >= 1.0 {
                out.sure[q] = x;
            }
        }
        out
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Sums {
    mean: [f64; 4],
    var: [f64; 4],
    sure: [f64; 4],
    max: [f64; 4],
    members: u64,
    reporting: u64,
}

impl Sums {
    fn apply(&mut self, c: &Contribution, sign: f64, members: i64) {
        for q in 0..4 {
            self.mean[q] += sign * c.mean[q];
            self.var[q] += sign * c.var[q];
            self.sure[q] += sign * c.sure[q];
            self.max[q] += sign * c.max[q];
        }
        self.members = self.members.saturating_add_signed(members);
        self.reporting = if sign > 0.0 {
            self.reporting + c.reporting
        } else {
            self.reporting.saturating_sub(c.reporting)
        };
    }
}

/// P10 / P50 / P90 of one quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Band {
    /// 10th percentile.
    pub p10: f64,
    /// Median (the expected value).
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
}

/// The aggregate of one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeAggregate {
    /// The node.
    pub node: NodePath,
    /// Available discharge power, kW.
    pub discharge_kw: Band,
    /// Available charge power, kW.
    pub charge_kw: Band,
    /// Energy above the reserve, kWh.
    pub energy_above_reserve_kwh: Band,
    /// Room below the maximum state of charge, kWh.
    pub headroom_kwh: Band,
    /// Assets under the node.
    pub members: u64,
    /// Assets counted (online or stale).
    pub reporting: u64,
    /// `reporting / members`.
    pub coverage: f64,
    /// Measurement time of the oldest data counted.
    pub oldest_measured_at: Option<DateTime<Utc>>,
}

fn band(s: &Sums, q: usize) -> Band {
    let mean = s.mean[q].max(0.0);
    let sd = s.var[q].max(0.0).sqrt();
    let sure = s.sure[q].max(0.0).min(mean);
    let max = s.max[q].max(mean);
    Band {
        p10: (mean - Z90 * sd).clamp(sure, mean),
        p50: mean,
        p90: (mean + Z90 * sd).clamp(mean, max),
    }
}

#[derive(Debug, Clone, Default)]
struct NodeState {
    sums: Sums,
    /// Multiset of the oldest counted measurement time of each child.
    child_oldest: BTreeMap<DateTime<Utc>, u32>,
    /// Oldest counted measurement time under this node.
    oldest: Option<DateTime<Utc>>,
}

/// What the aggregator keeps per asset: just enough to rebuild its contribution (kept small:
/// there may be millions).
#[derive(Debug, Clone, Copy)]
struct AssetState {
    /// The quantities if the asset is as it last reported.
    x: [f64; 4],
    /// Confidence at the last evaluation.
    c: f64,
    fresh: Freshness,
    /// Its site, feeder, substation, region and the fleet root, as node indexes.
    ancestors: [u32; 5],
}

impl AssetState {
    fn contribution(&self) -> Contribution {
        Contribution::from_parts(self.x, self.c)
    }

    /// The measurement time this asset puts into its site's multiset, if counted.
    fn oldest(&self) -> Option<DateTime<Utc>> {
        if self.c > 0.0 {
            self.fresh.measured_at
        } else {
            None
        }
    }
}

/// Incremental aggregates over the whole hierarchy.
///
/// Nodes and assets are interned: an asset's five ancestors are resolved to indexes once,
/// so an update walks five array slots with no hashing and no allocation.
#[derive(Debug, Clone, Default)]
pub struct Aggregator {
    config: AggregationConfig,
    node_index: HashMap<NodePath, u32>,
    nodes: Vec<NodeState>,
    asset_index: HashMap<AssetPath, u32>,
    assets: Vec<Option<AssetState>>,
    free: Vec<u32>,
}

fn multiset_swap(
    set: &mut BTreeMap<DateTime<Utc>, u32>,
    old: Option<DateTime<Utc>>,
    new: Option<DateTime<Utc>>,
) {
    if old == new {
        return;
    }
    if let Some(o) = old
        && let Some(n) = set.get_mut(&o)
    {
        *n -= 1;
        if *n == 0 {
            set.remove(&o);
        }
    }
    if let Some(n) = new {
        *set.entry(n).or_insert(0) += 1;
    }
}

const ANCESTOR_LEVELS: [Level; 5] = [
    Level::Site,
    Level::Feeder,
    Level::Substation,
    Level::Region,
    Level::Fleet,
];

impl Aggregator {
    /// An empty aggregator.
    #[must_use]
    pub fn new(config: AggregationConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    fn node_ix(&mut self, node: NodePath) -> u32 {
        let next = self.nodes.len() as u32;
        let ix = *self.node_index.entry(node).or_insert(next);
        if ix == next {
            self.nodes.push(NodeState::default());
        }
        ix
    }

    /// Sets (or replaces) `asset`'s input at `now`: O(depth).
    pub fn upsert(&mut self, asset: &AssetPath, input: AssetInput, now: DateTime<Utc>) {
        let fresh = input.freshness();
        let x = input.quantities();
        let c = fresh.confidence(now, &self.config);
        if let Some(&ix) = self.asset_index.get(asset)
            && let Some(a) = self.assets[ix as usize].as_mut()
        {
            let before = *a;
            *a = AssetState {
                x,
                c,
                fresh,
                ..before
            };
            let after = *a;
            self.propagate(&before, &after, 0);
            return;
        }
        let ancestors = ANCESTOR_LEVELS.map(|l| self.node_ix(asset.ancestor(l)));
        let state = AssetState {
            x,
            c,
            fresh,
            ancestors,
        };
        let ix = match self.free.pop() {
            Some(ix) => {
                self.assets[ix as usize] = Some(state);
                ix
            }
            None => {
                self.assets.push(Some(state));
                (self.assets.len() - 1) as u32
            }
        };
        self.asset_index.insert(asset.clone(), ix);
        let nothing = AssetState { c: 0.0, ..state };
        self.propagate(&nothing, &state, 1);
    }

    /// Removes `asset` (decommissioned, or moving: remove, then upsert at its new path).
    pub fn remove(&mut self, asset: &AssetPath) {
        let Some(ix) = self.asset_index.remove(asset) else {
            return;
        };
        if let Some(a) = self.assets[ix as usize].take() {
            self.free.push(ix);
            self.propagate(&a, &AssetState { c: 0.0, ..a }, -1);
        }
    }

    /// Re-evaluates, at a new `now`, every counted asset that is no longer online: stale ones
    /// decay, others drop out. Offline ones cannot come back with time alone, and online ones
    /// are unchanged.
    pub fn refresh(&mut self, now: DateTime<Utc>) {
        let th = self.config.thresholds;
        for ix in 0..self.assets.len() {
            let Some(before) = self.assets[ix] else {
                continue;
            };
            if before.c <= 0.0 || before.fresh.status(now, &th) == Status::Online {
                continue;
            }
            let after = AssetState {
                c: before.fresh.confidence(now, &self.config),
                ..before
            };
            self.assets[ix] = Some(after);
            self.propagate(&before, &after, 0);
        }
    }

    /// Moves the node sums on `before.ancestors` from `before`'s contribution to `after`'s,
    /// with `members` joining (+1) or leaving (−1).
    fn propagate(&mut self, before: &AssetState, after: &AssetState, members: i64) {
        let (old, new) = (before.contribution(), after.contribution());
        let (mut old_min, mut new_min) = (before.oldest(), after.oldest());
        for ix in after.ancestors {
            let state = &mut self.nodes[ix as usize];
            state.sums.apply(&old, -1.0, 0);
            state.sums.apply(&new, 1.0, members);
            if old_min == new_min {
                // This node's oldest does not move, so nothing above does either.
                old_min = None;
                new_min = None;
                continue;
            }
            let was = state.oldest;
            multiset_swap(&mut state.child_oldest, old_min, new_min);
            state.oldest = state.child_oldest.keys().next().copied();
            old_min = was;
            new_min = state.oldest;
        }
    }

    /// The aggregate of `node`, if any asset sits under it.
    #[must_use]
    pub fn aggregate(&self, node: &NodePath) -> Option<NodeAggregate> {
        let s = &self.nodes[*self.node_index.get(node)? as usize];
        if s.sums.members == 0 {
            return None;
        }
        Some(NodeAggregate {
            node: node.clone(),
            discharge_kw: band(&s.sums, 0),
            charge_kw: band(&s.sums, 1),
            energy_above_reserve_kwh: band(&s.sums, 2),
            headroom_kwh: band(&s.sums, 3),
            members: s.sums.members,
            reporting: s.sums.reporting,
            coverage: s.sums.reporting as f64 / s.sums.members as f64,
            oldest_measured_at: s.oldest,
        })
    }

    /// Every node that has had an asset under it, with its aggregate (`None` once empty).
    pub fn nodes(&self) -> impl Iterator<Item = (&NodePath, Option<NodeAggregate>)> {
        self.node_index.keys().map(|n| (n, self.aggregate(n)))
    }

    /// Number of assets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.asset_index.len()
    }

    /// Whether there are no assets.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.asset_index.is_empty()
    }

    /// The aggregate of `node` computed from scratch over `assets` at `now` (the reference the
    /// incremental path is tested against; O(n)).
    #[must_use]
    pub fn recompute(
        config: &AggregationConfig,
        assets: &[(AssetPath, AssetInput)],
        node: &NodePath,
        now: DateTime<Utc>,
    ) -> Option<NodeAggregate> {
        let mut sums = Sums::default();
        let mut oldest: Option<DateTime<Utc>> = None;
        for (_, input) in assets.iter().filter(|(p, _)| p.is_under(node)) {
            let c = Contribution::of(input, now, config);
            sums.apply(&c, 1.0, 1);
            if c.reporting > 0 {
                oldest = match (oldest, input.measured_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        (sums.members > 0).then(|| NodeAggregate {
            node: node.clone(),
            discharge_kw: band(&sums, 0),
            charge_kw: band(&sums, 1),
            energy_above_reserve_kwh: band(&sums, 2),
            headroom_kwh: band(&sums, 3),
            members: sums.members,
            reporting: sums.reporting,
            coverage: sums.reporting as f64 / sums.members as f64,
            oldest_measured_at: oldest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use vpp_domain::{KilowattHours, Kilowatts};

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(s)
    }

    fn input(
        capacity: f64,
        power: f64,
        soc: f64,
        age_s: i64,
        now: i64,
        flagged: bool,
    ) -> AssetInput {
        AssetInput {
            capability: Capability {
                capacity: Some(KilowattHours::new(capacity).unwrap()),
                max_charge: Some(Kilowatts::new(power).unwrap()),
                max_discharge: Some(Kilowatts::new(power).unwrap()),
                soc_min: Some(Soc::new(0.05).unwrap()),
                soc_max: Some(Soc::new(0.95).unwrap()),
            },
            reserve: Some(Soc::new(0.1).unwrap()),
            soc: Some(Soc::new(soc).unwrap()),
            measured_at: Some(t(now - age_s)),
            flagged_stale: flagged,
        }
    }

    fn path(i: usize) -> AssetPath {
        AssetPath::new(
            &format!("r{}", i % 2),
            &format!("s{}", (i / 2) % 2),
            &format!("f{}", (i / 4) % 2),
            &format!("x{}", (i / 8) % 3),
            &format!("b{i}"),
        )
        .unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-6 * (1.0 + a.abs().max(b.abs()))
    }

    fn same(a: &NodeAggregate, b: &NodeAggregate) -> bool {
        let bands = |x: &NodeAggregate| {
            [
                x.discharge_kw,
                x.charge_kw,
                x.energy_above_reserve_kwh,
                x.headroom_kwh,
            ]
        };
        a.members == b.members
            && a.reporting == b.reporting
            && a.oldest_measured_at == b.oldest_measured_at
            && bands(a)
                .iter()
                .zip(bands(b))
                .all(|(x, y)| close(x.p10, y.p10) && close(x.p50, y.p50) && close(x.p90, y.p90))
    }

    #[test]
    fn online_assets_are_sure_stale_ones_widen_the_band_offline_ones_count_for_nothing() {
        let cfg = AggregationConfig::default();
        let mut agg = Aggregator::new(cfg);
        let now = 1000;
        agg.upsert(&path(0), input(10.0, 5.0, 0.6, 1, now, false), t(now));
        let site = path(0).ancestor(Level::Site);
        let a = agg.aggregate(&site).unwrap();
        assert_eq!(
            a.discharge_kw,
            Band {
                p10: 5.0,
                p50: 5.0,
                p90: 5.0
            }
        );
        assert!(close(a.energy_above_reserve_kwh.p50, 5.0));
        assert!(close(a.headroom_kwh.p50, 3.5));
        assert_eq!(a.coverage, 1.0);

        // Same site: one stale, 25 s old: 15 s past stale_after, one half-life, c = 0.5.
        let stale = AssetPath::new("r0", "s0", "f0", "x0", "b-stale").unwrap();
        agg.upsert(&stale, input(10.0, 5.0, 0.6, 25, now, false), t(now));
        let a = agg.aggregate(&site).unwrap();
        let c = 0.5;
        assert!(close(a.discharge_kw.p50, 5.0 + 5.0 * c));
        assert!(a.discharge_kw.p10 >= 5.0 - 1e-9 && a.discharge_kw.p10 < a.discharge_kw.p50);
        assert!(a.discharge_kw.p90 > a.discharge_kw.p50 && a.discharge_kw.p90 <= 10.0 + 1e-9);

        // And one offline: members grow, nothing else moves.
        let before = agg.aggregate(&site).unwrap();
        agg.upsert(
            &AssetPath::new("r0", "s0", "f0", "x0", "b-off").unwrap(),
            input(10.0, 5.0, 0.6, 600, now, false),
            t(now),
        );
        let a = agg.aggregate(&site).unwrap();
        assert_eq!(a.members, before.members + 1);
        assert_eq!(a.reporting, before.reporting);
        assert_eq!(a.discharge_kw, before.discharge_kw);
        assert!(a.coverage < 1.0);
        assert_eq!(
            a.oldest_measured_at,
            Some(t(now - 25)),
            "offline data is not counted"
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Upsert(usize, f64, f64, f64, i64, bool),
        Remove(usize),
        Move(usize, usize),
        Advance(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0usize..48, 1.0f64..100.0, 0.5f64..50.0, 0.0f64..=1.0, 0i64..120, any::<bool>())
                .prop_map(|(i, c, p, s, a, f)| Op::Upsert(i, c, p, s, a, f)),
            1 => (0usize..48).prop_map(Op::Remove),
            1 => (0usize..48, 0usize..48).prop_map(|(i, j)| Op::Move(i, j)),
            2 => (1i64..40).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn incremental_aggregates_equal_a_recompute_after_any_sequence(ops in proptest::collection::vec(op(), 1..120)) {
            let cfg = AggregationConfig::default();
            let mut agg = Aggregator::new(cfg);
            let mut truth: HashMap<AssetPath, AssetInput> = HashMap::new();
            let mut now = 1000i64;
            for op in ops {
                match op {
                    Op::Upsert(i, c, p, s, age, f) => {
                        let inp = input(c, p, s, age, now, f);
                        agg.upsert(&path(i), inp, t(now));
                        truth.insert(path(i), inp);
                    }
                    Op::Remove(i) => {
                        agg.remove(&path(i));
                        truth.remove(&path(i));
                    }
                    Op::Move(i, j) => {
                        // The asset keeps its leaf and data, and goes to j's site.
                        if let Some(inp) = truth.remove(&path(i)) {
                            agg.remove(&path(i));
                            let site = path(j).ancestor(Level::Site);
                            let to = AssetPath::try_from(site.child(path(i).leaf()).unwrap()).unwrap();
                            if truth.remove(&to).is_some() {
                                agg.remove(&to);
                            }
                            agg.upsert(&to, inp, t(now));
                            truth.insert(to, inp);
                        }
                    }
                    Op::Advance(s) => {
                        now += s;
                        agg.refresh(t(now));
                    }
                }
            }
            agg.refresh(t(now));
            let assets: Vec<_> = truth.into_iter().collect();
            let mut nodes: Vec<NodePath> = vec![NodePath::root()];
            for (p, _) in &assets {
                for l in [Level::Region, Level::Substation, Level::Feeder, Level::Site] {
                    nodes.push(p.ancestor(l));
                }
            }
            for node in nodes {
                let want = Aggregator::recompute(&cfg, &assets, &node, t(now));
                let got = agg.aggregate(&node);
                match (&got, &want) {
                    (Some(g), Some(w)) => {
                        prop_assert!(same(g, w), "node {node}: incremental {g:?} vs recompute {w:?}");
                        for b in [g.discharge_kw, g.charge_kw, g.energy_above_reserve_kwh, g.headroom_kwh] {
                            prop_assert!(b.p10 <= b.p50 && b.p50 <= b.p90, "{b:?}");
                        }
                    }
                    (None, None) => {}
                    _ => prop_assert!(false, "node {node}: {got:?} vs {want:?}"),
                }
            }
        }
    }
}
