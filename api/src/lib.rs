//! The vpp service's HTTP API and composition root.
//!
//! [`app`] builds the axum router over an [`AssetSource`]; `main.rs` parses the command line,
//! wires the simulated fleet (and, in later issues, the bus, gateway and control plane) and
//! serves the router. Tests drive [`app`] with `tower::ServiceExt::oneshot`, no server needed.
//!
//! API boundary: every error leaves as JSON `{"error": "..."}` with a fitting status code.

pub mod cli;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use vpp_battery_sim::fleet::{DeviceInfo, RunningFleet};
use vpp_battery_sim::{Fault, Limit};
use vpp_domain::{AssetPath, BatterySpecParams};
use vpp_telemetry::bus::{Bus, BusError, Delivery, Topic};
use vpp_telemetry::wire::{DeviceDescription, EventKind, Message, TelemetryMsg};

/// What the control side knows from the bus: the latest telemetry per asset and the device
/// descriptions from registration events.
#[derive(Debug, Default)]
pub struct BusView {
    latest: Mutex<HashMap<AssetPath, TelemetryMsg>>,
    devices: Mutex<HashMap<AssetPath, DeviceDescription>>,
}

impl BusView {
    /// Subscribes to telemetry and events on `bus` and keeps the newest sample of each asset
    /// (by `measured_at`; older or duplicate samples are ignored) and its registration.
    pub async fn follow(bus: &dyn Bus) -> Result<Arc<Self>, BusError> {
        let mut telemetry = bus.subscribe(Topic::Telemetry).await?;
        let mut events = bus.subscribe(Topic::Events).await?;
        let view = Arc::new(Self::default());
        let writer = Arc::clone(&view);
        tokio::spawn(async move {
            while let Some(d) = telemetry.next().await {
                if let Delivery::Message(Message::Telemetry(t)) = d {
                    writer.record(t);
                }
            }
        });
        let writer = Arc::clone(&view);
        tokio::spawn(async move {
            while let Some(d) = events.next().await {
                if let Delivery::Message(Message::Event(e)) = d
                    && let (Some(asset), EventKind::Registration { device }) = (e.asset, e.kind)
                {
                    writer
                        .devices
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(asset, device);
                }
            }
        });
        Ok(view)
    }

    /// Keeps `t` if it is newer than what is held for its asset.
    pub fn record(&self, t: TelemetryMsg) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let newer = latest
            .get(t.sample.asset())
            .is_none_or(|old| old.sample.measured_at() < t.sample.measured_at());
        if newer {
            latest.insert(t.sample.asset().clone(), t);
        }
    }

    /// The newest sample of `asset`.
    #[must_use]
    pub fn telemetry(&self, asset: &AssetPath) -> Option<TelemetryMsg> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(asset)
            .cloned()
    }

    /// The registered description of `asset`.
    #[must_use]
    pub fn device(&self, asset: &AssetPath) -> Option<DeviceDescription> {
        self.devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(asset)
            .cloned()
    }

    /// Every asset seen on the bus (telemetry or registration), sorted.
    #[must_use]
    pub fn assets(&self) -> Vec<AssetPath> {
        let mut all: Vec<AssetPath> = self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        all.extend(
            self.devices
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .cloned(),
        );
        all.sort();
        all.dedup();
        all
    }
}

/// The simulator's own view of a battery (only when the simulator runs in this process).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulatorView {
    /// Modbus TCP endpoint host.
    pub host: String,
    /// Modbus TCP endpoint port.
    pub port: u16,
    /// Modbus unit id.
    pub unit_id: u8,
    /// SunSpec base register.
    pub base_address: u16,
    /// Serial number.
    pub serial: String,
    /// Rating and limits.
    pub spec: BatterySpecParams,
    /// State of charge, 0..=1.
    pub soc: f64,
    /// Battery power, kW, `> 0` discharging.
    pub power_kw: f64,
    /// What limited the power in the last step.
    pub limit: Limit,
    /// Whether a setpoint is active (SunSpec 704 `WSetEna`).
    pub setpoint_enabled: bool,
    /// Active simulated fault.
    pub fault: &'static str,
}

/// One asset as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetView {
    /// Hierarchy path.
    pub asset: AssetPath,
    /// What the gateway registered (identity, endpoint, ratings), from the bus.
    pub device: Option<DeviceDescription>,
    /// The newest telemetry that reached the control side over the bus.
    pub telemetry: Option<TelemetryMsg>,
    /// The simulator's ground truth, when it runs in this process.
    pub simulator: Option<SimulatorView>,
}

