//! The SunSpec gateway: polls devices over Modbus TCP, publishes telemetry and events on the
//! bus, and writes setpoints from the bus into SunSpec model 704.
//!
//! Shape: one worker task per Modbus endpoint (a site) owns that endpoint's connection and
//! polls its units one request at a time (the concurrency limit of a shared endpoint), so one
//! slow or dead unit never stalls another endpoint. Setpoints jump the poll queue. A router task
//! per site takes setpoints from the bus and hands them to the worker that owns the asset. An
//! uplink task publishes everything the workers produce, in order, through a bounded buffer
//! that rides out a bus outage (edge autonomy, see [`Uplink`]).
//!
//! Site meters: each worker reads its endpoint's site meter (SunSpec 201, unit 240 by
//! default) every poll round and publishes the reading as the meter's telemetry
//! ([`AssetKind::SiteMeter`], under [`crate::wire::site_meter_asset`]): the control plane
//! learns each site's import from it. The local fallback and the site guard read the same
//! meter through the same path.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vpp_domain::{
    AssetPath, Clock, KilowattHours, Kilowatts, Level, NodePath, Readings, Soc, TelemetrySample,
};

use crate::bus::{Bus, BusError, Delivery, Topic};
use crate::sunspec_client::{self as client, ClientError, Connection, ModelMap, PollValues};
use crate::wire::{
    AckMsg, AckOutcome, AssetKind, DeviceDescription, EventKind, EventMsg, Message, SetpointMsg,
    TelemetryMsg, WIRE_VERSION,
};
use vpp_sunspec::layout::{m1, m701, m702, m802};

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// One device the gateway polls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceConfig {
    /// Hierarchy path.
    pub asset: AssetPath,
    /// Host of the Modbus TCP endpoint.
    pub host: std::net::IpAddr,
    /// Port of the endpoint.
    pub port: u16,
    /// Modbus unit id.
    pub unit_id: u8,
}

impl DeviceConfig {
    fn endpoint(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

fn default_poll_ms() -> u64 {
    1000
}
fn default_timeout_ms() -> u64 {
    500
}
fn default_stale_polls() -> u32 {
    3
}
fn default_offline_retry_ms() -> u64 {
    5000
}
fn default_reconnect_max_ms() -> u64 {
    30_000
}
fn default_buffer() -> usize {
    100_000
}

/// Gateway settings. Only `devices` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayConfig {
    /// The devices.
    pub devices: Vec<DeviceConfig>,
    /// Time between two polls of a device, ms.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// Timeout of one Modbus request, ms.
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Identical polls in a row (heartbeat included) after which values are flagged stale.
    /// Devices without a heartbeat need ten times as many.
    #[serde(default = "default_stale_polls")]
    pub stale_after_polls: u32,
    /// Time before an unreachable device is tried again, ms; doubled with each failure in a
    /// row, up to eight times this (each try may hold its endpoint for a request timeout).
    #[serde(default = "default_offline_retry_ms")]
    pub offline_retry_ms: u64,
    /// Longest wait between reconnection attempts to an endpoint, ms (backoff doubles from
    /// 100 ms up to this).
    #[serde(default = "default_reconnect_max_ms")]
    pub reconnect_max_ms: u64,
    /// Messages held while the bus is unreachable; when full, the oldest telemetry is dropped
    /// first (events and acks are kept while any telemetry can go instead).
    #[serde(default = "default_buffer")]
    pub buffer_capacity: usize,
    /// Local fallback per site: while the bus is unreachable, hold the site's grid import
    /// under a limit with its batteries.
    #[serde(default)]
    pub fallback: Vec<SiteFallback>,
    /// Read every endpoint's site meter each poll round and publish it as the meter's
    /// telemetry (an endpoint without a meter is looked at again once a minute).
    #[serde(default = "default_site_meters")]
    pub site_meters: bool,
    /// Modbus unit id of the site meter (SunSpec model 201) at every endpoint; a site's
    /// `fallback` entry names its own.
    #[serde(default = "default_meter_unit")]
    pub meter_unit: u8,
}

fn default_meter_unit() -> u8 {
    240
}

fn default_site_meters() -> bool {
    true
}

/// Local fallback of one site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteFallback {
    /// The site, `region/substation/feeder/site`.
    pub site: vpp_domain::NodePath,
    /// Import limit held while the control plane is unreachable, kW.
    pub import_limit_kw: f64,
    /// Modbus unit id of the site meter (SunSpec model 201) at the site's endpoint.
    #[serde(default = "default_meter_unit")]
    pub meter_unit: u8,
    /// Hours over which the site guard rations each battery's stored energy (0: no rationing).
    #[serde(default = "default_guard_endurance_h")]
    pub guard_endurance_h: f64,
}

/// The site guard's default endurance: an hour (a demand charge bills the highest
/// quarter-hour, and the evening peaks of the homes in `../shared/data` last one to two).
#[must_use]
pub fn default_guard_endurance_h() -> f64 {
    1.0
}

impl GatewayConfig {
    /// A configuration with the defaults for `devices`.
    #[must_use]
    pub fn new(devices: Vec<DeviceConfig>) -> Self {
        Self {
            devices,
            poll_interval_ms: default_poll_ms(),
            request_timeout_ms: default_timeout_ms(),
            stale_after_polls: default_stale_polls(),
            offline_retry_ms: default_offline_retry_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            buffer_capacity: default_buffer(),
            fallback: Vec::new(),
            site_meters: default_site_meters(),
            meter_unit: default_meter_unit(),
        }
    }

