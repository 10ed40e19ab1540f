//! The `vpp` command line: parses arguments and wires the parts together. The `vpp` binary is
//! just [`main`]; the end-to-end tests build the same entry point under another name.
//!
//! - `vpp sim`: serves a simulated SunSpec fleet over Modbus TCP and prints its device list.
//! - `vpp run` (the default): the same fleet, a gateway polling it, the bus (in-process, or NATS
//!   with `--nats`) and the HTTP API.
//! - `vpp gateway`: a gateway as its own process, over NATS.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::fleet::{FleetService, RegistryStore};
use crate::{AppState, SimulatedAssets, app, gateway_devices};
use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use vpp_battery_sim::BaseAddress;
use vpp_battery_sim::fleet::{BaseChoice, ClockConfig, Fleet, FleetConfig, RunningFleet};
use vpp_telemetry::bus::Bus;
use vpp_telemetry::gateway::{Gateway, GatewayConfig, SystemClock};
use vpp_telemetry::inproc::InProcessBus;
use vpp_telemetry::nats::{NatsBus, NatsSettings};

#[derive(Debug, Parser)]
#[command(
    name = "vpp",
    version,
    about = "Virtual power plant: optimisation and dispatch"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a simulated fleet of SunSpec batteries over Modbus TCP and print its devices
    /// (one JSON object per line on stdout).
    Sim(SimArgs),
    /// Run the service: simulated fleet, gateway, bus and HTTP API (the default command).
    Run(RunArgs),
    /// Run a SunSpec gateway: poll the devices of a config file over Modbus TCP, publish on
    /// NATS, write setpoints from NATS.
    Gateway(GatewayArgs),
    /// Run the control side alone: follow the fleet on NATS and serve the HTTP API.
    Control(ControlArgs),
    /// Offline forecasting jobs.
    #[command(subcommand)]
    Forecast(ForecastCommand),
    /// Plan a dispatch problem (problem.json, docs/optimiser.md): prints the objective in EUR,
    /// the peak import in kW and the wall time; writes per-battery schedules.
    Optimize(crate::optimize_cli::OptimizeArgs),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Hierarchical (and monolithic) dispatch of generated heterogeneous fleets × 96 steps:
    /// objective, gap, feasibility, wall time, peak memory.
    Dispatch(crate::optimize_cli::BenchDispatchArgs),
}

#[derive(Debug, Subcommand)]
enum ForecastCommand {
    /// Rolling-origin backtest of a forecaster on a CSV file; prints MASE, MAPE, MAE, RMSE,
    /// pinball loss, P10-P90 coverage and time per forecast.
    Backtest(crate::forecast_cli::BacktestArgs),
}

#[derive(Debug, Clone, Args)]
struct ControlArgs {
    /// NATS server URL.
    #[arg(long)]
    nats: String,
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Do not dispatch (follow the fleet and serve the API only).
    #[arg(long)]
    no_dispatch: bool,
    /// Dispatch interval, seconds.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u32).range(5..=86_400))]
    dispatch_step_s: u32,
    /// Intervals the dispatcher plans ahead.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=2_000))]
    horizon_steps: u32,
    /// Days of metered history the net-load forecasts are fitted on.
    #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u32).range(1..=365))]
    forecast_window_days: u32,
    /// Flat import tariff the plans are priced on, EUR/kWh.
    #[arg(long, default_value_t = 0.30, value_parser = non_negative)]
    import_price: f64,
    /// Flat export tariff, EUR/kWh.
    #[arg(long, default_value_t = 0.08, value_parser = non_negative)]
    export_price: f64,
}

#[derive(Debug, Clone, Args)]
struct SimArgs {
    /// Every site's load (consumption net of PV, without batteries), kW, instead of the
    /// embedded scenario's real load and PV.
    #[arg(long, allow_negative_numbers = true)]
    constant_load_kw: Option<f64>,
    #[command(flatten)]
    fleet: FleetArgs,
}