/// Where the API reads assets from.
pub trait AssetSource: Send + Sync {
    /// Every asset, in a stable order.
    fn assets(&self) -> Vec<AssetView>;
}

/// The control side's view: assets as they appear on the bus.
impl AssetSource for BusView {
    fn assets(&self) -> Vec<AssetView> {
        BusView::assets(self)
            .into_iter()
            .map(|asset| AssetView {
                device: self.device(&asset),
                telemetry: self.telemetry(&asset),
                simulator: None,
                asset,
            })
            .collect()
    }
}

/// The bus view plus the simulator's ground truth (`vpp run` with the embedded fleet).
#[derive(Debug)]
pub struct SimulatedAssets {
    fleet: Arc<vpp_battery_sim::fleet::Fleet>,
    devices: Vec<DeviceInfo>,
    bus: Arc<BusView>,
}

impl SimulatedAssets {
    /// Reads the device list of a running fleet; the rest comes from `bus`.
    #[must_use]
    pub fn new(running: &RunningFleet, bus: Arc<BusView>) -> Self {
        Self {
            fleet: Arc::clone(running.fleet()),
            devices: running.devices(),
            bus,
        }
    }
}

fn fault_name(f: &Fault) -> &'static str {
    match f {
        Fault::Healthy => "healthy",
        Fault::Offline => "offline",
        Fault::Stuck { .. } => "stuck",
        Fault::ResetBurst { .. } => "reset_burst",
        Fault::Stale { .. } => "stale",
    }
}

impl AssetSource for SimulatedAssets {
    fn assets(&self) -> Vec<AssetView> {
        self.devices
            .iter()
            .filter_map(|info| {
                let device = self.fleet.device(&info.asset)?;
                let b = device.lock();
                Some(AssetView {
                    asset: info.asset.clone(),
                    device: self.bus.device(&info.asset),
                    telemetry: self.bus.telemetry(&info.asset),
                    simulator: Some(SimulatorView {
                        host: info.host.to_string(),
                        port: info.port,
                        unit_id: info.unit_id,
                        base_address: info.base_address,
                        serial: info.serial.clone(),
                        spec: b.spec().params(),
                        soc: b.state().soc(b.spec()).get(),
                        power_kw: b.state().power.get(),
                        limit: b.state().limit,
                        setpoint_enabled: b.controls().enabled,
                        fault: fault_name(b.fault()),
                    }),
                })
            })
            .collect()
    }
}

/// What a gateway needs to poll every battery of a running simulated fleet.
#[must_use]
pub fn gateway_devices(running: &RunningFleet) -> Vec<vpp_telemetry::gateway::DeviceConfig> {
    running
        .devices()
        .into_iter()
        .map(|d| vpp_telemetry::gateway::DeviceConfig {
            asset: d.asset,
            host: d.host,
            port: d.port,
            unit_id: d.unit_id,
        })
        .collect()
}

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    /// The assets.
    pub assets: Arc<dyn AssetSource>,
    /// The simulated fleet, when it runs in this process (lets analysts switch faults on).
    pub sim: Option<Arc<vpp_battery_sim::fleet::Fleet>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The one error type of the API; always answered as JSON.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such route or resource.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request body or path is not what the endpoint takes.
    #[error("bad request: {0}")]
    BadRequest(String),
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
        };
        (
            status,
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response()
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize)]
struct AssetList {
    count: usize,
    assets: Vec<AssetView>,
}

async fn list_assets(State(state): State<AppState>) -> Json<AssetList> {
    let assets = state.assets.assets();
    Json(AssetList {
        count: assets.len(),
        assets,
    })
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_owned())
}

/// The API router.
/// Body of `PUT /api/v1/sim/faults/{asset path}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    kind: vpp_battery_sim::FaultKind,
    /// Length of a reset burst, seconds of simulated time.
    #[serde(default)]
    burst_s: Option<f64>,
}

#[derive(Serialize)]
struct FaultResponse {
    asset: AssetPath,
    fault: &'static str,
}