    /// Parses a configuration file: a JSON object `{"devices": [...], ...}`, or JSON Lines of
    /// devices (what `vpp sim` prints).
    pub fn parse(text: &str) -> Result<Self, GatewayError> {
        let as_object = serde_json::from_str::<Self>(text);
        if let Ok(cfg) = as_object {
            return cfg.validated();
        }
        let mut devices = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let d: DeviceConfig = serde_json::from_str(line).map_err(|e| {
                let object_err = as_object
                    .as_ref()
                    .err()
                    .map_or_else(String::new, ToString::to_string);
                GatewayError::Config(format!(
                    "neither a gateway config object ({object_err}) nor device lines (line {}: {e})",
                    i + 1
                ))
            })?;
            devices.push(d);
        }
        Self::new(devices).validated()
    }

    /// Checks the settings.
    pub fn validated(self) -> Result<Self, GatewayError> {
        if self.devices.is_empty() {
            return Err(GatewayError::Config("no devices".into()));
        }
        let mut seen = BTreeSet::new();
        for d in &self.devices {
            if !seen.insert(&d.asset) {
                return Err(GatewayError::Config(format!(
                    "asset {} listed twice",
                    d.asset
                )));
            }
        }
        for f in &self.fallback {
            if f.site.level() != vpp_domain::Level::Site {
                return Err(GatewayError::Config(format!(
                    "fallback site {:?} is not a site path",
                    f.site.to_string()
                )));
            }
            if !f.import_limit_kw.is_finite() {
                return Err(GatewayError::Config(format!(
                    "fallback import limit of {} is not a number",
                    f.site
                )));
            }
            if !(f.guard_endurance_h.is_finite() && f.guard_endurance_h >= 0.0) {
                return Err(GatewayError::Config(format!(
                    "guard_endurance_h of {} must be a number of hours ≥ 0",
                    f.site
                )));
            }
        }
        if !(1..=247).contains(&self.meter_unit) {
            return Err(GatewayError::Config(format!(
                "meter_unit {} is not a Modbus unit id (1..=247)",
                self.meter_unit
            )));
        }
        if self.poll_interval_ms == 0 || self.request_timeout_ms == 0 {
            return Err(GatewayError::Config(
                "poll_interval_ms and request_timeout_ms must be positive".into(),
            ));
        }
        Ok(self)
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Bad configuration.
    #[error("invalid gateway configuration: {0}")]
    Config(String),
    /// The bus refused a subscription.
    #[error("gateway could not subscribe to setpoints")]
    Bus(#[from] BusError),
}

/// Counters of a running gateway.
#[derive(Debug, Default)]
pub struct GatewayStats {
    /// Successful polls.
    pub polls: AtomicU64,
    /// Failed polls or discoveries.
    pub poll_errors: AtomicU64,
    /// Messages published on the bus.
    pub published: AtomicU64,
    /// Messages dropped because the buffer was full during a bus outage.
    pub dropped: AtomicU64,
    /// Messages waiting in the buffer now.
    pub buffered: AtomicU64,
    /// Setpoints written to devices.
    pub setpoints_written: AtomicU64,
    /// Setpoints rejected.
    pub setpoints_rejected: AtomicU64,
    /// Whether the last publish failed (the bus, so the control plane, is unreachable).
    pub bus_down: std::sync::atomic::AtomicBool,
    /// Fallback setpoints written.
    pub fallback_writes: AtomicU64,
    /// Writes of the site guard (discharge raised over a setpoint, or back to it).
    pub guard_writes: AtomicU64,
    /// Site meter readings published as telemetry.
    pub meter_samples: AtomicU64,
}

/// A running gateway; dropping it stops its tasks.
#[derive(Debug)]
pub struct Gateway {
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<GatewayStats>,
}

impl Gateway {
    /// Starts polling `config.devices` and listening for their setpoints on `bus`.
    pub async fn spawn(
        config: GatewayConfig,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, GatewayError> {
        let config = config.validated()?;
        let stats = Arc::new(GatewayStats::default());
        let (up_tx, up_rx) = mpsc::channel(4096);
        let mut tasks = Vec::new();

        let uplink = Uplink {
            bus: Arc::clone(&bus),
            rx: up_rx,
            buffer: VecDeque::new(),
            capacity: config.buffer_capacity.max(1),
            stats: Arc::clone(&stats),
        };
        tasks.push(tokio::spawn(uplink.run()));

        // Group devices by endpoint; one worker each.
        let mut by_endpoint: HashMap<SocketAddr, Vec<DeviceConfig>> = HashMap::new();
        for d in &config.devices {
            by_endpoint.entry(d.endpoint()).or_default().push(d.clone());
        }
        let mut routes: HashMap<AssetPath, mpsc::Sender<SetpointMsg>> = HashMap::new();
        for (endpoint, devices) in by_endpoint {
            let (tx, rx) = mpsc::channel(256);
            for d in &devices {
                routes.insert(d.asset.clone(), tx.clone());
            }
            let fallback = config
                .fallback
                .iter()
                .find(|f| {
                    devices
                        .iter()
                        .any(|d| d.asset.ancestor(vpp_domain::Level::Site) == f.site)
                })
                .map(|f| FallbackState {
                    config: f.clone(),
                    engaged: false,
                    guarding: false,
                });
            let meter = MeterState::for_endpoint(&config, fallback.as_ref(), &devices);
            let worker = Worker {
                fallback,
                meter,
                endpoint,
                devices: devices.into_iter().map(DeviceState::new).collect(),
                commands: rx,
                uplink: up_tx.clone(),
                clock: Arc::clone(&clock),
                settings: Settings::from(&config),
                stats: Arc::clone(&stats),
                conn: None,
            };
            tasks.push(tokio::spawn(worker.run()));
        }

        // One setpoint subscription per site.
        let routes = Arc::new(routes);
        let sites: BTreeSet<String> = config
            .devices
            .iter()
            .map(|d| d.asset.site().to_string())
            .collect();
        for site in sites {
            let mut sub = bus.subscribe(Topic::Setpoints { site: Some(site) }).await?;
            let routes = Arc::clone(&routes);
            let uplink = up_tx.clone();
            let clock = Arc::clone(&clock);
            let stats = Arc::clone(&stats);
            tasks.push(tokio::spawn(async move {
                while let Some(delivery) = sub.next().await {
                    route(delivery, &routes, &uplink, clock.as_ref(), &stats).await;
                }
            }));
        }
        Ok(Self { tasks, stats })
    }

    /// Live counters.
    #[must_use]
    pub fn stats(&self) -> &Arc<GatewayStats> {
        &self.stats
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn event(asset: Option<AssetPath>, at: DateTime<Utc>, kind: EventKind) -> Message {
    Message::Event(EventMsg {
        v: WIRE_VERSION,
        asset,
        at,
        kind,
    })
}

async fn route(
    delivery: Delivery,
    routes: &HashMap<AssetPath, mpsc::Sender<SetpointMsg>>,
    uplink: &mpsc::Sender<Message>,
    clock: &dyn Clock,
    stats: &GatewayStats,
) {
    match delivery {
        Delivery::Message(Message::Setpoint(sp)) => {
            let asset = sp.setpoint.asset().clone();
            match routes.get(&asset) {
                Some(worker) => {
                    // The worker's queue is bounded: a flood of setpoints waits here.
                    let _ = worker.send(sp).await;
                }
                None => {
                    stats.setpoints_rejected.fetch_add(1, Ordering::Relaxed);
                    let reason = format!("unknown asset {asset}: not served by this gateway");
                    tracing::warn!(%asset, "setpoint for an unknown asset");
                    let _ = uplink
                        .send(event(
                            Some(asset.clone()),
                            clock.now(),
                            EventKind::SetpointRejected {
                                subject: crate::subjects::setpoint(&asset),
                                correlation_id: Some(sp.setpoint.correlation_id().clone()),
                                reason: reason.clone(),
                            },
                        ))
                        .await;
                    let _ = uplink
                        .send(Message::Ack(AckMsg {
                            v: WIRE_VERSION,
                            asset,
                            correlation_id: sp.setpoint.correlation_id().clone(),
                            at: clock.now(),
                            outcome: AckOutcome::Rejected { reason },
                        }))
                        .await;
                }
            }
        }
        Delivery::Message(_) => {}
        Delivery::Malformed { subject, error } => {
            stats.setpoints_rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%subject, %error, "malformed setpoint");
            let _ = uplink
                .send(event(
                    None,
                    clock.now(),
                    EventKind::SetpointRejected {
                        subject,
                        correlation_id: None,
                        reason: error.to_string(),
                    },
                ))
                .await;
        }
    }
}

/// Worker settings derived from the configuration.
#[derive(Debug, Clone, Copy)]
struct Settings {
    poll: Duration,
    timeout: Duration,
    stale_after: u32,
    offline_retry: Duration,
    reconnect_max: Duration,
}

impl From<&GatewayConfig> for Settings {
    fn from(c: &GatewayConfig) -> Self {
        Self {
            poll: Duration::from_millis(c.poll_interval_ms),
            timeout: Duration::from_millis(c.request_timeout_ms),
            stale_after: c.stale_after_polls.max(1),
            offline_retry: Duration::from_millis(c.offline_retry_ms),
            reconnect_max: Duration::from_millis(c.reconnect_max_ms.max(100)),
        }
    }
}

/// What the gateway knows of one device.
#[derive(Debug)]
struct DeviceState {
    cfg: DeviceConfig,
    map: Option<ModelMap>,
    description: Option<DeviceDescription>,
    online: bool,
    registered: bool,
    last: Option<PollValues>,
    repeats: u32,
    seq: u64,
    retry_at: Option<Instant>,
    /// Failed polls in a row.
    failures: u32,
    /// The setpoint in force, as written.
    active: Option<Active>,
}

/// A setpoint in force at a device.
#[derive(Debug, Clone, Copy)]
struct Active {
    /// Power written for the setpoint, kW (positive: discharge).
    kw: f64,
    /// Until when.
    valid_until: DateTime<Utc>,
    /// The site import cap it carries, kW.
    cap: Option<f64>,
    /// Power last written (the setpoint's, or the guard's above it), kW.
    written: f64,
}

impl DeviceState {
    fn new(cfg: DeviceConfig) -> Self {
        Self {
            cfg,
            map: None,
            description: None,
            online: false,
            registered: false,
            last: None,
            repeats: 0,
            seq: 0,
            retry_at: None,
            failures: 0,
            active: None,
        }
    }

    /// What the fallback and the guard know of the battery: `None` without a register map,
    /// a description with its discharge rating, or a poll.
    fn battery_view(&self) -> Option<crate::fallback::BatteryView> {
        self.map?;
        let desc = self.description.as_ref()?;
        let last = self.last?;
        let floor = desc
            .soc_reserve
            .into_iter()
            .chain(desc.soc_min)
            .fold(0.0_f64, f64::max);
        Some(crate::fallback::BatteryView {
            power_kw: last.power_kw.unwrap_or(0.0),
            max_discharge_kw: desc.max_discharge_kw?,
            soc: last.soc,
            soc_reserve: desc.soc_reserve,
            energy_kwh: match (last.soc, desc.capacity_kwh) {
                (Some(soc), Some(cap)) => Some(((soc - floor) * cap).max(0.0)),
                _ => None,
            },
        })
    }

    /// The next measurement id (see [`next_measurement_id`]).
    fn next_seq(&mut self, at: DateTime<Utc>) -> u64 {
        next_measurement_id(&mut self.seq, at)
    }
}

/// The measurement id after `last`, measured at `at`: unique per asset across gateway
/// restarts (it starts from the measurement time in microseconds and only grows).
fn next_measurement_id(last: &mut u64, at: DateTime<Utc>) -> u64 {
    let from_time = u64::try_from(at.timestamp_micros()).unwrap_or(0);
    *last = (*last + 1).max(from_time);
    *last
}

/// The local fallback and the site guard of a worker's site (both read the site meter,
/// through [`Worker::read_site_meter`]).
#[derive(Debug)]
struct FallbackState {
    config: SiteFallback,
    engaged: bool,
    guarding: bool,
}

/// How long a site meter that discovery did not find is left alone: each look holds the
/// endpoint for a request or more, which must not slow the batteries' polls.
const METER_RETRY: Duration = Duration::from_secs(60);

/// The site meter of a worker's endpoint (SunSpec 201): one discovery and one read path for
/// its telemetry, the local fallback and the site guard.
#[derive(Debug)]
struct MeterState {
    /// Modbus unit id.
    unit: u8,
    /// The site it measures.
    site: NodePath,
    /// The asset its telemetry is published as; `None`: not published.
    asset: Option<AssetPath>,
    /// Where model 201 is, once discovered on this connection.
    at: Option<u16>,
    /// After a failed discovery: no new one before this.
    retry_at: Option<Instant>,
    /// Last measurement id.
    seq: u64,
    /// Whether the meter was read in this poll round.
    read_in_round: bool,
}

impl MeterState {
    /// The meter of an endpoint serving `devices`, when its telemetry is published or the site
    /// has a fallback. It measures the fallback's site, else the site of the endpoint's first
    /// device (an endpoint is one site's Modbus gateway).
    fn for_endpoint(
        config: &GatewayConfig,
        fallback: Option<&FallbackState>,
        devices: &[DeviceConfig],
    ) -> Option<Self> {
        if !config.site_meters && fallback.is_none() {
            return None;
        }
        let site = fallback
            .map(|f| f.config.site.clone())
            .or_else(|| devices.first().map(|d| d.asset.ancestor(Level::Site)))?;
        let asset = if config.site_meters {
            match crate::wire::site_meter_asset(&site) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!(%site, err = %e, "the site meter has no valid asset path: its telemetry is not published");
                    None
                }
            }
        } else {
            None
        };
        if asset.is_none() && fallback.is_none() {
            return None;
        }
        Some(Self {
            unit: fallback.map_or(config.meter_unit, |f| f.config.meter_unit),
            site,
            asset,
            at: None,
            retry_at: None,
            seq: 0,
            read_in_round: false,
        })
    }
}

/// Owns one endpoint's connection and devices.
struct Worker {
    fallback: Option<FallbackState>,
    meter: Option<MeterState>,
    endpoint: SocketAddr,
    devices: Vec<DeviceState>,
    commands: mpsc::Receiver<SetpointMsg>,
    uplink: mpsc::Sender<Message>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    stats: Arc<GatewayStats>,
    conn: Option<Connection>,
}

impl Worker {
    async fn emit(&mut self, msg: Message) {
        // The uplink only stops when the gateway stops.
        let _ = self.uplink.send(msg).await;
    }

    async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        let mut ticks = tokio::time::interval(self.settings.poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.conn.is_none() {
                match Connection::connect(self.endpoint, self.settings.timeout).await {
                    Ok(c) => {
                        self.conn = Some(c);
                        backoff = Duration::from_millis(100);
                        // Discovered once per connection.
                        if let Some(m) = self.meter.as_mut() {
                            m.at = None;
                        }
                    }
                    Err(e) => {
                        self.all_offline(&format!("endpoint {} unreachable: {e}", self.endpoint))
                            .await;
                        let wake = tokio::time::sleep(backoff);
                        tokio::pin!(wake);
                        loop {
                            tokio::select! {
                                () = &mut wake => break,
                                cmd = self.commands.recv() => match cmd {
                                    Some(sp) => self.reject(&sp, "device offline: endpoint unreachable".into()).await,
                                    None => return,
                                },
                            }
                        }
                        backoff = (backoff * 2).min(self.settings.reconnect_max);
                        continue;
                    }
                }
            }
            tokio::select! {
                biased;
                cmd = self.commands.recv() => match cmd {
                    Some(sp) => self.apply_setpoints(sp).await,
                    None => return,
                },
                _ = ticks.tick() => {
                    // The devices that answer and the site's meter first; then those that
                    // do not, each of which may hold the worker for a request timeout.
                    self.poll_all(false).await;
                    self.site_round().await;
                    self.poll_all(true).await;
                }
            }
        }
    }

    async fn all_offline(&mut self, reason: &str) {
        let now = self.clock.now();
        for i in 0..self.devices.len() {
            if self.devices[i].online {
                self.devices[i].online = false;
                let asset = self.devices[i].cfg.asset.clone();
                self.emit(event(
                    Some(asset),
                    now,
                    EventKind::Disconnect {
                        reason: reason.to_owned(),
                    },
                ))
                .await;
            }
        }
    }

    /// Records a failure of device `i`; drops the connection on a transport error.
    async fn device_failed(&mut self, i: usize, err: &ClientError) {
        self.stats.poll_errors.fetch_add(1, Ordering::Relaxed);
        let now = self.clock.now();
        let asset = self.devices[i].cfg.asset.clone();
        if let ClientError::Exception { .. }
        | ClientError::Model { .. }
        | ClientError::ShortRead { .. }
        | ClientError::NotSunSpec = err
        {
            self.emit(event(
                Some(asset.clone()),
                now,
                EventKind::Fault {
                    reason: err.to_string(),
                },
            ))
            .await;
        }
        let d = &mut self.devices[i];
        // Each retry of a silent device may hold the worker (its siblings' polls, the site
        // guard, setpoints) for a request timeout: the wait doubles with every failure in a
        // row, up to eight times `offline_retry`.
        d.failures = d.failures.saturating_add(1);
        let backoff = 1_u32 << d.failures.saturating_sub(1).min(3);
        d.retry_at = Some(Instant::now() + self.settings.offline_retry * backoff);
        d.last = None;
        d.repeats = 0;
        if d.online {
            d.online = false;
            self.emit(event(
                Some(asset),
                now,
                EventKind::Disconnect {
                    reason: err.to_string(),
                },
            ))
            .await;
        }
        if err.is_transport() {
            self.conn = None;
        }
    }

    /// Applies a setpoint and those queued behind it. A new setpoint replaces whatever the
    /// site guard wrote above the last one: if the guard holds the site's import, it takes
    /// over again at once rather than at the next poll round (which a silent device on the
    /// same endpoint may delay by a request timeout).
    async fn apply_setpoints(&mut self, first: SetpointMsg) {
        self.apply_setpoint(first).await;
        while let Ok(sp) = self.commands.try_recv() {
            self.apply_setpoint(sp).await;
        }
        if self.fallback.as_ref().is_some_and(|f| f.guarding) {
            self.fallback_round().await;
        }
    }

    /// Polls the devices that answer (`retrying` false) or those that did not, whose retry is
    /// due (`retrying` true).
    async fn poll_all(&mut self, retrying: bool) {
        for i in 0..self.devices.len() {
            if self.conn.is_none() {
                return;
            }
            let d = &self.devices[i];
            if d.online == retrying || d.retry_at.is_some_and(|t| Instant::now() < t) {
                continue;
            }
            // Setpoints first, even in the middle of a poll round.
            if let Ok(sp) = self.commands.try_recv() {
                self.apply_setpoints(sp).await;
            }
            if let Err(e) = self.poll_one(i).await {
                tracing::debug!(asset = %self.devices[i].cfg.asset, err = %e, "poll failed");
                self.device_failed(i, &e).await;
            }
        }
    }

    async fn poll_one(&mut self, i: usize) -> Result<(), ClientError> {
        let unit = self.devices[i].cfg.unit_id;
        let endpoint = self.endpoint.to_string();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let map = match self.devices[i].map {
            Some(m) => m,
            None => {
                let map = conn.discover(unit).await?;
                let b1 = conn.read(unit, map.m1, m1::LEN).await?;
                let b702 = conn.read(unit, map.m702, m702::LEN).await?;
                let b802 = conn.read(unit, map.m802, m802::LEN).await?;
                let desc = client::describe(endpoint, unit, &map, &b1, &b702, &b802);
                let d = &mut self.devices[i];
                d.map = Some(map);
                d.description = Some(desc);
                map
            }
        };
        let measured_at = self.clock.now();
        let b701 = conn.read(unit, map.m701, m701::LEN).await?;
        let b802 = conn.read(unit, map.m802, m802::LEN).await?;
        let received_at = self.clock.now().max(measured_at);
        let values = client::decode_poll(&b701, &b802);
        self.stats.polls.fetch_add(1, Ordering::Relaxed);

        let settings = self.settings;
        let d = &mut self.devices[i];
        d.retry_at = None;
        d.failures = 0;
        let asset = d.cfg.asset.clone();
        let mut out = Vec::new();
        if !d.registered {
            d.registered = true;
            if let Some(desc) = d.description.clone() {
                out.push(event(
                    Some(asset.clone()),
                    measured_at,
                    EventKind::Registration { device: desc },
                ));
            }
        }
        if !d.online {
            d.online = true;
            out.push(event(Some(asset.clone()), measured_at, EventKind::Connect));
        }
        if d.last == Some(values) {
            d.repeats += 1;
        } else {
            d.repeats = 0;
        }
        d.last = Some(values);
        let needed = if values.heartbeat.is_some() {
            settings.stale_after
        } else {
            settings.stale_after * 10
        };
        let stale = d.repeats >= needed;
        let readings = Readings {
            power: values.power_kw.and_then(|v| Kilowatts::new(v).ok()),
            soc: values.soc.and_then(|v| Soc::new(v).ok()),
            energy_injected: values.injected_kwh.and_then(|v| KilowattHours::new(v).ok()),
            energy_absorbed: values.absorbed_kwh.and_then(|v| KilowattHours::new(v).ok()),
        };
        let seq = d.next_seq(measured_at);
        match TelemetrySample::new(asset, seq, measured_at, received_at, readings) {
            Ok(sample) => out.push(Message::Telemetry(TelemetryMsg {
                v: WIRE_VERSION,
                sample,
                stale,
                kind: AssetKind::Battery,
            })),
            Err(e) => tracing::warn!(err = %e, "sample rejected"),
        }
        for m in out {
            self.emit(m).await;
        }
        Ok(())
    }

    /// The site meter's part of a poll round: the fallback or the guard (which read the meter
    /// when they need it), then a read for the meter's telemetry if they did not read it.
    async fn site_round(&mut self) {
        if let Some(m) = self.meter.as_mut() {
            m.read_in_round = false;
        }
        self.fallback_round().await;
        let due = self
            .meter
            .as_ref()
            .is_some_and(|m| m.asset.is_some() && !m.read_in_round);
        if due && let Err(e) = self.read_site_meter().await {
            tracing::debug!(endpoint = %self.endpoint, err = %e, "site meter read failed");
        }
    }

    /// One round of the site's meter logic: the local fallback while the bus is unreachable,
    /// the site guard while it is reachable.
    async fn fallback_round(&mut self) {
        let Some(mut fb) = self.fallback.take() else {
            return;
        };
        let bus_down = self.stats.bus_down.load(Ordering::Relaxed);
        let now = self.clock.now();
        if !bus_down {
            if fb.engaged {
                fb.engaged = false;
                self.emit(event(
                    None,
                    now,
                    EventKind::FallbackReleased {
                        site: fb.config.site.to_string(),
                    },
                ))
                .await;
            }
            let done = self.guard(&mut fb).await;
            self.after_round(&mut fb, done, "site guard");
        } else {
            let done = self.hold_import(&mut fb).await;
            self.after_round(&mut fb, done, "local fallback");
        }
        self.fallback = Some(fb);
    }

    /// After a round: if it failed, the connection goes on a transport error and the meter
    /// is discovered again next time.
    fn after_round(&mut self, fb: &mut FallbackState, done: Result<(), ClientError>, what: &str) {
        if let Err(e) = done {
            tracing::warn!(site = %fb.config.site, err = %e, "{what} round failed");
            if e.is_transport() {
                self.conn = None;
            }
            if let Some(m) = self.meter.as_mut() {
                m.at = None;
            }
        }
    }

    /// Reads the site meter, discovering it first on a new connection, and publishes the
    /// reading as the meter's telemetry: the one read path of the telemetry, the fallback and
    /// the guard. Returns the import, kW; `None` without a connection, without a value, or
    /// while a meter that discovery did not find is left alone ([`METER_RETRY`]).
    async fn read_site_meter(&mut self) -> Result<Option<f64>, ClientError> {
        let (Some(conn), Some(m)) = (self.conn.as_mut(), self.meter.as_mut()) else {
            return Ok(None);
        };
        m.read_in_round = true;
        let unit = m.unit;
        let at = match m.at {
            Some(at) => at,
            None if m.retry_at.is_some_and(|t| Instant::now() < t) => return Ok(None),
            None => match conn.discover_meter(unit).await {
                Ok(at) => {
                    m.retry_at = None;
                    *m.at.insert(at)
                }
                Err(e) => {
                    if e.is_transport() {
                        self.conn = None;
                    } else {
                        if m.retry_at.is_none() {
                            tracing::info!(site = %m.site, unit, err = %e, "no site meter found; looking again every minute");
                        }
                        m.retry_at = Some(Instant::now() + METER_RETRY);
                    }
                    return Err(e);
                }
            },
        };
        let measured_at = self.clock.now();
        let read = conn.read_meter(unit, at).await;
        let received_at = self.clock.now().max(measured_at);
        let values = match read {
            Ok(v) => v,
            Err(e) => {
                m.at = None;
                if e.is_transport() {
                    self.conn = None;
                }
                return Err(e);
            }
        };
        let publish = m
            .asset
            .clone()
            .map(|asset| (asset, next_measurement_id(&mut m.seq, measured_at)));
        if let Some((asset, seq)) = publish {
            let kwh = |v: Option<f64>| v.and_then(|v| KilowattHours::new(v).ok());
            let readings = Readings {
                power: values.import_kw.and_then(|v| Kilowatts::new(v).ok()),
                soc: None,
                energy_injected: kwh(values.exported_kwh),
                energy_absorbed: kwh(values.imported_kwh),
            };
            match TelemetrySample::new(asset, seq, measured_at, received_at, readings) {
                Ok(sample) => {
                    self.stats.meter_samples.fetch_add(1, Ordering::Relaxed);
                    self.emit(Message::Telemetry(TelemetryMsg {
                        v: WIRE_VERSION,
                        sample,
                        stale: false,
                        kind: AssetKind::SiteMeter,
                    }))
                    .await;
                }
                Err(e) => tracing::warn!(err = %e, "site meter sample rejected"),
            }
        }
        Ok(values.import_kw)
    }

    async fn hold_import(&mut self, fb: &mut FallbackState) -> Result<(), ClientError> {
        let Some(import_kw) = self.read_site_meter().await? else {
            return Ok(());
        };
        // Only online batteries with known ratings take part.
        let members: Vec<(usize, crate::fallback::BatteryView)> = self
            .devices
            .iter()
            .enumerate()
            .filter(|(_, d)| d.online)
            .filter_map(|(i, d)| Some((i, d.battery_view()?)))
            .collect();
        let views: Vec<_> = members.iter().map(|(_, v)| *v).collect();
        let limit = fb.config.import_limit_kw;
        let Some(targets) = crate::fallback::hold_import(import_kw, limit, fb.engaged, &views)
        else {
            return Ok(());
        };
        if !fb.engaged {
            fb.engaged = true;
            let now = self.clock.now();
            tracing::warn!(site = %fb.config.site, import_kw, limit, "bus unreachable: local fallback holds the import");
            self.emit(event(
                None,
                now,
                EventKind::FallbackEngaged {
                    site: fb.config.site.to_string(),
                    import_kw,
                    limit_kw: limit,
                },
            ))
            .await;
        }
        // Short-lived commands: if the gateway itself dies, the batteries revert on their own.
        let revert_s = u32::try_from((self.settings.poll.as_secs() * 3).max(5)).unwrap_or(5);
        for ((i, _), kw) in members.iter().zip(targets) {
            let d = &self.devices[*i];
            let (Some(map), unit) = (d.map, d.cfg.unit_id) else {
                continue;
            };
            // Truncated toward zero: never beyond the rating the target was clamped to.
            let watts = (kw * 1000.0).trunc() as i32;
            let Some(conn) = self.conn.as_mut() else {
                return Ok(());
            };
            conn.write(
                unit,
                client::wset_address(&map),
                &client::setpoint_words(watts, revert_s),
            )
            .await?;
            self.stats.fallback_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The site guard, while the control plane is reachable: when the site's import goes over
    /// the cap its setpoints in force carry, the batteries discharge more than their setpoints
    /// (shared by rating, within ratings and above reserve) until it is back under; then they
    /// return to their setpoints. Writes carry the setpoint's remaining validity.
    async fn guard(&mut self, fb: &mut FallbackState) -> Result<(), ClientError> {
        let now = self.clock.now();
        let in_force = |d: &DeviceState| d.active.filter(|a| d.online && a.valid_until > now);
        let cap = self
            .devices
            .iter()
            .filter_map(|d| in_force(d)?.cap)
            .reduce(f64::min);
        let Some(cap) = cap else {
            // No cap in force: setpoints expire on their own revert timers.
            if fb.guarding {
                fb.guarding = false;
                let site = fb.config.site.to_string();
                self.emit(event(None, now, EventKind::GuardReleased { site }))
                    .await;
            }
            return Ok(());
        };
        let Some(import_kw) = self.read_site_meter().await? else {
            return Ok(());
        };
        // Members: online batteries with a setpoint in force and known ratings.
        let members: Vec<(usize, Active, f64, crate::fallback::BatteryView)> = self
            .devices
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let active = in_force(d)?;
                let max_charge = d.description.as_ref()?.max_charge_kw?;
                Some((i, active, max_charge, d.battery_view()?))
            })
            .collect();
        let guarded: Vec<(f64, crate::fallback::BatteryView)> =
            members.iter().map(|m| (m.1.kw, m.3)).collect();
        let targets = crate::fallback::guard(import_kw, cap, fb.config.guard_endurance_h, &guarded);
        let raise = targets.is_some();
        if raise != fb.guarding {
            fb.guarding = raise;
            let site = fb.config.site.to_string();
            let kind = if raise {
                tracing::info!(
                    site,
                    import_kw,
                    cap,
                    "site over its cap: the guard raises discharge"
                );
                EventKind::GuardEngaged {
                    site,
                    import_kw,
                    cap_kw: cap,
                }
            } else {
                EventKind::GuardReleased { site }
            };
            self.emit(event(None, now, kind)).await;
        }
        for (k, (i, active, max_charge, view)) in members.iter().enumerate() {
            let target = targets.as_ref().map_or(active.kw, |t| t[k]);
            let target = target.clamp(-max_charge, view.max_discharge_kw);
            // Truncated toward zero: never beyond the ratings.
            let watts = (target * 1000.0).trunc() as i32;
            let kw = f64::from(watts) / 1000.0;
            if (kw - active.written).abs() < 0.01 {
                continue;
            }
            let d = &self.devices[*i];
            let (Some(map), unit) = (d.map, d.cfg.unit_id) else {
                continue;
            };
            let remaining = (active.valid_until - now).num_milliseconds().max(0) as u64;
            let revert_s = u32::try_from(remaining.div_ceil(1000).max(1)).unwrap_or(u32::MAX - 1);
            let Some(conn) = self.conn.as_mut() else {
                return Ok(());
            };
            conn.write(
                unit,
                client::wset_address(&map),
                &client::setpoint_words(watts, revert_s),
            )
            .await?;
            self.stats.guard_writes.fetch_add(1, Ordering::Relaxed);
            if let Some(a) = self.devices[*i].active.as_mut() {
                a.written = kw;
            }
        }
        Ok(())
    }

    async fn reject(&mut self, sp: &SetpointMsg, reason: String) {
        self.stats
            .setpoints_rejected
            .fetch_add(1, Ordering::Relaxed);
        let s = &sp.setpoint;
        let now = self.clock.now();
        self.emit(event(
            Some(s.asset().clone()),
            now,
            EventKind::SetpointRejected {
                subject: crate::subjects::setpoint(s.asset()),
                correlation_id: Some(s.correlation_id().clone()),
                reason: reason.clone(),
            },
        ))
        .await;
        self.emit(Message::Ack(AckMsg {
            v: WIRE_VERSION,
            asset: s.asset().clone(),
            correlation_id: s.correlation_id().clone(),
            at: now,
            outcome: AckOutcome::Rejected { reason },
        }))
        .await;
    }

    async fn apply_setpoint(&mut self, sp: SetpointMsg) {
        let s = &sp.setpoint;
        let now = self.clock.now();
        let Some(i) = self.devices.iter().position(|d| &d.cfg.asset == s.asset()) else {
            return self
                .reject(&sp, "asset not served by this endpoint".into())
                .await;
        };
        if s.is_expired(now) {
            return self
                .reject(&sp, format!("expired at {}", s.valid_until().to_rfc3339()))
                .await;
        }
        if let Some(cap) = sp.site_import_cap_kw
            && !(cap.is_finite() && cap >= 0.0)
        {
            return self
                .reject(
                    &sp,
                    format!("site_import_cap_kw {cap} is not a number >= 0"),
                )
                .await;
        }
        let d = &self.devices[i];
        let unit = d.cfg.unit_id;
        let (Some(map), true) = (d.map, d.online) else {
            return self.reject(&sp, "device offline".into()).await;
        };
        let limits = d
            .description
            .as_ref()
            .and_then(|desc| Some((desc.max_charge_kw?, desc.max_discharge_kw?)));
        let Some((max_charge, max_discharge)) = limits else {
            return self
                .reject(
                    &sp,
                    "device limits unknown: it does not serve its power ratings".into(),
                )
                .await;
        };
        let requested = s.power().get();
        let applied = requested.clamp(-max_charge, max_discharge);
        // Truncate toward zero so rounding can never leave the limits.
        let watts = (applied * 1000.0).trunc() as i32;
        let clamped = applied != requested;
        if clamped {
            self.emit(event(
                Some(s.asset().clone()),
                now,
                EventKind::SetpointClamped {
                    correlation_id: s.correlation_id().clone(),
                    requested_kw: s.power(),
                    applied_kw: Kilowatts::from_watts(f64::from(watts)).unwrap_or(Kilowatts::ZERO),
                },
            ))
            .await;
        }
        let remaining = s.remaining(now).num_milliseconds().max(0) as u64;
        let revert_s = u32::try_from(remaining.div_ceil(1000).max(1)).unwrap_or(u32::MAX - 1);
        let Some(conn) = self.conn.as_mut() else {
            return self
                .reject(&sp, "device offline: endpoint unreachable".into())
                .await;
        };
        match conn
            .write(
                unit,
                client::wset_address(&map),
                &client::setpoint_words(watts, revert_s),
            )
            .await
        {
            Ok(()) => {
                self.stats.setpoints_written.fetch_add(1, Ordering::Relaxed);
                let kw = f64::from(watts) / 1000.0;
                self.devices[i].active = Some(Active {
                    kw,
                    valid_until: s.valid_until(),
                    cap: sp.site_import_cap_kw,
                    written: kw,
                });
                self.emit(Message::Ack(AckMsg {
                    v: WIRE_VERSION,
                    asset: s.asset().clone(),
                    correlation_id: s.correlation_id().clone(),
                    at: self.clock.now(),
                    outcome: AckOutcome::Written {
                        power_kw: Kilowatts::from_watts(f64::from(watts))
                            .unwrap_or(Kilowatts::ZERO),
                        revert_after_s: revert_s,
                        clamped,
                    },
                }))
                .await;
            }
            Err(e) => {
                let reason = format!("write failed: {e}");
                self.reject(&sp, reason).await;
                self.device_failed(i, &e).await;
            }
        }
    }
}