#[derive(Debug, Clone, Args)]
struct GatewayArgs {
    /// NATS server URL.
    #[arg(long)]
    nats: String,
    /// Devices to poll: a JSON object `{"devices": [...], ...}` (docs in README) or JSON Lines
    /// of devices as `vpp sim` prints them.
    #[arg(long)]
    config: std::path::PathBuf,
    /// Poll interval, ms (overrides the config file).
    #[arg(long)]
    poll_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SunSpecBase {
    #[value(name = "40000")]
    B40000,
    #[value(name = "0")]
    B0,
    #[value(name = "50000")]
    B50000,
    /// Each device at 40000, 0 or 50000, picked from the seed.
    Mixed,
}

#[derive(Debug, Clone, Args)]
struct FleetArgs {
    /// Number of sites; each is one Modbus TCP endpoint.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    sites: u32,
    /// Batteries per site, told apart by Modbus unit id 1..=M.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=239))]
    batteries_per_site: u8,
    /// Simulated seconds per real second (0 pauses the simulated clock).
    #[arg(long, default_value_t = 1.0, value_parser = non_negative, allow_negative_numbers = true)]
    speed: f64,
    /// Simulated time per step, milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    step_ms: u64,
    /// First port; site i listens on base-port + i. 0 lets the OS pick free ports.
    #[arg(long, default_value_t = 0)]
    base_port: u16,
    /// Address the Modbus endpoints listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Seed for battery sizes and initial states.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// SunSpec base register of the devices.
    #[arg(long, value_enum, default_value = "40000")]
    sunspec_base: SunSpecBase,
}

#[derive(Debug, Clone, Args)]
struct RunArgs {
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Use NATS at this URL as the bus (default: the in-process bus).
    #[arg(long)]
    nats: Option<String>,
    /// Gateway poll interval, ms.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    poll_ms: u64,
    /// Where the asset registry is kept between runs with the in-process bus (over NATS it
    /// lives in the `registry` KV bucket instead).
    #[arg(long, default_value = "vpp-registry.json")]
    registry_file: std::path::PathBuf,
    /// Do not run the dispatcher (the sites' loads still follow the scenario).
    #[arg(long)]
    no_dispatch: bool,
    /// Dispatch interval, simulated seconds.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u32).range(60..=86_400))]
    dispatch_step_s: u32,
    /// Intervals the dispatcher plans ahead.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=2_000))]
    horizon_steps: u32,
    /// While the bus is unreachable, the gateway holds each site's import under this, kW.
    #[arg(long, default_value_t = 3.0, value_parser = non_negative)]
    site_fallback_kw: f64,
    /// Plan on the scenario's future load and PV instead of forecasts from the metered past.
    #[arg(long)]
    perfect_foresight: bool,
    /// Days of metered history the load and PV forecasts are fitted on.
    #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u32).range(2..=365))]
    forecast_window_days: u32,
    /// Share of the site peak charge billed on the period's peak (each site's highest metered
    /// interval since the first plan): importing up to it again costs only the rest. 0: every
    /// horizon billed on its own peak.
    #[arg(long, default_value_t = 1.0, value_parser = share)]
    site_peak_period_share: f64,
    #[command(flatten)]
    fleet: FleetArgs,
}

fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a share in [0, 1]")),
    }
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(v) => Err(format!("must be a finite number >= 0, got {v}")),
        Err(e) => Err(format!("not a number: {e}")),
    }
}

impl Default for RunArgs {
    fn default() -> Self {
        match Cli::parse_from(["vpp", "run"]).command {
            Some(Command::Run(args)) => args,
            _ => unreachable!("`vpp run` parses as the run command"),
        }
    }
}

