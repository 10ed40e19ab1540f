//! The vpp service's HTTP API and composition root.
//!
//! [`app`] builds the axum router over the [`fleet::FleetService`] (twins, registry,
//! aggregates, history fed from the bus) and, when it runs in-process, the simulated fleet;
//! [`cli`] parses the command line and wires the parts. Tests drive [`app`] with
//! `tower::ServiceExt::oneshot`, no server needed.
//!
//! API boundary: every error leaves as JSON `{"error": "..."}` with a fitting status code.

pub mod cli;
pub mod dispatch_service;
pub mod fleet;
pub mod forecast_cli;
pub mod optimize_cli;
pub mod world;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use vpp_battery_sim::fleet::{DeviceInfo, RunningFleet};
use vpp_battery_sim::{Fault, Limit};
use vpp_domain::{AssetPath, NodePath};
use vpp_fleet::twin::{Observation, Status};
use vpp_telemetry::wire::DeviceDescription;

use crate::fleet::FleetService;

/// The simulator's own view of a battery (only when the simulator runs in this process): how to
/// reach it (with its live SoC and spec) and what it does now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulatorView {
    /// Endpoint, unit id, base address, serial, spec and SoC.
    #[serde(flatten)]
    pub device: DeviceInfo,
    /// Battery power, kW, `> 0` discharging.
    pub power_kw: f64,
    /// What limited the power in the last step.
    pub limit: Limit,
    /// Whether a setpoint is active (SunSpec 704 `WSetEna`).
    pub setpoint_enabled: bool,
    /// Active simulated fault.
    pub fault: &'static str,
}

/// One asset as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetView {
    /// Hierarchy path.
    pub asset: AssetPath,
    /// Online / stale / offline, from its twin.
    pub status: Status,
    /// What the gateway registered (identity, endpoint, ratings), from the bus.
    pub device: Option<DeviceDescription>,
    /// The twin's newest valid measurement (from the bus).
    pub latest: Option<Observation>,
    /// The simulator's ground truth, when it runs in this process.
    pub simulator: Option<SimulatorView>,
}

/// Where the API reads its asset list from.
pub trait AssetSource: Send + Sync {
    /// Every asset, in a stable order.
    fn assets(&self) -> Vec<AssetView>;
}

/// The control side's view: the twins.
impl AssetSource for FleetService {
    fn assets(&self) -> Vec<AssetView> {
        FleetService::assets(self)
            .into_iter()
            .map(|(asset, status, latest, device)| AssetView {
                asset,
                status,
                device,
                latest,
                simulator: None,
            })
            .collect()
    }
}

/// The twins plus the simulator's ground truth (`vpp run` with the embedded fleet).
#[derive(Debug)]
pub struct SimulatedAssets {
    fleet: Arc<vpp_battery_sim::fleet::Fleet>,
    devices: Vec<DeviceInfo>,
    twins: Arc<FleetService>,
}