async fn set_fault(
    State(state): State<AppState>,
    axum::extract::Path(path): axum::extract::Path<String>,
    body: Result<Json<FaultRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<FaultResponse>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let asset: AssetPath = path
        .parse()
        .map_err(|e: vpp_domain::DomainError| ApiError::BadRequest(e.to_string()))?;
    let fleet = state
        .sim
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("no simulated fleet runs in this process".into()))?;
    let device = fleet
        .device(&asset)
        .ok_or_else(|| ApiError::NotFound(format!("asset {asset}")))?;
    let burst = match req.burst_s {
        Some(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => {
            std::time::Duration::from_secs_f64(s)
        }
        Some(s) => {
            return Err(ApiError::BadRequest(format!(
                "burst_s must be within 0..=86400, got {s}"
            )));
        }
        None => std::time::Duration::from_secs(10),
    };
    let mut b = device.lock();
    b.set_fault(req.kind, burst);
    Ok(Json(FaultResponse {
        asset,
        fault: fault_name(b.fault()),
    }))
}

/// The API router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/assets", get(list_assets))
        .route("/api/v1/sim/faults/{*asset}", axum::routing::put(set_fault))
        .fallback(not_found)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    struct Fixed(Vec<AssetView>);

    impl AssetSource for Fixed {
        fn assets(&self) -> Vec<AssetView> {
            self.0.clone()
        }
    }

    fn view(path: &str) -> AssetView {
        AssetView {
            asset: path.parse().unwrap(),
            device: None,
            telemetry: None,
            simulator: Some(SimulatorView {
                host: "127.0.0.1".into(),
                port: 1502,
                unit_id: 1,
                base_address: 40000,
                serial: "SN".into(),
                spec: BatterySpecParams::home_battery(),
                soc: 0.5,
                power_kw: -1.0,
                limit: Limit::None,
                setpoint_enabled: true,
                fault: "healthy",
            }),
        }
    }

    async fn get(path: &str) -> (StatusCode, serde_json::Value) {
        send(Request::get(path).body(Body::empty()).unwrap(), None).await
    }

    async fn send(
        req: Request<Body>,
        sim: Option<Arc<vpp_battery_sim::fleet::Fleet>>,
    ) -> (StatusCode, serde_json::Value) {
        let state = AppState {
            assets: Arc::new(Fixed(vec![view("r/s/f/x/a"), view("r/s/f/x/b")])),
            sim,
        };
        let res = app(state).oneshot(req).await.unwrap();
        let status = res.status();
        let body = to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn healthz_answers_ok() {
        let (status, body) = get("/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ok");
    }

    #[tokio::test]
    async fn assets_are_listed_with_their_state() {
        let (status, body) = get("/api/v1/assets").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["count"], 2);
        assert_eq!(body["assets"][1]["asset"], "r/s/f/x/b");
        assert_eq!(body["assets"][0]["simulator"]["power_kw"], -1.0);
        assert_eq!(body["assets"][0]["simulator"]["spec"]["capacity_kwh"], 13.5);
        assert!(body["assets"][0]["telemetry"].is_null());
    }

    #[tokio::test]
    async fn unknown_paths_are_json_404s() {
        let (status, body) = get("/api/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "not found: /api/v1/nope");
    }

    fn put(path: &str, body: &str) -> Request<Body> {
        Request::put(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    }

    #[tokio::test]
    async fn faults_can_be_switched_on_a_simulated_battery() {
        use chrono::TimeZone;
        let start = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let fleet = Arc::new(
            vpp_battery_sim::fleet::Fleet::build(&vpp_battery_sim::fleet::FleetConfig::new(
                1, 1, start,
            ))
            .unwrap(),
        );
        let asset = fleet.sites()[0].device(1).unwrap().asset().to_string();
        let uri = format!("/api/v1/sim/faults/{asset}");
        let (status, body) =
            send(put(&uri, r#"{"kind":"offline"}"#), Some(Arc::clone(&fleet))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["fault"], "offline");
        assert!(!fleet.sites()[0].device(1).unwrap().lock().is_online());

        let (status, body) =
            send(put(&uri, r#"{"kind":"melted"}"#), Some(Arc::clone(&fleet))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"].as_str().unwrap().contains("unknown variant"),
            "{body}"
        );
        let (status, _) = send(put(&uri, "{not json"), Some(Arc::clone(&fleet))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = send(
            put("/api/v1/sim/faults/a/b", r#"{"kind":"stale"}"#),
            Some(Arc::clone(&fleet)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _) = send(
            put("/api/v1/sim/faults/a/b/c/d/e", r#"{"kind":"stale"}"#),
            Some(Arc::clone(&fleet)),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = send(put(&uri, r#"{"kind":"stale"}"#), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "no simulator, no faults");
        // Nothing changed by the refused requests.
        assert!(!fleet.sites()[0].device(1).unwrap().lock().is_online());
    }
}