async fn start_fleet(args: &FleetArgs) -> anyhow::Result<RunningFleet> {
    let mut config = FleetConfig::new(
        args.sites as usize,
        args.batteries_per_site,
        chrono::Utc::now(),
    );
    config.seed = args.seed;
    config.base = match args.sunspec_base {
        SunSpecBase::B40000 => BaseChoice::Fixed(BaseAddress::B40000),
        SunSpecBase::B0 => BaseChoice::Fixed(BaseAddress::B0),
        SunSpecBase::B50000 => BaseChoice::Fixed(BaseAddress::B50000),
        SunSpecBase::Mixed => BaseChoice::Mixed,
    };
    let fleet = Arc::new(Fleet::build(&config)?);
    let clock = ClockConfig {
        speed: args.speed,
        step: Duration::from_millis(args.step_ms),
    };
    let running = RunningFleet::start(fleet, args.host, args.base_port, clock).await?;
    tracing::info!(
        sites = args.sites,
        batteries = running.fleet().devices().count(),
        speed = args.speed,
        "simulated fleet serving modbus tcp"
    );
    Ok(running)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled, so a signal that arrives right after start-up is not lost.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("failed to handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("failed to handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}

async fn sim(args: SimArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let running = start_fleet(&args.fleet).await?;
    // The sites' loads: the embedded scenario, or one constant load.
    let loads = match args.constant_load_kw {
        Some(kw) => crate::world::SiteLoads::Constant(kw),
        None => crate::world::SiteLoads::Scenario(Arc::new(
            vpp_scenarios::embedded::Scenario::embedded()?,
        )),
    };
    let driver = crate::world::drive(
        Arc::clone(running.fleet()),
        loads,
        Duration::from_millis(20),
    );
    {
        let mut out = std::io::stdout().lock();
        for device in running.devices() {
            serde_json::to_writer(&mut out, &device)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    shutdown.await;
    driver.abort();
    drop(running);
    Ok(())
}

/// The bus, and where the registry lives with it: the KV bucket on NATS, else `file` (or
/// memory).
async fn connect_bus(
    nats: Option<&str>,
    file: Option<&std::path::Path>,
) -> anyhow::Result<(Arc<dyn Bus>, RegistryStore)> {
    Ok(match nats {
        Some(url) => {
            let bus = NatsBus::connect(url, NatsSettings::default())
                .await
                .with_context(|| format!("failed to set up the NATS bus at {url}"))?;
            let kv = bus
                .jetstream()
                .get_key_value(vpp_telemetry::nats::REGISTRY_BUCKET)
                .await
                .context("failed to open the registry bucket")?;
            tracing::info!(%url, "bus: NATS with JetStream; registry in its KV bucket");
            (Arc::new(bus), RegistryStore::Kv(Box::new(kv)))
        }
        None => {
            tracing::info!("bus: in-process");
            let store = file.map_or(RegistryStore::Memory, |f| RegistryStore::File(f.to_owned()));
            (Arc::new(InProcessBus::default()), store)
        }
    })
}

/// The control plane's fleet view, loaded from `store` and following `bus`.
async fn fleet_service(
    bus: &dyn Bus,
    clock: Arc<dyn vpp_domain::Clock>,
    store: RegistryStore,
    config: vpp_fleet::aggregate::AggregationConfig,
) -> anyhow::Result<Arc<FleetService>> {
    let fleet = FleetService::with_store(clock, config, store)
        .await
        .context("failed to load the asset registry")?;
    Ok(Arc::new(fleet).follow(bus).await?)
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let running = start_fleet(&args.fleet).await?;
    let (bus, store) = connect_bus(args.nats.as_deref(), Some(&args.registry_file)).await?;
    let clock: Arc<dyn vpp_domain::Clock> = Arc::clone(running.fleet()) as _;
    // Twin thresholds in simulated time: a few polls at the simulated speed, at least the
    // defaults.
    let mut aggregation = vpp_fleet::aggregate::AggregationConfig::default();
    let poll_sim_ms = (args.poll_ms as f64 * args.fleet.speed.max(1.0)) as i64;
    let th = &mut aggregation.thresholds;
    th.stale_after = th
        .stale_after
        .max(chrono::TimeDelta::milliseconds(4 * poll_sim_ms));
    th.offline_after = th
        .offline_after
        .max(chrono::TimeDelta::milliseconds(10 * poll_sim_ms));
    aggregation.half_life = aggregation
        .half_life
        .max(chrono::TimeDelta::milliseconds(2 * poll_sim_ms));
    let twins = fleet_service(bus.as_ref(), Arc::clone(&clock), store, aggregation).await?;
    let mut gateway_config = GatewayConfig::new(gateway_devices(&running));
    gateway_config.poll_interval_ms = args.poll_ms;
    gateway_config.fallback = crate::site_meters(&running, args.site_fallback_kw);
    let gateway = Gateway::spawn(gateway_config, Arc::clone(&bus), Arc::clone(&clock)).await?;
    // The sites' loads follow the embedded scenario (real load, PV and prices).
    let scenario = Arc::new(vpp_scenarios::embedded::Scenario::embedded()?);
    let blocks = vpp_scenarios::embedded::sites(running.fleet());
    let driver = crate::world::drive(
        Arc::clone(running.fleet()),
        crate::world::SiteLoads::Scenario(Arc::clone(&scenario)),
        Duration::from_millis(20),
    );
    let dispatch = if args.no_dispatch {
        None
    } else {
        let step = chrono::TimeDelta::seconds(i64::from(args.dispatch_step_s));
        let config = crate::dispatch_service::DispatchConfig {
            plan: vpp_dispatch::dispatch_loop::LoopConfig {
                step,
                horizon_steps: args.horizon_steps as usize,
                site_peak_period_share: args.site_peak_period_share,
                window_days: args.forecast_window_days as usize,
                ..Default::default()
            },
            ..Default::default()
        };
        // The control plane is told the scenario's prices as a published tariff; with
        // `--perfect-foresight` (a reference run) it is also handed the sites' future.
        let oracle: Option<Arc<dyn vpp_dispatch::ports::NetLoadOracle>> =
            args.perfect_foresight.then(|| {
                Arc::new(vpp_scenarios::embedded::PerfectForesight::new(
                    Arc::clone(&scenario),
                    blocks.clone(),
                )) as _
            });
        Some((
            crate::dispatch_service::DispatchService::new(
                Arc::clone(&twins),
                Arc::clone(&bus),
                Arc::clone(&clock),
                Arc::clone(&scenario) as _,
                oracle,
                config,
            ),
            step,
        ))
    };
    let dispatch_tasks = match &dispatch {
        Some((d, step)) => {
            let tasks = d.spawn().await?;
            // The sites' metered past, from the world's meter data service.
            crate::world::publish_meter_history(
                bus.as_ref(),
                clock.as_ref(),
                &scenario,
                &blocks,
                *step,
                args.forecast_window_days as usize,
            )
            .await?;
            Some(tasks)
        }
        None => None,
    };
    let dispatch = dispatch.map(|(d, _)| d);
    let state = AppState {
        assets: Arc::new(SimulatedAssets::new(&running, Arc::clone(&twins))),
        fleet: twins,
        sim: Some(Arc::clone(running.fleet())),
        dispatch,
    };
    serve_api(args.listen, state, shutdown).await?;
    drop(dispatch_tasks);
    driver.abort();
    drop(gateway);
    drop(running);
    Ok(())
}

async fn serve_api(
    listen: SocketAddr,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("failed to bind the http api on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "http api listening");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("http server failed")
}

async fn control(args: ControlArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let (bus, store) = connect_bus(Some(&args.nats), None).await?;
    let clock: Arc<dyn vpp_domain::Clock> = Arc::new(SystemClock);
    let twins = fleet_service(bus.as_ref(), Arc::clone(&clock), store, Default::default()).await?;
    let (dispatch, tasks) = if args.no_dispatch {
        (None, None)
    } else {
        let config = crate::dispatch_service::DispatchConfig {
            plan: vpp_dispatch::dispatch_loop::LoopConfig {
                step: chrono::TimeDelta::seconds(i64::from(args.dispatch_step_s)),
                horizon_steps: args.horizon_steps as usize,
                window_days: args.forecast_window_days as usize,
                ..Default::default()
            },
            ..Default::default()
        };
        let tariff = vpp_dispatch::ports::FlatTariff {
            import_eur_per_kwh: args.import_price,
            export_eur_per_kwh: args.export_price,
        };
        let d = crate::dispatch_service::DispatchService::new(
            Arc::clone(&twins),
            Arc::clone(&bus),
            clock,
            Arc::new(tariff),
            None,
            config,
        );
        let tasks = d.spawn().await?;
        tracing::info!("dispatcher running on the twins and site meters seen on NATS");
        (Some(d), Some(tasks))
    };
    serve_api(
        args.listen,
        AppState {
            assets: Arc::clone(&twins) as _,
            fleet: twins,
            sim: None,
            dispatch,
        },
        shutdown,
    )
    .await?;
    drop(tasks);
    Ok(())
}

fn forecast_backtest(args: &crate::forecast_cli::BacktestArgs) -> anyhow::Result<()> {
    let report = crate::forecast_cli::backtest(args)?;
    let m = &report.metrics;
    println!(
        "model {}  origins {}  steps {}  step {} s  missing {}",
        report.model,
        report.origins.len(),
        m.steps,
        report.step_s,
        report.missing_steps
    );
    println!(
        "MASE {:.3}  MAPE {:.2} %  MAE {:.3}  RMSE {:.3}  pinball {:.3}  P10-P90 coverage {:.1} %  {:.3} ms per forecast",
        m.mase,
        m.mape,
        m.mae,
        m.rmse,
        m.pinball,
        m.coverage_p10_p90 * 100.0,
        report.ms_per_forecast
    );
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("failed to write {}", out.display()))?;
    }
    Ok(())
}

async fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("failed to read gateway config {}", args.config.display()))?;
    let mut config = GatewayConfig::parse(&text)
        .with_context(|| format!("in gateway config {}", args.config.display()))?;
    if let Some(ms) = args.poll_ms {
        config.poll_interval_ms = ms;
    }
    let devices = config.devices.len();
    let (bus, _) = connect_bus(Some(&args.nats), None).await?;
    let gateway = Gateway::spawn(config, bus, Arc::new(SystemClock)).await?;
    tracing::info!(devices, "gateway polling");
    shutdown.await;
    drop(gateway);
    Ok(())
}

/// Runs the `vpp` command line with the process's arguments.
#[must_use]
pub fn main() -> std::process::ExitCode {
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Some(Command::Sim(args)) => sim(args).await,
            Some(Command::Run(args)) => run(args).await,
            Some(Command::Gateway(args)) => gateway(args).await,
            Some(Command::Control(args)) => control(args).await,
            Some(Command::Forecast(ForecastCommand::Backtest(args))) => forecast_backtest(&args),
            Some(Command::Optimize(args)) => crate::optimize_cli::optimize(&args),
            Some(Command::Bench(BenchCommand::Dispatch(args))) => {
                crate::optimize_cli::bench_dispatch(&args)
            }
            None => run(RunArgs::default()).await,
        }
    })
}
