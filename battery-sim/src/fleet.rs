//! A simulated fleet in one process: batteries grouped in sites, stepped in simulated time.
//!
//! Building a fleet ([`Fleet::build`]) is pure and deterministic for a seed. Running it
//! ([`RunningFleet::start`]) binds one Modbus TCP listener per site and, unless paused, spawns a
//! clock task that advances simulated time at `speed` × real time.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use vpp_domain::{AssetPath, BatterySpec, BatterySpecParams, KilowattHours, Kilowatts, Soc};

use crate::device::{Identity, SimBattery};
use crate::physics::PhysicsParams;
use crate::rng::SplitMix64;
use crate::server;
use crate::sunspec::BaseAddress;

/// Most batteries a site may have: unit ids 1..=239 (of the valid unicast ids 1..=247, 240 is
/// the site meter and the rest stay free).
pub const MAX_UNITS_PER_SITE: u8 = 239;

/// Which SunSpec base address the devices use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseChoice {
    /// Every device at the same base.
    Fixed(BaseAddress),
    /// Each device at 40000, 0 or 50000, picked from the seed (to exercise discovery).
    Mixed,
}

/// How a fleet looks: sizes, naming, seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetConfig {
    /// Number of sites (one Modbus TCP endpoint each).
    pub sites: usize,
    /// Batteries per site (unit ids `1..=batteries_per_site`).
    pub batteries_per_site: u8,
    /// Seed for battery sizes and initial states.
    pub seed: u64,
    /// SunSpec base address.
    pub base: BaseChoice,
    /// Simulated time at start.
    pub start: DateTime<Utc>,
    /// Seconds for the inverter to ramp across its full rating; `None` follows at once.
    pub ramp_full_scale_s: Option<f64>,
    /// Self-discharge per hour as a fraction of stored energy.
    pub self_discharge_per_hour: f64,
}

impl FleetConfig {
    /// `sites` × `batteries_per_site` batteries with the defaults: seed 1, base 40000, a
    /// one-second ramp, 2e-5 /h self-discharge.
    #[must_use]
    pub fn new(sites: usize, batteries_per_site: u8, start: DateTime<Utc>) -> Self {
        Self {
            sites,
            batteries_per_site,
            seed: 1,
            base: BaseChoice::Fixed(BaseAddress::B40000),
            start,
            ramp_full_scale_s: Some(1.0),
            self_discharge_per_hour: PhysicsParams::default().self_discharge_per_hour,
        }
    }
}

/// How simulated time advances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockConfig {
    /// Simulated seconds per real second; `0` pauses the clock.
    pub speed: f64,
    /// Simulated time per step.
    pub step: Duration,
}

impl Default for ClockConfig {
    fn default() -> Self {
        Self {
            speed: 1.0,
            step: Duration::from_secs(1),
        }
    }
}

/// Shortest real time between two clock ticks; faster speeds take larger simulated steps.
pub const MIN_TICK: Duration = Duration::from_millis(5);

impl ClockConfig {
    /// The real period between ticks and the simulated step taken at each, or `None` if paused.
    #[must_use]
    pub fn schedule(&self) -> Option<(Duration, Duration)> {
        if self.speed <= 0.0 {
            return None;
        }
        let period = self.step.div_f64(self.speed);
        if period >= MIN_TICK {
            Some((period, self.step))
        } else {
            Some((MIN_TICK, MIN_TICK.mul_f64(self.speed)))
        }
    }
}

