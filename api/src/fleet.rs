//! The fleet service: the adapter that feeds the pure control-plane core (`vpp-dispatch`)
//! from the bus. Twins take telemetry, registrations fill identity, capability and the
//! temporal registry, the aggregator keeps the hierarchy's P10/P50/P90, and histories record
//! each asset's power and state of charge and each node's aggregate.
//!
//! All state sits behind one mutex that is never held across an `.await`; "now" comes from
//! the injected clock (the simulated clock in `vpp run`, the wall clock in `vpp control`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use vpp_domain::{AssetPath, Clock, KilowattHours, Kilowatts, Level, NodePath, Soc};
use vpp_fleet::aggregate::{AggregationConfig, Aggregator, AssetInput, NodeAggregate};
use vpp_fleet::history::{Bucket, HistoryLimits, QueryError, Series};
use vpp_fleet::registry::Registry;
use vpp_fleet::twin::{
    AssetConfig, Capability, ConfigDifference, Identity, IngestCounts, Observation, Status, Twin,
};
use vpp_telemetry::bus::{Bus, BusError, Delivery, Topic};
use vpp_telemetry::wire::{AssetKind, DeviceDescription, EventKind, Message, TelemetryMsg};

/// How often node aggregates are refreshed at a new "now" and recorded into node history.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct AssetEntry {
    twin: Twin,
    device: Option<DeviceDescription>,
    power: Series,
    soc: Series,
}

/// A site meter: its twin and its import's history.
#[derive(Debug)]
struct MeterEntry {
    twin: Twin,
    import: Series,
}

#[derive(Debug)]
struct NodeHistory {
    discharge_p50: Series,
    energy_p50: Series,
}

/// Where the registry is kept between runs.
#[derive(Debug, Clone)]
pub enum RegistryStore {
    /// In memory only.
    Memory,
    /// A JSON snapshot file, rewritten (atomically) after changes.
    File(std::path::PathBuf),
    /// The NATS KV bucket `registry`, one key per asset: `asset.<leaf>`.
    Kv(Box<async_nats::jetstream::kv::Store>),
}

/// Why the registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The snapshot file could not be read.
    #[error("failed to read registry snapshot {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The snapshot or a KV entry is not a registry.
    #[error("registry data at {at} is malformed: {detail}")]
    Malformed {
        /// File or key.
        at: String,
        /// What serde said.
        detail: String,
    },
    /// The KV bucket could not be read.
    #[error("failed to read the registry bucket: {0}")]
    Kv(String),
}

#[derive(Debug, Default)]
struct State {
    /// Entries live in a Vec behind one index: at fleet scale a map of entries would round
    /// its capacity up to the next power of two.
    index: HashMap<AssetPath, usize>,
    assets: Vec<AssetEntry>,
    /// Site meters, by their asset path (the site's path and a `<site>-meter` leaf).
    meters: std::collections::BTreeMap<AssetPath, MeterEntry>,
    registry: Registry,
    aggregator: Aggregator,
    nodes: HashMap<NodePath, NodeHistory>,
    /// Assets whose registry records changed since the last save.
    dirty: std::collections::BTreeSet<vpp_domain::Token>,
    /// When the aggregates were last re-evaluated.
    refreshed_at: Option<DateTime<Utc>>,
}

/// One asset as `GET /api/v1/assets/{path}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AssetDetail {
    /// Hierarchy path.
    pub asset: AssetPath,
    /// Online / stale / offline now.
    pub status: Status,
    /// Newest valid measurement.
    pub latest: Option<Observation>,
    /// Identity and firmware.
    pub identity: Identity,
    /// Ratings.
    pub capability: Capability,
    /// Where desired and reported configuration differ.
    pub config_differences: Vec<ConfigDifference>,
    /// Samples accepted and rejected (by reason: wrong asset, out of order, duplicate, from the
    /// future, implausible power, counter went back).
    pub samples: IngestCounts,
    /// What the gateway registered.
    pub device: Option<DeviceDescription>,
}