impl SimulatedAssets {
    /// Reads the device list of a running fleet; the rest comes from the twins.
    #[must_use]
    pub fn new(running: &RunningFleet, twins: Arc<FleetService>) -> Self {
        Self {
            fleet: Arc::clone(running.fleet()),
            devices: running.devices(),
            twins,
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
                let twin = self.twins.asset(&info.asset);
                let b = device.lock();
                Some(AssetView {
                    asset: info.asset.clone(),
                    status: twin.as_ref().map_or(Status::Offline, |t| t.status),
                    device: twin.as_ref().and_then(|t| t.device.clone()),
                    latest: twin.and_then(|t| t.latest),
                    simulator: Some(SimulatorView {
                        device: DeviceInfo {
                            spec: b.spec().params(),
                            soc: b.state().soc(b.spec()).get(),
                            ..info.clone()
                        },
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

/// The site meter of every simulated site (SunSpec 201 at the site's endpoint): the gateway's
/// site guard reads it while the control plane is reachable, and its local fallback holds the
/// import under `fallback_import_kw` while it is not.
#[must_use]
pub fn site_meters(
    running: &RunningFleet,
    fallback_import_kw: f64,
) -> Vec<vpp_telemetry::gateway::SiteFallback> {
    let mut sites: Vec<vpp_domain::NodePath> = running
        .devices()
        .into_iter()
        .map(|d| d.asset.ancestor(vpp_domain::Level::Site))
        .collect();
    sites.sort();
    sites.dedup();
    sites
        .into_iter()
        .map(|site| vpp_telemetry::gateway::SiteFallback {
            site,
            import_limit_kw: fallback_import_kw,
            meter_unit: vpp_battery_sim::fleet::METER_UNIT,
            guard_endurance_h: vpp_telemetry::gateway::default_guard_endurance_h(),
        })
        .collect()
}

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    /// The asset list.
    pub assets: Arc<dyn AssetSource>,
    /// Twins, registry, aggregates and history.
    pub fleet: Arc<FleetService>,
    /// The simulated fleet, when it runs in this process (lets analysts switch faults on).
    pub sim: Option<Arc<vpp_battery_sim::fleet::Fleet>>,
    /// The dispatcher, when it runs in this process.
    pub dispatch: Option<Arc<dispatch_service::DispatchService>>,
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

/// A target the dispatcher refuses (wrong level, not a number) is the request's fault.
impl From<vpp_dispatch::dispatcher::DispatchError> for ApiError {
    fn from(e: vpp_dispatch::dispatcher::DispatchError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

/// A malformed path or value in a request.
impl From<vpp_domain::DomainError> for ApiError {
    fn from(e: vpp_domain::DomainError) -> Self {
        Self::BadRequest(e.to_string())
    }
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

/// `GET /`: a small dashboard over this API (fleet aggregate, the dispatcher's plan and
/// setpoints, a form for peak targets).
async fn dashboard() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../static/dashboard.html"))
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
    let asset: AssetPath = path.parse()?;
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

fn parse_asset(path: &str) -> Result<AssetPath, ApiError> {
    Ok(path.parse()?)
}

async fn get_asset(
    State(state): State<AppState>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Result<Json<fleet::AssetDetail>, ApiError> {
    let asset = parse_asset(&path)?;
    state
        .fleet
        .asset(&asset)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("asset {asset}")))
}

/// Query of `GET /api/v1/nodes/{path}/history`.
#[derive(Debug, serde::Deserialize)]
struct HistoryQuery {
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// Seconds.
    step: Option<i64>,
}

/// `GET /api/v1/nodes/{path}/aggregate` and `GET /api/v1/nodes/{path}/history`: the last
/// segment is the view, the rest the node (empty for the fleet root).
async fn node_view(
    State(state): State<AppState>,
    axum::extract::Path(rest): axum::extract::Path<String>,
    query: Result<axum::extract::Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (node, view) = match rest.rsplit_once('/') {
        Some((node, view)) => (node, view),
        None => ("", rest.as_str()),
    };
    let node: NodePath = node.parse()?;
    match view {
        "aggregate" => state
            .fleet
            .aggregate(&node)
            .map(|a| Json(a).into_response())
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "node {node:?} has no assets",
                    node = node.to_string()
                ))
            }),
        "plan" => {
            let dispatch = state
                .dispatch
                .as_ref()
                .ok_or_else(|| ApiError::NotFound("no dispatcher runs in this process".into()))?;
            dispatch
                .node_plan(&node)
                .map(|p| Json(p).into_response())
                .ok_or_else(|| {
                    ApiError::NotFound(match dispatch.last_error() {
                        Some(e) => format!("no plan yet: {e}"),
                        None => "no plan yet".into(),
                    })
                })
        }
        "history" => {
            let axum::extract::Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
            let to = q.to.unwrap_or_else(|| state.fleet.now());
            let from = q.from.unwrap_or(to - chrono::TimeDelta::hours(1));
            let step = chrono::TimeDelta::seconds(q.step.unwrap_or(60));
            match state.fleet.history(&node, from, to, step) {
                Ok(h) => Ok(Json(h).into_response()),
                Err(fleet::HistoryError::Unknown(p)) => {
                    Err(ApiError::NotFound(format!("asset or node {p:?}")))
                }
                Err(e) => Err(ApiError::BadRequest(e.to_string())),
            }
        }
        other => Err(ApiError::NotFound(format!(
            "view {other:?}: use aggregate or history"
        ))),
    }
}

/// Body of `PUT /api/v1/nodes/{path}/peak-target`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PeakTarget {
    /// Import cap, kW (`null` clears it).
    import_limit_kw: Option<f64>,
}

/// Answer of `PUT /api/v1/nodes/{path}/peak-target`.
#[derive(Debug, Serialize)]
struct PeakTargetSet {
    node: String,
    import_limit_kw: Option<f64>,
}

/// `PUT /api/v1/nodes/{path}/peak-target`: an operator's import cap on the fleet, a feeder or
/// a site; the dispatcher re-plans at once.
async fn node_put(
    State(state): State<AppState>,
    axum::extract::Path(rest): axum::extract::Path<String>,
    body: Result<Json<PeakTarget>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<PeakTargetSet>, ApiError> {
    let (node, view) = match rest.rsplit_once('/') {
        Some((node, view)) => (node, view),
        None => ("", rest.as_str()),
    };
    if view != "peak-target" {
        return Err(ApiError::NotFound(format!(
            "view {view:?}: PUT takes peak-target"
        )));
    }
    let node: NodePath = node.parse()?;
    let Json(req) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if let Some(kw) = req.import_limit_kw
        && !(kw.is_finite() && kw >= 0.0)
    {
        return Err(ApiError::BadRequest(format!(
            "import_limit_kw must be a number ≥ 0, got {kw}"
        )));
    }
    let dispatch = state
        .dispatch
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("no dispatcher runs in this process".into()))?;
    if state.fleet.aggregate(&node).is_none() {
        return Err(ApiError::NotFound(format!("node {node} has no assets")));
    }
    dispatch.set_target(node.clone(), req.import_limit_kw)?;
    Ok(Json(PeakTargetSet {
        node: node.to_string(),
        import_limit_kw: req.import_limit_kw,
    }))
}

/// Query of `GET /api/v1/registry`.
#[derive(Debug, serde::Deserialize)]
struct RegistryQuery {
    as_of: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize)]
struct RegistryEntry {
    asset: AssetPath,
    serial: Option<String>,
}

#[derive(Serialize)]
struct RegistryAnswer {
    as_of: chrono::DateTime<chrono::Utc>,
    count: usize,
    assets: Vec<RegistryEntry>,
}

async fn decommission(
    State(state): State<AppState>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Result<Json<RegistryEntry>, ApiError> {
    let asset = parse_asset(&path)?;
    if state.fleet.asset(&asset).is_none() {
        return Err(ApiError::NotFound(format!("asset {asset}")));
    }
    state
        .fleet
        .decommission(&asset)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(RegistryEntry {
        asset,
        serial: None,
    }))
}

async fn registry(
    State(state): State<AppState>,
    query: Result<axum::extract::Query<RegistryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RegistryAnswer>, ApiError> {
    let axum::extract::Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let as_of = q.as_of.unwrap_or_else(|| state.fleet.now());
    let assets: Vec<RegistryEntry> = state
        .fleet
        .registry_as_of(as_of)
        .into_iter()
        .map(|(asset, serial)| RegistryEntry { asset, serial })
        .collect();
    Ok(Json(RegistryAnswer {
        as_of,
        count: assets.len(),
        assets,
    }))
}

/// The API router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(healthz))
        .route("/api/v1/assets", get(list_assets))
        .route("/api/v1/assets/{*path}", get(get_asset))
        .route("/api/v1/nodes/{*rest}", get(node_view).put(node_put))
        .route("/api/v1/registry", get(registry))
        .route(
            "/api/v1/registry/{*path}",
            axum::routing::delete(decommission),
        )
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

    #[derive(Debug)]
    struct FixedClock(chrono::DateTime<chrono::Utc>);

    impl vpp_domain::Clock for FixedClock {
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            self.0
        }
    }

    fn t0() -> chrono::DateTime<chrono::Utc> {
        use chrono::TimeZone;
        chrono::Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn view(path: &str) -> AssetView {
        AssetView {
            asset: path.parse().unwrap(),
            status: Status::Online,
            device: None,
            latest: None,
            simulator: Some(SimulatorView {
                device: DeviceInfo {
                    asset: path.parse().unwrap(),
                    host: std::net::Ipv4Addr::LOCALHOST.into(),
                    port: 1502,
                    unit_id: 1,
                    base_address: 40000,
                    serial: "SN".into(),
                    spec: vpp_domain::BatterySpecParams::home_battery(),
                    soc: 0.5,
                },
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
            fleet: twins(),
            sim,
            dispatch: None,
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
        assert!(body["assets"][0]["latest"].is_null());
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

    /// A fleet service with one registered battery that reported once, a minute before t0.
    fn twins() -> Arc<FleetService> {
        use vpp_telemetry::wire::{TelemetryMsg, WIRE_VERSION};
        let f = Arc::new(FleetService::new(
            Arc::new(FixedClock(t0())),
            Default::default(),
        ));
        let asset: AssetPath = "r/s/f/x/a".parse().unwrap();
        let at = t0() - chrono::TimeDelta::seconds(1);
        f.on_registration(
            &asset,
            DeviceDescription {
                endpoint: "127.0.0.1:1502".into(),
                unit_id: 1,
                base_address: 40000,
                manufacturer: Some("vpp".into()),
                model: None,
                version: Some("1.2.3".into()),
                serial: Some("SN-A".into()),
                capacity_kwh: Some(10.0),
                max_charge_kw: Some(5.0),
                max_discharge_kw: Some(4.0),
                soc_min: Some(0.05),
                soc_max: Some(0.95),
                soc_reserve: Some(0.1),
            },
            at,
        );
        for (seq, soc) in [(1u64, 0.6), (2, 0.5)] {
            let sample = vpp_domain::TelemetrySample::new(
                asset.clone(),
                seq,
                at + chrono::TimeDelta::milliseconds(seq as i64),
                at + chrono::TimeDelta::milliseconds(seq as i64),
                vpp_domain::Readings {
                    power: Some(vpp_domain::Kilowatts::new(1.0).unwrap()),
                    soc: Some(vpp_domain::Soc::new(soc).unwrap()),
                    ..Default::default()
                },
            )
            .unwrap();
            f.on_telemetry(&TelemetryMsg {
                v: WIRE_VERSION,
                sample,
                stale: false,
                kind: vpp_telemetry::wire::AssetKind::Battery,
            });
        }
        f.refresh();
        f
    }

    #[tokio::test]
    async fn an_asset_shows_its_twin() {
        let (status, body) = get("/api/v1/assets/r/s/f/x/a").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "online");
        assert_eq!(body["latest"]["readings"]["soc"], 0.5);
        assert_eq!(body["identity"]["firmware"], "1.2.3");
        assert_eq!(body["samples"]["accepted"], 2);
        let (status, _) = get("/api/v1/assets/r/s/f/x/zz").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = get("/api/v1/assets/r/s").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }

    #[tokio::test]
    async fn node_aggregates_and_history_are_served() {
        let (status, body) = get("/api/v1/nodes/r/s/f/aggregate").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["members"], 1);
        assert_eq!(body["discharge_kw"]["p50"], 4.0);
        assert_eq!(
            body["oldest_age_s"], 0.998,
            "the twin holds the second sample: 1 s - 2 ms old"
        );
        assert!((body["energy_above_reserve_kwh"]["p50"].as_f64().unwrap() - 4.0).abs() < 1e-9);
        let (status, body) = get("/api/v1/nodes/aggregate").await;
        assert_eq!(status, StatusCode::OK, "the fleet root: {body}");
        assert_eq!(body["coverage"], 1.0);
        let (status, _) = get("/api/v1/nodes/r/elsewhere/aggregate").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, body) = get("/api/v1/nodes/r/s/f/x/a/history?from=2026-06-01T11:00:00Z&to=2026-06-01T12:00:01Z&step=60").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let soc = body["series"]["soc"].as_array().unwrap();
        assert_eq!(soc.len(), 1);
        assert_eq!(soc[0]["last"], 0.5);
        assert_eq!(soc[0]["max"], 0.6);
        let (status, body) = get("/api/v1/nodes/r/s/history?step=60").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["series"]["discharge_kw_p50"].is_array());
        let (status, body) = get("/api/v1/nodes/r/s/f/x/a/history?step=-5").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _) = get("/api/v1/nodes/r/s/f/x/a/history?from=yesterday").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn the_registry_answers_as_of_a_time() {
        let (status, body) = get("/api/v1/registry?as_of=2026-06-01T12:00:00Z").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["count"], 1);
        assert_eq!(body["assets"][0]["serial"], "SN-A");
        let (_, body) = get("/api/v1/registry?as_of=2026-01-01T00:00:00Z").await;
        assert_eq!(body["count"], 0, "not registered yet then");
        let (status, _) = get("/api/v1/registry?as_of=soon").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn decommissioning_takes_an_asset_out_of_registry_and_aggregates() {
        let fleet = twins();
        let state = || AppState {
            assets: Arc::new(Fixed(vec![])),
            fleet: Arc::clone(&fleet),
            sim: None,
            dispatch: None,
        };
        let req = |m: &str, uri: &str| {
            Request::builder()
                .method(m)
                .uri(uri)
                .body(Body::empty())
                .unwrap()
        };
        let res = app(state())
            .oneshot(req("DELETE", "/api/v1/registry/r/s/f/x/a"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let res = app(state())
            .oneshot(req("GET", "/api/v1/registry"))
            .await
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(res.into_body(), 1 << 20).await.unwrap()).unwrap();
        assert_eq!(body["count"], 0);
        let res = app(state())
            .oneshot(req("GET", "/api/v1/nodes/r/s/f/aggregate"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let res = app(state())
            .oneshot(req("DELETE", "/api/v1/registry/r/s/f/x/a"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "already gone");
        // The registry still knows it was there yesterday.
        let res = app(state())
            .oneshot(req("GET", "/api/v1/registry?as_of=2026-06-01T11:59:59.5Z"))
            .await
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(res.into_body(), 1 << 20).await.unwrap()).unwrap();
        assert_eq!(body["count"], 1);
    }
}