/// Publishes what the workers produce, in order, through a bounded buffer.
///
/// Messages are published in batches of up to [`UPLINK_BATCH`] (the NATS adapter keeps the
/// batch's acknowledgements outstanding at once). While the bus is unreachable, messages wait
/// in the buffer (at most `capacity`) and are retried with backoff (100 ms doubling to 5 s),
/// oldest first, so order is kept; the uplink keeps taking messages from the workers all the
/// while, so polling never stalls. When the buffer is full the oldest telemetry sample is
/// dropped first; events and acks are dropped only when no telemetry is left to drop. Drops are
/// counted in [`GatewayStats::dropped`].
struct Uplink {
    bus: Arc<dyn Bus>,
    rx: mpsc::Receiver<Message>,
    buffer: VecDeque<Message>,
    capacity: usize,
    stats: Arc<GatewayStats>,
}

/// Most messages published in one batch.
pub const UPLINK_BATCH: usize = 512;

fn push_bounded(
    buffer: &mut VecDeque<Message>,
    capacity: usize,
    stats: &GatewayStats,
    msg: Message,
) {
    if buffer.len() >= capacity {
        let victim = buffer
            .iter()
            .position(|m| matches!(m, Message::Telemetry(_)))
            .unwrap_or(0);
        buffer.remove(victim);
        stats.dropped.fetch_add(1, Ordering::Relaxed);
    }
    buffer.push_back(msg);
}