/// A node's aggregate at a "now".
#[derive(Debug, Clone, Serialize)]
pub struct AggregateAnswer {
    /// When it was last re-evaluated as a whole (new samples update it in between).
    pub as_of: DateTime<Utc>,
    /// Age of the oldest data counted, seconds.
    pub oldest_age_s: Option<f64>,
    /// The aggregate.
    #[serde(flatten)]
    pub aggregate: NodeAggregate,
}

/// One history answer.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryAnswer {
    /// The asset or node.
    pub path: String,
    /// Series name to buckets.
    pub series: HashMap<&'static str, Vec<Bucket>>,
}

/// Why a history query failed.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// No asset or node with that path.
    #[error("unknown asset or node {0}")]
    Unknown(String),
    /// Bad range or step.
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// The fleet as the control plane knows it.
#[derive(Debug)]
pub struct FleetService {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    config: AggregationConfig,
    store: RegistryStore,
}

fn kw(v: Option<f64>) -> Option<Kilowatts> {
    v.and_then(|x| Kilowatts::new(x).ok())
}

fn soc(v: Option<f64>) -> Option<Soc> {
    v.and_then(|x| Soc::new(x).ok())
}

impl FleetService {
    /// An empty fleet.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>, config: AggregationConfig) -> Self {
        Self {
            state: Mutex::new(State {
                aggregator: Aggregator::new(config),
                ..State::default()
            }),
            clock,
            config,
            store: RegistryStore::Memory,
        }
    }

    /// A fleet whose registry is loaded from, and saved to, `store`.
    pub async fn with_store(
        clock: Arc<dyn Clock>,
        config: AggregationConfig,
        store: RegistryStore,
    ) -> Result<Self, StoreError> {
        let registry = match &store {
            RegistryStore::Memory => Registry::new(),
            RegistryStore::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => serde_json::from_str(&text).map_err(|e| StoreError::Malformed {
                    at: path.display().to_string(),
                    detail: e.to_string(),
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Registry::new(),
                Err(source) => {
                    return Err(StoreError::Read {
                        path: path.display().to_string(),
                        source,
                    });
                }
            },
            RegistryStore::Kv(kv) => load_kv(kv).await?,
        };
        let me = Self {
            store,
            ..Self::new(clock, config)
        };
        me.lock().registry = registry;
        Ok(me)
    }

    /// Writes the registry changes since the last save to the store. Failures are logged and
    /// retried at the next save (the changes stay marked).
    pub async fn save_registry(&self) {
        let (dirty, snapshot, records) = {
            let mut state = self.lock();
            if state.dirty.is_empty() {
                return;
            }
            let dirty = std::mem::take(&mut state.dirty);
            let snapshot =
                matches!(self.store, RegistryStore::File(_)).then(|| state.registry.clone());
            let records: Vec<_> = dirty
                .iter()
                .filter_map(|leaf| Some((leaf.clone(), state.registry.records(leaf)?)))
                .collect();
            (dirty, snapshot, records)
        };
        let result = match (&self.store, snapshot) {
            (RegistryStore::File(path), Some(registry)) => write_snapshot(path, &registry),
            (RegistryStore::Kv(kv), _) => {
                let mut r = Ok(());
                for (leaf, rec) in records {
                    let bytes = serde_json::to_vec(&rec).unwrap_or_default();
                    if let Err(e) = kv.put(format!("asset.{leaf}"), bytes.into()).await {
                        r = Err(e.to_string());
                        break;
                    }
                }
                r
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(err = %e, "failed to save the registry; will retry");
            self.lock().dirty.extend(dirty);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Follows telemetry and events on `bus` and refreshes aggregates every
    /// [`REFRESH_EVERY`].
    pub async fn follow(self: Arc<Self>, bus: &dyn Bus) -> Result<Arc<Self>, BusError> {
        let mut telemetry = bus.subscribe(Topic::Telemetry).await?;
        let mut events = bus.subscribe(Topic::Events).await?;
        let me = Arc::clone(&self);
        tokio::spawn(async move {
            while let Some(d) = telemetry.next().await {
                if let Delivery::Message(Message::Telemetry(t)) = d {
                    me.on_telemetry(&t);
                }
            }
        });
        let me = Arc::clone(&self);
        tokio::spawn(async move {
            while let Some(d) = events.next().await {
                if let Delivery::Message(Message::Event(e)) = d
                    && let (Some(asset), EventKind::Registration { device }) = (e.asset, e.kind)
                {
                    me.on_registration(&asset, device, e.at);
                }
            }
        });
        let me = Arc::clone(&self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(REFRESH_EVERY);
            loop {
                ticks.tick().await;
                me.refresh();
                me.save_registry().await;
            }
        });
        Ok(self)
    }

    fn entry<'a>(state: &'a mut State, asset: &AssetPath) -> &'a mut AssetEntry {
        let next = state.assets.len();
        let ix = *state.index.entry(asset.clone()).or_insert(next);
        if ix == next {
            state.assets.push(AssetEntry {
                twin: Twin::new(asset.clone()),
                device: None,
                power: Series::new(HistoryLimits::default()),
                soc: Series::new(HistoryLimits::default()),
            });
        }
        &mut state.assets[ix]
    }

    fn get<'a>(state: &'a State, asset: &AssetPath) -> Option<&'a AssetEntry> {
        state.index.get(asset).map(|&ix| &state.assets[ix])
    }

    fn reaggregate(state: &mut State, asset: &AssetPath, now: DateTime<Utc>) {
        if let Some(e) = Self::get(state, asset) {
            let reserve = e.device.as_ref().and_then(|d| soc(d.soc_reserve));
            let input = AssetInput::from_twin(&e.twin, reserve);
            state.aggregator.upsert(asset, input, now);
        }
    }

    /// Takes one telemetry message: a battery's into its twin, the aggregates and its
    /// history; a site meter's into the meter's twin and history.
    pub fn on_telemetry(&self, t: &TelemetryMsg) {
        let now = self.clock.now();
        let mut state = self.lock();
        if t.kind == AssetKind::SiteMeter {
            let asset = t.sample.asset();
            let m = state
                .meters
                .entry(asset.clone())
                .or_insert_with(|| MeterEntry {
                    twin: Twin::new(asset.clone()),
                    import: Series::new(HistoryLimits::default()),
                });
            if m.twin
                .ingest(&t.sample, t.stale, now, &self.config.thresholds)
                .is_ok()
                && let Some(p) = t.sample.readings().power
            {
                m.import.push(t.sample.measured_at(), p.get());
            }
            return;
        }
        let e = Self::entry(&mut state, t.sample.asset());
        if e.twin
            .ingest(&t.sample, t.stale, now, &self.config.thresholds)
            .is_ok()
        {
            let at = t.sample.measured_at();
            if let Some(p) = t.sample.readings().power {
                e.power.push(at, p.get());
            }
            if let Some(s) = t.sample.readings().soc {
                e.soc.push(at, s.get());
            }
            Self::reaggregate(&mut state, t.sample.asset(), now);
        }
    }

    /// Takes one registration.
    pub fn on_registration(&self, asset: &AssetPath, device: DeviceDescription, at: DateTime<Utc>) {
        let now = self.clock.now();
        let mut state = self.lock();
        let serial = device
            .serial
            .clone()
            .unwrap_or_else(|| "unknown".to_owned());
        let leaf = asset.leaf();
        let before = state.registry.records(&leaf);
        let moved_from = state.registry.path_of(&leaf, at).filter(|p| p != asset);
        let result = match state.registry.path_of(&leaf, at) {
            None => state.registry.register(asset, &serial, at),
            Some(p) if &p != asset => {
                state
                    .registry
                    .move_to(&leaf, asset.ancestor(Level::Site), at)
            }
            Some(_) if state.registry.device_of(&leaf, at) != Some(serial.as_str()) => {
                state.registry.replace_device(&leaf, &serial, at)
            }
            Some(_) => Ok(()),
        };
        match result {
            Ok(()) if state.registry.records(&leaf) != before => {
                state.dirty.insert(leaf);
            }
            Ok(()) => {}
            Err(e) => tracing::warn!(%asset, err = %e, "registry refused a registration"),
        }
        // A move: the twin (and its history) follows the asset to its new place; the old
        // parents stop counting it.
        if let Some(old) = moved_from
            && let Some(ix) = state.index.remove(&old)
        {
            state.aggregator.remove(&old);
            if !state.index.contains_key(asset) {
                state.assets[ix].twin.relocate(asset.clone());
                state.index.insert(asset.clone(), ix);
            }
        }
        let e = Self::entry(&mut state, asset);
        e.twin.describe(
            Identity {
                manufacturer: device.manufacturer.clone(),
                model: device.model.clone(),
                firmware: device.version.clone(),
                serial: device.serial.clone(),
            },
            Capability {
                capacity: device.capacity_kwh.and_then(|x| KilowattHours::new(x).ok()),
                max_charge: kw(device.max_charge_kw),
                max_discharge: kw(device.max_discharge_kw),
                soc_min: soc(device.soc_min),
                soc_max: soc(device.soc_max),
            },
            AssetConfig {
                reserve: soc(device.soc_reserve),
                export_limit: None,
            },
        );
        e.device = Some(device);
        Self::reaggregate(&mut state, asset, now);
    }

    /// Re-evaluates aggregates at the clock's "now" and records each node's P50s.
    pub fn refresh(&self) {
        let now = self.clock.now();
        let mut state = self.lock();
        state.aggregator.refresh(now);
        state.refreshed_at = Some(now);
        let aggregates: Vec<(NodePath, NodeAggregate)> = state
            .aggregator
            .nodes()
            .filter_map(|(n, a)| Some((n.clone(), a?)))
            .collect();
        for (node, agg) in aggregates {
            let h = state.nodes.entry(node).or_insert_with(|| NodeHistory {
                discharge_p50: Series::new(HistoryLimits::default()),
                energy_p50: Series::new(HistoryLimits::default()),
            });
            h.discharge_p50.push(now, agg.discharge_kw.p50);
            h.energy_p50.push(now, agg.energy_above_reserve_kwh.p50);
        }
    }

    /// Every asset: twin status and newest measurement, registration.
    #[must_use]
    pub fn assets(
        &self,
    ) -> Vec<(
        AssetPath,
        Status,
        Option<Observation>,
        Option<DeviceDescription>,
    )> {
        let now = self.clock.now();
        let state = self.lock();
        let mut out: Vec<_> = state
            .index
            .values()
            .map(|&ix| {
                let e = &state.assets[ix];
                (
                    e.twin.asset().clone(),
                    e.twin.status(now, &self.config.thresholds),
                    e.twin.latest().copied(),
                    e.device.clone(),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every site meter: its path, twin status and newest reading (`power`: the site's
    /// import, kW; `energy_absorbed` / `energy_injected`: lifetime import / export, kWh).
    #[must_use]
    pub fn meters(&self) -> Vec<(AssetPath, Status, Option<Observation>)> {
        let now = self.clock.now();
        let state = self.lock();
        state
            .meters
            .iter()
            .map(|(a, m)| {
                (
                    a.clone(),
                    m.twin.status(now, &self.config.thresholds),
                    m.twin.latest().copied(),
                )
            })
            .collect()
    }

    /// One asset in detail.
    #[must_use]
    pub fn asset(&self, path: &AssetPath) -> Option<AssetDetail> {
        let now = self.clock.now();
        let state = self.lock();
        let e = Self::get(&state, path)?;
        Some(AssetDetail {
            asset: path.clone(),
            status: e.twin.status(now, &self.config.thresholds),
            latest: e.twin.latest().copied(),
            identity: e.twin.identity().clone(),
            capability: *e.twin.capability(),
            config_differences: e.twin.config_differences(),
            samples: *e.twin.counts(),
            device: e.device.clone(),
        })
    }

    /// The aggregate of a node, evaluated at "now".
    #[must_use]
    /// The aggregate of a node as of the last refresh (every [`REFRESH_EVERY`], and after every
    /// sample of its assets): a query is a lookup, not a pass over the fleet.
    pub fn aggregate(&self, node: &NodePath) -> Option<AggregateAnswer> {
        let state = self.lock();
        let now = state.refreshed_at.unwrap_or_else(|| self.clock.now());
        let aggregate = state.aggregator.aggregate(node)?;
        Some(AggregateAnswer {
            as_of: now,
            oldest_age_s: aggregate
                .oldest_measured_at
                .map(|t| (now - t).num_milliseconds() as f64 / 1000.0),
            aggregate,
        })
    }

    /// Takes `leaf` out of the fleet from "now" (its twin leaves the aggregates).
    pub fn decommission(
        &self,
        asset: &AssetPath,
    ) -> Result<(), vpp_fleet::registry::RegistryError> {
        let now = self.clock.now();
        let mut state = self.lock();
        let leaf = asset.leaf();
        state.registry.decommission(&leaf, now)?;
        state.dirty.insert(leaf);
        state.aggregator.remove(asset);
        state.index.remove(asset);
        Ok(())
    }

    /// History of an asset (power, SoC) or of a node (P50 discharge power and energy).
    pub fn history(
        &self,
        path: &NodePath,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: TimeDelta,
    ) -> Result<HistoryAnswer, HistoryError> {
        let state = self.lock();
        let mut series = HashMap::new();
        if let Ok(asset) = AssetPath::try_from(path.clone())
            && let Some(e) = Self::get(&state, &asset)
        {
            series.insert("power_kw", e.power.query(from, to, step)?);
            series.insert("soc", e.soc.query(from, to, step)?);
        } else if let Ok(asset) = AssetPath::try_from(path.clone())
            && let Some(m) = state.meters.get(&asset)
        {
            series.insert("import_kw", m.import.query(from, to, step)?);
        } else if let Some(h) = state.nodes.get(path) {
            series.insert("discharge_kw_p50", h.discharge_p50.query(from, to, step)?);
            series.insert(
                "energy_above_reserve_kwh_p50",
                h.energy_p50.query(from, to, step)?,
            );
        } else {
            return Err(HistoryError::Unknown(path.to_string()));
        }
        Ok(HistoryAnswer {
            path: path.to_string(),
            series,
        })
    }

    /// The registry as of `t`: every asset in the fleet then, with its device.
    #[must_use]
    pub fn registry_as_of(&self, t: DateTime<Utc>) -> Vec<(AssetPath, Option<String>)> {
        let state = self.lock();
        state
            .registry
            .members(&NodePath::root(), t)
            .into_iter()
            .map(|p| {
                let serial = state.registry.device_of(&p.leaf(), t).map(str::to_owned);
                (p, serial)
            })
            .collect()
    }

    /// The clock's "now".
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

async fn load_kv(kv: &async_nats::jetstream::kv::Store) -> Result<Registry, StoreError> {
    use futures::StreamExt;
    let mut registry = Registry::new();
    let mut keys = kv.keys().await.map_err(|e| StoreError::Kv(e.to_string()))?;
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| StoreError::Kv(e.to_string()))?;
        let Some(leaf) = key.strip_prefix("asset.") else {
            continue;
        };
        let Some(bytes) = kv
            .get(&key)
            .await
            .map_err(|e| StoreError::Kv(e.to_string()))?
        else {
            continue;
        };
        let malformed = |detail: String| StoreError::Malformed {
            at: format!("registry key {key}"),
            detail,
        };
        let leaf = vpp_domain::Token::new(leaf).map_err(|e| malformed(e.to_string()))?;
        let records = serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
        registry.restore(leaf, records);
    }
    Ok(registry)
}

fn write_snapshot(path: &std::path::Path, registry: &Registry) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(registry).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("rename to {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Debug)]
    struct At(DateTime<Utc>);

    impl Clock for At {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    fn device(serial: &str) -> DeviceDescription {
        DeviceDescription {
            endpoint: "127.0.0.1:1502".into(),
            unit_id: 1,
            base_address: 40000,
            manufacturer: None,
            model: None,
            version: None,
            serial: Some(serial.into()),
            capacity_kwh: Some(10.0),
            max_charge_kw: Some(5.0),
            max_discharge_kw: Some(5.0),
            soc_min: None,
            soc_max: None,
            soc_reserve: None,
        }
    }

    #[test]
    fn a_moved_asset_takes_its_twin_along_and_leaves_its_old_feeder() {
        use vpp_telemetry::wire::{TelemetryMsg, WIRE_VERSION};
        let t = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let f = FleetService::new(Arc::new(At(t + TimeDelta::days(1))), Default::default());
        let a: AssetPath = "r/s/fa/x1/b1".parse().unwrap();
        let b: AssetPath = "r/s/fb/x2/b1".parse().unwrap();
        f.on_registration(&a, device("SN-1"), t);
        let sample = vpp_domain::TelemetrySample::new(
            a.clone(),
            1,
            t + TimeDelta::days(1),
            t + TimeDelta::days(1),
            vpp_domain::Readings {
                soc: Some(Soc::new(0.5).unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
        f.on_telemetry(&TelemetryMsg {
            v: WIRE_VERSION,
            sample,
            stale: false,
            kind: AssetKind::Battery,
        });
        let fa: NodePath = "r/s/fa".parse().unwrap();
        let fb: NodePath = "r/s/fb".parse().unwrap();
        assert_eq!(f.aggregate(&fa).unwrap().aggregate.members, 1);

        let moved_at = t + TimeDelta::hours(30);
        f.on_registration(&b, device("SN-1"), moved_at);
        assert!(f.aggregate(&fa).is_none_or(|g| g.aggregate.members == 0));
        assert_eq!(f.aggregate(&fb).unwrap().aggregate.members, 1);
        let twin = f.asset(&b).expect("the twin moved along");
        assert_eq!(
            twin.latest.unwrap().readings.soc,
            Some(Soc::new(0.5).unwrap())
        );
        assert!(f.asset(&a).is_none());
        // As of before the move, the registry still places it on feeder A.
        assert_eq!(f.registry_as_of(moved_at - TimeDelta::hours(1))[0].0, a);
        assert_eq!(f.registry_as_of(moved_at)[0].0, b);
    }

    #[tokio::test]
    async fn the_registry_survives_a_restart_through_its_snapshot_file() {
        let t = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let file = std::env::temp_dir().join(format!("vpp-registry-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let store = RegistryStore::File(file.clone());
        let a = FleetService::with_store(Arc::new(At(t)), Default::default(), store.clone())
            .await
            .unwrap();
        a.on_registration(&"r/s/f/x/b1".parse().unwrap(), device("SN-1"), t);
        a.on_registration(
            &"r/s/f/x/b1".parse().unwrap(),
            device("SN-2"),
            t + TimeDelta::days(1),
        );
        a.save_registry().await;

        let b = FleetService::with_store(Arc::new(At(t)), Default::default(), store)
            .await
            .unwrap();
        let at = |d| b.registry_as_of(t + TimeDelta::days(d));
        assert_eq!(at(0)[0].1.as_deref(), Some("SN-1"));
        assert_eq!(
            at(2)[0].1.as_deref(),
            Some("SN-2"),
            "the replacement is remembered"
        );

        std::fs::write(&file, "{broken").unwrap();
        let err = FleetService::with_store(
            Arc::new(At(t)),
            Default::default(),
            RegistryStore::File(file.clone()),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
        let _ = std::fs::remove_file(&file);
    }
}