/// Why a fleet could not be built or started.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The configuration is not usable.
    #[error("invalid fleet configuration: {0}")]
    Config(String),
    /// A site's listener could not be bound.
    #[error("failed to bind modbus listener for site {site} on {addr}")]
    Bind {
        /// The site.
        site: String,
        /// The address tried.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One battery as reachable over Modbus.
#[derive(Debug)]
pub struct Device {
    asset: AssetPath,
    unit_id: u8,
    base: BaseAddress,
    battery: Mutex<SimBattery>,
}

impl Device {
    /// Full hierarchy path.
    #[must_use]
    pub fn asset(&self) -> &AssetPath {
        &self.asset
    }

    /// Modbus unit id at its site's endpoint.
    #[must_use]
    pub fn unit_id(&self) -> u8 {
        self.unit_id
    }

    /// SunSpec base address.
    #[must_use]
    pub fn base_address(&self) -> BaseAddress {
        self.base
    }

    /// Exclusive access to the battery. Never hold it across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, SimBattery> {
        // A panic while holding the lock cannot leave a half-updated battery behind (every
        // mutation assigns whole values), so a poisoned lock is still usable.
        self.battery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Modbus unit id of every site's meter (SunSpec model 201, at base 40000).
pub const METER_UNIT: u8 = 240;

/// Lifetime energy through a site's grid connection, as its meter counts it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MeterEnergy {
    /// Energy imported from the grid (SunSpec 201 `TotWhImp`).
    pub imported: KilowattHours,
    /// Energy exported to the grid (SunSpec 201 `TotWhExp`).
    pub exported: KilowattHours,
}

/// One site: one Modbus TCP endpoint, batteries at unit ids `1..=n`, a meter at
/// [`METER_UNIT`] measuring the site's grid import and counting the energy both ways.
#[derive(Debug)]
pub struct Site {
    name: String,
    devices: Vec<Device>,
    /// Site consumption other than the batteries, kW (net of any PV; `> 0` consumes).
    load: Mutex<Kilowatts>,
    /// The meter's lifetime counters.
    energy: Mutex<MeterEnergy>,
    /// The meter's `TotWh_SF`, fixed for the site's life (see [`crate::sunspec::meter_wh_sf`]).
    wh_sf: i16,
}

impl Site {
    /// The site's path (`region/substation/feeder/site`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The battery at `unit`, if any.
    #[must_use]
    pub fn device(&self, unit: u8) -> Option<&Device> {
        self.devices.get(usize::from(unit).checked_sub(1)?)
    }

    /// All batteries of the site.
    #[must_use]
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// Sets the site's load (consumption other than the batteries, net of PV), kW.
    pub fn set_load(&self, load: Kilowatts) {
        *self
            .load
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = load;
    }

    fn load(&self) -> Kilowatts {
        *self
            .load
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Grid import at the site's connection point: load minus battery power (`> 0` imports).
    /// Between steps, this is the import held over the last part of the last step.
    #[must_use]
    pub fn import(&self) -> Kilowatts {
        self.devices
            .iter()
            .fold(self.load(), |acc, d| acc - d.lock().state().power)
    }

    /// The meter's lifetime counters of energy imported and exported. Each step adds its
    /// import (`> 0`) or export (`< 0`) × time exactly: the load set before the step less the
    /// power each battery held over it (two powers where a revert timer split the step).
    #[must_use]
    pub fn meter_energy(&self) -> MeterEnergy {
        *self
            .energy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The meter's `TotWh_SF`: its counters count units of `10^sf` Wh.
    #[must_use]
    pub fn meter_wh_sf(&self) -> i16 {
        self.wh_sf
    }

    /// Steps the site's batteries by `dt` and counts the energy through the grid connection.
    ///
    /// The import over the step is the load (as set before the step; it changes only between
    /// steps) less each battery's AC power over the step, which [`SimBattery::step_traced`]
    /// tells: the power `physics::step` holds constant over the step, the one
    /// [`Self::import`] reads after it, or two powers where a revert timer split the step. The
    /// import is thus constant between those splits, and each constant stretch adds import ×
    /// its length to the imported counter when positive, to the exported one when negative:
    /// exact, not sampled.
    pub(crate) fn advance(&self, dt: Duration) {
        let mut end = self.load();
        // Batteries whose power changed inside the step: when, and by how much it dropped
        // (what the import was lower by before that moment).
        let mut splits: Vec<(Duration, Kilowatts)> = Vec::new();
        for d in &self.devices {
            let held = d.lock().step_traced(dt);
            end = end - held.after;
            if held.until < dt && held.before != held.after {
                splits.push((held.until, held.before - held.after));
            }
        }
        splits.sort_by_key(|s| s.0);
        // Walk the step backwards from its end, where the import is `end`.
        let mut import = end;
        let mut from = dt;
        let mut energy = self.meter_energy();
        let mut count = |import: Kilowatts, span: Duration| {
            let e = import.over_hours(span.as_secs_f64() / 3600.0);
            if import > Kilowatts::ZERO {
                energy.imported += e;
            } else {
                energy.exported += -e;
            }
        };
        for (at, drop) in splits.iter().rev() {
            count(import, from - *at);
            import = import - *drop;
            from = *at;
        }
        count(import, from);
        *self
            .energy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = energy;
    }
}

/// Sites per feeder, feeders per substation, substations per region used when naming a fleet.
const SITES_PER_FEEDER: usize = 8;
const FEEDERS_PER_SUBSTATION: usize = 4;
const SUBSTATIONS_PER_REGION: usize = 4;

/// Battery models a generated fleet draws from: (capacity kWh, charge kW, discharge kW, weight).
const MODELS: &[(f64, f64, f64, u32)] = &[
    (13.5, 5.0, 5.0, 30),
    (10.0, 5.0, 5.0, 25),
    (5.0, 2.5, 3.0, 15),
    (16.0, 8.0, 8.0, 15),
    (20.0, 10.0, 10.0, 10),
    (100.0, 50.0, 50.0, 5),
];

fn pick_spec(rng: &mut SplitMix64) -> BatterySpecParams {
    let total: u32 = MODELS.iter().map(|m| m.3).sum();
    let mut x = rng.index(total as usize) as u32;
    let (cap, pc, pd, _) = MODELS
        .iter()
        .copied()
        .find(|m| {
            if x < m.3 {
                true
            } else {
                x -= m.3;
                false
            }
        })
        .unwrap_or(MODELS[0]);
    BatterySpecParams {
        capacity_kwh: cap,
        max_charge_kw: pc,
        max_discharge_kw: pd,
        charge_efficiency: rng.range(0.94, 0.97),
        discharge_efficiency: rng.range(0.94, 0.97),
        soc_min: 0.05,
        soc_max: 1.0,
        soc_reserve: if rng.next_f64() < 0.5 { 0.1 } else { 0.2 },
    }
}

/// A fleet of simulated batteries and its simulated clock.
#[derive(Debug)]
pub struct Fleet {
    sites: Vec<Arc<Site>>,
    now: Mutex<DateTime<Utc>>,
}

impl Fleet {
    /// Builds the fleet described by `config`: deterministic for a seed.
    pub fn build(config: &FleetConfig) -> Result<Self, FleetError> {
        if config.sites == 0 {
            return Err(FleetError::Config("sites must be at least 1".into()));
        }
        if config.batteries_per_site == 0 || config.batteries_per_site > MAX_UNITS_PER_SITE {
            return Err(FleetError::Config(format!(
                "batteries per site must be within 1..=239 (Modbus unit ids; 240 is the meter), got {}",
                config.batteries_per_site
            )));
        }
        if let Some(r) = config.ramp_full_scale_s
            && !(r.is_finite() && r > 0.0)
        {
            return Err(FleetError::Config(format!(
                "ramp time must be positive, got {r}"
            )));
        }
        if !(config.self_discharge_per_hour.is_finite()
            && (0.0..1.0).contains(&config.self_discharge_per_hour))
        {
            return Err(FleetError::Config(format!(
                "self-discharge must be within [0, 1) per hour, got {}",
                config.self_discharge_per_hour
            )));
        }
        let mut rng = SplitMix64::new(config.seed);
        let mut sites = Vec::with_capacity(config.sites);
        for s in 0..config.sites {
            let feeder = s / SITES_PER_FEEDER;
            let substation = feeder / FEEDERS_PER_SUBSTATION;
            let region = substation / SUBSTATIONS_PER_REGION;
            let names = [
                format!("r{:02}", region + 1),
                format!("sub{:03}", substation + 1),
                format!("f{:04}", feeder + 1),
                format!("site{:05}", s + 1),
            ];
            let mut devices = Vec::with_capacity(usize::from(config.batteries_per_site));
            for unit in 1..=config.batteries_per_site {
                let params = pick_spec(&mut rng);
                let spec = BatterySpec::new(params)
                    .map_err(|e| FleetError::Config(format!("generated battery spec: {e}")))?;
                let soc = Soc::new(rng.range(0.3, 0.8))
                    .map_err(|e| FleetError::Config(format!("generated soc: {e}")))?;
                let base = match config.base {
                    BaseChoice::Fixed(b) => b,
                    BaseChoice::Mixed => BaseAddress::ALL[rng.index(3)],
                };
                let asset = AssetPath::new(
                    &names[0],
                    &names[1],
                    &names[2],
                    &names[3],
                    // Unique across the fleet: the leaf is the asset's identity (it keeps it when it
                    // moves between sites).
                    &format!("bat{:05}-{unit:03}", s + 1),
                )
                .map_err(|e| FleetError::Config(format!("generated path: {e}")))?;
                let ramp = config
                    .ramp_full_scale_s
                    .map(|t| spec.max_charge().max(spec.max_discharge()) * (1.0 / t));
                let physics = PhysicsParams {
                    ramp_kw_per_s: ramp,
                    self_discharge_per_hour: config.self_discharge_per_hour,
                };
                let identity = Identity {
                    manufacturer: "vpp".into(),
                    model: "vpp-battery-sim".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    serial: format!("SIM{:05}{unit:03}", s + 1),
                };
                devices.push(Device {
                    asset,
                    unit_id: unit,
                    base,
                    battery: Mutex::new(SimBattery::new(spec, physics, soc, identity)),
                });
            }
            // The site's grid connection is sized for its batteries, at least.
            let rating: f64 = devices
                .iter()
                .map(|d| {
                    let b = d.lock();
                    b.spec()
                        .max_charge()
                        .get()
                        .max(b.spec().max_discharge().get())
                })
                .sum();
            sites.push(Arc::new(Site {
                name: names.join("/"),
                devices,
                load: Mutex::new(Kilowatts::ZERO),
                energy: Mutex::new(MeterEnergy::default()),
                wh_sf: crate::sunspec::meter_wh_sf(rating),
            }));
        }
        Ok(Self {
            sites,
            now: Mutex::new(config.start),
        })
    }

    /// All sites.
    #[must_use]
    pub fn sites(&self) -> &[Arc<Site>] {
        &self.sites
    }

    /// Every battery, site by site.
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.sites.iter().flat_map(|s| s.devices.iter())
    }

    /// The battery at `asset`, if any.
    #[must_use]
    pub fn device(&self, asset: &AssetPath) -> Option<&Device> {
        self.devices().find(|d| d.asset() == asset)
    }

    /// Current simulated time.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Advances every battery, every site meter's energy counters (exact over the step, see
    /// [`Site::meter_energy`]) and the simulated clock by `dt`.
    pub fn advance(&self, dt: Duration) {
        for s in &self.sites {
            s.advance(dt);
        }
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += TimeDelta::from_std(dt).unwrap_or(TimeDelta::MAX);
    }

    /// Total battery power of the fleet right now (`> 0` discharging).
    #[must_use]
    pub fn total_power(&self) -> Kilowatts {
        self.devices()
            .fold(Kilowatts::ZERO, |acc, d| acc + d.lock().state().power)
    }
}

impl vpp_domain::Clock for Fleet {
    fn now(&self) -> DateTime<Utc> {
        Fleet::now(self)
    }
}

/// How to reach one simulated battery: the machine-readable device list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Hierarchy path.
    pub asset: AssetPath,
    /// Host of the site's Modbus TCP endpoint.
    pub host: IpAddr,
    /// Port of the site's endpoint.
    pub port: u16,
    /// Modbus unit id.
    pub unit_id: u8,
    /// SunSpec base register.
    pub base_address: u16,
    /// Serial number (SunSpec model 1 `SN`).
    pub serial: String,
    /// Rating and limits.
    pub spec: BatterySpecParams,
    /// State of charge when the list was made.
    pub soc: f64,
}

/// A fleet served over Modbus TCP, with its clock running. Dropping it stops everything.
#[derive(Debug)]
pub struct RunningFleet {
    fleet: Arc<Fleet>,
    endpoints: Vec<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningFleet {
    /// Binds one listener per site on `host` (ports `base_port + i`, or OS-assigned when
    /// `base_port` is 0) and starts the clock.
    pub async fn start(
        fleet: Arc<Fleet>,
        host: IpAddr,
        base_port: u16,
        clock: ClockConfig,
    ) -> Result<Self, FleetError> {
        if !(clock.speed.is_finite() && clock.speed >= 0.0) {
            return Err(FleetError::Config(format!(
                "speed must be >= 0, got {}",
                clock.speed
            )));
        }
        if clock.step.is_zero() {
            return Err(FleetError::Config("clock step must be positive".into()));
        }
        let n = fleet.sites().len();
        if base_port != 0 && usize::from(base_port) + n > usize::from(u16::MAX) + 1 {
            return Err(FleetError::Config(format!(
                "{n} sites do not fit in ports {base_port}..=65535"
            )));
        }
        let mut running = Self {
            fleet: Arc::clone(&fleet),
            endpoints: Vec::with_capacity(n),
            tasks: Vec::with_capacity(n + 1),
        };
        for (i, site) in fleet.sites().iter().enumerate() {
            let port = if base_port == 0 {
                0
            } else {
                base_port + i as u16
            };
            let addr = SocketAddr::new(host, port);
            let (local, task) =
                server::serve_site(Arc::clone(site), addr)
                    .await
                    .map_err(|source| FleetError::Bind {
                        site: site.name().to_owned(),
                        addr,
                        source,
                    })?;
            running.endpoints.push(local);
            running.tasks.push(task);
        }
        if let Some((period, step)) = clock.schedule() {
            let fleet = Arc::clone(&fleet);
            running.tasks.push(tokio::spawn(async move {
                let mut ticks = tokio::time::interval(period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    fleet.advance(step);
                }
            }));
        }
        Ok(running)
    }

    /// The fleet.
    #[must_use]
    pub fn fleet(&self) -> &Arc<Fleet> {
        &self.fleet
    }

    /// Bound endpoint of each site, in site order.
    #[must_use]
    pub fn endpoints(&self) -> &[SocketAddr] {
        &self.endpoints
    }

    /// The machine-readable device list.
    #[must_use]
    pub fn devices(&self) -> Vec<DeviceInfo> {
        self.fleet
            .sites()
            .iter()
            .zip(&self.endpoints)
            .flat_map(|(site, ep)| {
                site.devices().iter().map(move |d| {
                    let b = d.lock();
                    DeviceInfo {
                        asset: d.asset().clone(),
                        host: ep.ip(),
                        port: ep.port(),
                        unit_id: d.unit_id(),
                        base_address: d.base_address().address(),
                        serial: b.identity().serial.clone(),
                        spec: b.spec().params(),
                        soc: b.state().soc(b.spec()).get(),
                    }
                })
            })
            .collect()
    }
}

impl Drop for RunningFleet {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Controls;
    use chrono::TimeZone;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn fleets_are_deterministic_for_a_seed_and_named_hierarchically() {
        let cfg = FleetConfig::new(20, 3, start());
        let a = Fleet::build(&cfg).unwrap();
        let b = Fleet::build(&cfg).unwrap();
        let specs = |f: &Fleet| {
            f.devices()
                .map(|d| d.lock().spec().params())
                .collect::<Vec<_>>()
        };
        assert_eq!(specs(&a), specs(&b));
        assert_eq!(a.devices().count(), 60);
        let last = a.devices().last().unwrap();
        assert_eq!(
            last.asset().to_string(),
            "r01/sub001/f0003/site00020/bat00020-003"
        );
        assert_eq!(a.sites()[0].device(1).unwrap().unit_id(), 1);
        assert!(a.sites()[0].device(0).is_none());
        assert!(a.sites()[0].device(4).is_none());
        let other = Fleet::build(&FleetConfig { seed: 2, ..cfg }).unwrap();
        assert_ne!(specs(&a), specs(&other));
    }

    #[test]
    fn bad_configs_are_rejected_with_a_reason() {
        let err = Fleet::build(&FleetConfig::new(1, 0, start())).unwrap_err();
        assert!(err.to_string().contains("1..=239"), "{err}");
        assert!(Fleet::build(&FleetConfig::new(0, 1, start())).is_err());
        assert!(Fleet::build(&FleetConfig::new(1, 240, start())).is_err());
    }

    #[test]
    fn advancing_moves_the_clock() {
        let f = Fleet::build(&FleetConfig::new(1, 1, start())).unwrap();
        f.advance(Duration::from_secs(90));
        assert_eq!(f.now(), start() + TimeDelta::seconds(90));
    }

    fn kw(v: f64) -> Kilowatts {
        Kilowatts::new(v).unwrap()
    }

    fn close(a: KilowattHours, b: f64) -> bool {
        (a.get() - b).abs() < 1e-12
    }

    #[test]
    fn site_meters_count_import_times_time_both_ways() {
        let cfg = FleetConfig {
            ramp_full_scale_s: None,
            ..FleetConfig::new(2, 2, start())
        };
        let f = Fleet::build(&cfg).unwrap();
        let site = &f.sites()[0];
        assert_eq!(site.meter_energy(), MeterEnergy::default());
        site.set_load(kw(3.0));
        f.advance(Duration::from_secs(600));
        let import = site.import().get();
        assert_eq!(import, 3.0, "idle batteries");
        let e = site.meter_energy();
        assert!(close(e.imported, import * 600.0 / 3600.0), "{e:?}");
        assert_eq!(e.exported, KilowattHours::ZERO);
        // A battery charging adds to the import.
        let c = Controls {
            enabled: true,
            w_set: -2000,
            ..Controls::default()
        };
        site.device(1).unwrap().lock().set_controls(c, true);
        f.advance(Duration::from_secs(1800));
        assert_eq!(site.import().get(), 5.0);
        let e = site.meter_energy();
        assert!(close(e.imported, 0.5 + 5.0 * 0.5), "{e:?}");
        site.set_load(kw(-4.0));
        for _ in 0..90 {
            f.advance(Duration::from_secs(10));
        }
        assert_eq!(site.import().get(), -2.0);
        let e = site.meter_energy();
        assert!(close(e.imported, 3.0), "{e:?}");
        assert!(close(e.exported, 2.0 * 0.25), "{e:?}");
        // The other site saw nothing.
        assert_eq!(f.sites()[1].meter_energy(), MeterEnergy::default());
    }

    #[test]
    fn a_revert_inside_a_step_splits_the_sites_import_exactly() {
        let cfg = FleetConfig {
            ramp_full_scale_s: None,
            ..FleetConfig::new(1, 2, start())
        };
        let f = Fleet::build(&cfg).unwrap();
        let site = &f.sites()[0];
        site.set_load(kw(1.0));
        // 2 kW of discharge for the first 10 s of a 30 s step, then the default (idle): 1 kW
        // exported for 10 s, then 1 kW imported for 20 s.
        let c = Controls {
            enabled: true,
            w_set: 2000,
            revert_after_s: 10,
            ..Controls::default()
        };
        site.device(2).unwrap().lock().set_controls(c, true);
        f.advance(Duration::from_secs(30));
        assert_eq!(site.import().get(), 1.0, "reverted");
        let e = site.meter_energy();
        assert!(close(e.exported, 10.0 / 3600.0), "{e:?}");
        assert!(close(e.imported, 20.0 / 3600.0), "{e:?}");
    }

    #[test]
    fn fast_clocks_take_bigger_steps_not_faster_ticks() {
        let c = ClockConfig {
            speed: 3600.0,
            step: Duration::from_secs(1),
        };
        let (period, step) = c.schedule().unwrap();
        assert_eq!(period, MIN_TICK);
        assert_eq!(step, Duration::from_secs(18));
        assert!(ClockConfig { speed: 0.0, ..c }.schedule().is_none());
        let (period, step) = ClockConfig { speed: 2.0, ..c }.schedule().unwrap();
        assert_eq!(
            (period, step),
            (Duration::from_millis(500), Duration::from_secs(1))
        );
    }
}