impl Uplink {
    async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        let mut open = true;
        loop {
            if self.buffer.is_empty() {
                if !open {
                    return;
                }
                match self.rx.recv().await {
                    Some(m) => push_bounded(&mut self.buffer, self.capacity, &self.stats, m),
                    None => return,
                }
            }
            while let Ok(m) = self.rx.try_recv() {
                push_bounded(&mut self.buffer, self.capacity, &self.stats, m);
            }
            self.stats
                .buffered
                .store(self.buffer.len() as u64, Ordering::Relaxed);
            let batch: Vec<Message> = self.buffer.iter().take(UPLINK_BATCH).cloned().collect();
            // Keep taking messages from the workers while the batch is in flight.
            let result = {
                let publish = self.bus.publish_batch(&batch);
                tokio::pin!(publish);
                let mut incoming = Vec::new();
                let result = loop {
                    tokio::select! {
                        r = &mut publish => break r,
                        m = self.rx.recv(), if open => match m {
                            Some(m) => incoming.push(m),
                            None => open = false,
                        },
                    }
                };
                (result, incoming)
            };
            let (result, incoming) = result;
            let taken = match &result {
                Ok(()) => batch.len(),
                Err((n, _)) => *n,
            };
            self.buffer.drain(..taken);
            self.stats
                .published
                .fetch_add(taken as u64, Ordering::Relaxed);
            for m in incoming {
                push_bounded(&mut self.buffer, self.capacity, &self.stats, m);
            }
            self.stats
                .buffered
                .store(self.buffer.len() as u64, Ordering::Relaxed);
            self.stats
                .bus_down
                .store(result.is_err(), Ordering::Relaxed);
            match result {
                Ok(()) => backoff = Duration::from_millis(100),
                Err((_, e)) => {
                    tracing::warn!(err = %e, buffered = self.buffer.len(), "bus unreachable; buffering");
                    let wake = tokio::time::sleep(backoff);
                    tokio::pin!(wake);
                    loop {
                        tokio::select! {
                            () = &mut wake => break,
                            m = self.rx.recv(), if open => match m {
                                Some(m) => push_bounded(&mut self.buffer, self.capacity, &self.stats, m),
                                None => open = false,
                            },
                        }
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_parse_as_an_object_or_as_device_lines() {
        let obj = r#"{"devices":[{"asset":"r/s/f/x/b","host":"127.0.0.1","port":1502,"unit_id":1}],"poll_interval_ms":250}"#;
        let c = GatewayConfig::parse(obj).unwrap();
        assert_eq!(c.poll_interval_ms, 250);
        assert_eq!(c.request_timeout_ms, 500);
        assert!(c.site_meters, "site meters are published by default");
        assert_eq!(c.meter_unit, 240);
        let lines = "{\"asset\":\"r/s/f/x/b\",\"host\":\"127.0.0.1\",\"port\":1502,\"unit_id\":1,\"serial\":\"x\"}\n\n{\"asset\":\"r/s/f/x/c\",\"host\":\"127.0.0.1\",\"port\":1502,\"unit_id\":2}\n";
        assert_eq!(GatewayConfig::parse(lines).unwrap().devices.len(), 2);
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let err = GatewayConfig::parse("{\"devices\": 3}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = GatewayConfig::parse(r#"{"devices":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no devices"), "{err}");
        let dup = r#"{"devices":[{"asset":"r/s/f/x/b","host":"127.0.0.1","port":1,"unit_id":1},{"asset":"r/s/f/x/b","host":"127.0.0.1","port":1,"unit_id":2}]}"#;
        assert!(
            GatewayConfig::parse(dup)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let bad_path = r#"{"asset":"r/s/f/x/b.c","host":"127.0.0.1","port":1,"unit_id":1}"#;
        assert!(
            GatewayConfig::parse(bad_path)
                .unwrap_err()
                .to_string()
                .contains("invalid path token")
        );
        let endurance = |h: &str| {
            GatewayConfig::parse(&format!(
                r#"{{"devices":[{{"asset":"r/s/f/x/b","host":"127.0.0.1","port":1,"unit_id":1}}],"fallback":[{{"site":"r/s/f/x","import_limit_kw":5,"guard_endurance_h":{h}}}]}}"#
            ))
        };
        assert!((endurance("0.5").unwrap().fallback[0].guard_endurance_h - 0.5).abs() < 1e-12);
        let meters = |extra: &str| {
            GatewayConfig::parse(&format!(
                r#"{{"devices":[{{"asset":"r/s/f/x/b","host":"127.0.0.1","port":1,"unit_id":1}}]{extra}}}"#
            ))
        };
        let c = meters(r#","site_meters":false,"meter_unit":200"#).unwrap();
        assert!(!c.site_meters);
        assert_eq!(c.meter_unit, 200);
        let err = meters(r#","meter_unit":0"#).unwrap_err().to_string();
        assert!(err.contains("meter_unit"), "{err}");
        let err = endurance("-1").unwrap_err().to_string();
        assert!(err.contains("guard_endurance_h"), "{err}");
    }
}
