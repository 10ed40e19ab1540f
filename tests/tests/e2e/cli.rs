//! The `vpp` binary as a user runs it: `vpp sim` prints its devices, `vpp run` serves the HTTP
//! API, and both shut down cleanly on Ctrl-C (SIGINT).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::vpp_bin;
use vpp_tests::{ChildGuard, free_port, http_get, http_request, read_json_lines};

/// Waits (at most 10 s) until the HTTP API at `api` answers.
fn wait_for_api(api: SocketAddr) {
    for _ in 0..200 {
        if http_get(api, "/healthz").is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sim_lists_one_endpoint_per_site_with_unit_ids_per_battery() {
    let mut cmd = Command::new(vpp_bin());
    cmd.args([
        "sim",
        "--sites",
        "3",
        "--batteries-per-site",
        "4",
        "--speed",
        "0",
    ]);
    let mut child = ChildGuard::spawn(cmd);
    let devices = read_json_lines(&mut child.stdout_lines(), 12);
    let ports: BTreeSet<_> = devices
        .iter()
        .map(|d| d["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports.len(), 3, "one port per site");
    let assets: BTreeSet<_> = devices
        .iter()
        .map(|d| d["asset"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(assets.len(), 12, "asset paths are unique");
    for d in &devices {
        let unit = d["unit_id"].as_u64().unwrap();
        assert!((1..=4).contains(&unit));
        assert_eq!(d["host"], "127.0.0.1");
        assert_eq!(d["asset"].as_str().unwrap().split('/').count(), 5);
        assert!(
            d["asset"]
                .as_str()
                .unwrap()
                .ends_with(&format!("-{unit:03}"))
        );
    }
    assert_eq!(
        child.interrupt(Duration::from_secs(10)),
        Some(0),
        "clean exit on ctrl-c"
    );
}

#[test]
fn sim_honours_a_base_port() {
    let base = free_port();
    let mut cmd = Command::new(vpp_bin());
    cmd.args([
        "sim",
        "--sites",
        "1",
        "--batteries-per-site",
        "2",
        "--speed",
        "0",
    ])
    .args(["--base-port", &base.to_string()]);
    let mut child = ChildGuard::spawn(cmd);
    let devices = read_json_lines(&mut child.stdout_lines(), 2);
    assert!(
        devices
            .iter()
            .all(|d| d["port"].as_u64() == Some(u64::from(base)))
    );
}

#[test]
fn sim_rejects_bad_arguments_with_a_message() {
    let out = Command::new(vpp_bin())
        .args(["sim", "--batteries-per-site", "300"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("batteries-per-site") && err.contains("300"),
        "{err}"
    );
    let out = Command::new(vpp_bin())
        .args(["sim", "--speed", "-1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--speed") && err.contains(">= 0"), "{err}");
}

#[test]
fn run_dispatches_and_takes_an_operators_peak_target() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let registry =
        std::env::temp_dir().join(format!("vpp-run-dispatch-{}.json", std::process::id()));
    let mut cmd = Command::new(vpp_bin());
    cmd.args(["run", "--listen", &addr.to_string()])
        .args(["--sites", "2", "--batteries-per-site", "2"])
        .args(["--speed", "30", "--poll-ms", "100"])
        .arg("--registry-file")
        .arg(&registry);
    let _child = ChildGuard::spawn(cmd);
    // The dispatcher's first plan: every battery gets a setpoint within its ratings.
    let mut plan = None;
    for _ in 0..300 {
        if let Ok((200, body)) = http_get(addr, "/api/v1/nodes/plan") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if v["setpoints"].as_object().is_some_and(|s| s.len() == 4) {
                plan = Some(v);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let plan = plan.expect("a plan with four setpoints within 15 s");
    let (_, assets) = http_get(addr, "/api/v1/assets").unwrap();
    let assets: serde_json::Value = serde_json::from_str(&assets).unwrap();
    for a in assets["assets"].as_array().unwrap() {
        let kw = plan["setpoints"][a["asset"].as_str().unwrap()]
            .as_f64()
            .unwrap();
        let dev = &a["device"];
        assert!(kw <= dev["max_discharge_kw"].as_f64().unwrap() + 1e-9);
        assert!(-kw <= dev["max_charge_kw"].as_f64().unwrap() + 1e-9);
    }
    // The dashboard is served and reads the plan and targets from this API.
    let (status, page) = http_get(addr, "/").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("/api/v1/nodes/aggregate") && page.contains("/peak-target"));
    // It shows each site's peak so far in the billing period, which the plan carries (empty
    // until the first whole interval after the first plan has ended).
    assert!(page.contains("site_peak_so_far_kw"));
    assert!(plan["site_peak_so_far_kw"].is_object(), "{plan}");
    // An operator caps the feeder: the next plan carries the target and keeps the feeder under
    // it wherever the batteries can.
    let feeder = "/api/v1/nodes/r01/sub001/f0001";
    let (status, body) = http_request(
        addr,
        "PUT",
        &format!("{feeder}/peak-target"),
        Some(r#"{"import_limit_kw": 1.5}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let plans_before = plan["plans"].as_u64().unwrap();
    let mut seen = None;
    for _ in 0..200 {
        let (status, body) = http_get(addr, &format!("{feeder}/plan")).unwrap();
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["peak_target_kw"] == 1.5 && v["plans"].as_u64().unwrap() > plans_before {
            seen = Some(v);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let v = seen.expect("a re-plan with the target");
    let flow = v["feeder_flow_kw"]["r01/sub001/f0001"].as_array().unwrap();
    assert!(!flow.is_empty());
    // Refusals name what is wrong.
    for (path, body, want) in [
        (
            "/api/v1/nodes/r01/peak-target",
            r#"{"import_limit_kw": 1}"#,
            400,
        ),
        (
            &format!("{feeder}/peak-target") as &str,
            r#"{"import_limit_kw": -1}"#,
            400,
        ),
        (
            &format!("{feeder}/peak-target") as &str,
            r#"{"limit": 1}"#,
            400,
        ),
        (
            "/api/v1/nodes/r09/sub001/f0001/peak-target",
            r#"{"import_limit_kw": 1}"#,
            404,
        ),
    ] {
        let (status, answer) = http_request(addr, "PUT", path, Some(body)).unwrap();
        assert_eq!(status, want, "{path} {body}: {answer}");
        assert!(answer.contains("error"), "{answer}");
    }
    let _ = std::fs::remove_file(registry);
}

#[test]
fn run_serves_health_and_assets_then_stops_on_ctrl_c() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let registry =
        std::env::temp_dir().join(format!("vpp-run-registry-{}.json", std::process::id()));
    let mut cmd = Command::new(vpp_bin());
    cmd.args(["run", "--listen", &addr.to_string()])
        .args([
            "--sites",
            "2",
            "--batteries-per-site",
            "3",
            "--poll-ms",
            "100",
        ])
        .arg("--registry-file")
        .arg(&registry);
    let mut child = ChildGuard::spawn(cmd);

    let mut health = None;
    for _ in 0..200 {
        if let Ok(r) = http_get(addr, "/healthz") {
            health = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, body) = health.expect("vpp run answers /healthz within 10 s");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );

    let (status, body) = http_get(addr, "/api/v1/assets").unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["count"], 6);
    // Telemetry travels simulator → Modbus → gateway → in-process bus → API.
    let mut with_telemetry = 0;
    for _ in 0..100 {
        let (_, body) = http_get(addr, "/api/v1/assets").unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        with_telemetry = v["assets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["latest"]["readings"]["soc"].is_number())
            .count();
        if with_telemetry == 6 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(with_telemetry, 6, "every asset's telemetry reached the API");
    let first = &v["assets"][0]["simulator"];
    assert!(first["port"].as_u64().unwrap() > 0);
    let soc = first["soc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&soc));

    let (status, body) = http_get(addr, "/api/v1/nothing-here").unwrap();
    assert_eq!(status, 404);
    assert!(body.contains("not found"));

    assert_eq!(
        child.interrupt(Duration::from_secs(10)),
        Some(0),
        "clean exit on ctrl-c"
    );
    let _ = std::fs::remove_file(registry);
}

#[test]
fn sim_and_gateway_run_as_separate_processes_over_nats() {
    let server = vpp_tests::NatsServer::start();
    let mut sim = Command::new(vpp_bin());
    sim.args([
        "sim",
        "--sites",
        "2",
        "--batteries-per-site",
        "2",
        "--sunspec-base",
        "mixed",
    ]);
    let mut sim = ChildGuard::spawn(sim);
    let devices = read_json_lines(&mut sim.stdout_lines(), 4);
    let config = std::env::temp_dir().join(format!("vpp-gw-{}.jsonl", std::process::id()));
    let lines: Vec<String> = devices.iter().map(ToString::to_string).collect();
    std::fs::write(&config, lines.join("\n")).unwrap();

    // The control side first, so that it sees the registrations.
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut control = Command::new(vpp_bin());
    control.args([
        "control",
        "--nats",
        &server.url(),
        "--listen",
        &api.to_string(),
    ]);
    let mut control = ChildGuard::spawn(control);
    wait_for_api(api);

    let mut gw = Command::new(vpp_bin());
    gw.args([
        "gateway",
        "--nats",
        &server.url(),
        "--poll-ms",
        "100",
        "--config",
    ])
    .arg(&config);
    let mut gw = ChildGuard::spawn(gw);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let seen = rt.block_on(async {
        use vpp_telemetry::bus::{Bus, Delivery, Topic};
        use vpp_telemetry::wire::Message;
        let bus = vpp_telemetry::nats::NatsBus::connect(&server.url(), Default::default())
            .await
            .unwrap();
        let mut sub = bus.subscribe(Topic::Telemetry).await.unwrap();
        let mut seen = BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while seen.len() < 4 && tokio::time::Instant::now() < deadline {
            if let Ok(Some(Delivery::Message(Message::Telemetry(t)))) =
                tokio::time::timeout(Duration::from_secs(1), sub.next()).await
                && t.kind == vpp_telemetry::wire::AssetKind::Battery
            {
                seen.insert(t.sample.asset().to_string());
            }
        }
        seen
    });
    let want: BTreeSet<String> = devices
        .iter()
        .map(|d| d["asset"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        seen, want,
        "telemetry from every device of the other process"
    );

    // The control process shows every asset with its registration and telemetry (it may be a
    // moment behind the subscriber above: poll, bounded).
    let ready = |v: &serde_json::Value| {
        v["count"] == 4
            && v["assets"].as_array().is_some_and(|a| {
                a.iter()
                    .all(|a| a["device"].is_object() && a["latest"].is_object())
            })
    };
    let mut v = serde_json::Value::Null;
    for _ in 0..100 {
        let (status, body) = http_get(api, "/api/v1/assets").unwrap();
        assert_eq!(status, 200);
        v = serde_json::from_str(&body).unwrap();
        if ready(&v) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(v["count"], 4, "{v}");
    for a in v["assets"].as_array().unwrap() {
        assert!(a["latest"]["readings"]["soc"].is_number(), "{a}");
        assert_eq!(a["status"], "online", "{a}");
        assert_eq!(a["device"]["manufacturer"], "vpp", "{a}");
        assert!(
            a["simulator"].is_null(),
            "the control side has no simulator"
        );
    }
    assert_eq!(gw.interrupt(Duration::from_secs(10)), Some(0));
    assert_eq!(control.interrupt(Duration::from_secs(10)), Some(0));
    let _ = std::fs::remove_file(config);
}

#[test]
fn gateway_rejects_a_broken_config_with_a_message() {
    let config = std::env::temp_dir().join(format!("vpp-gw-bad-{}.json", std::process::id()));
    std::fs::write(
        &config,
        r#"{"devices":[{"asset":"a/b","host":"127.0.0.1","port":1,"unit_id":1}]}"#,
    )
    .unwrap();
    let out = Command::new(vpp_bin())
        .args(["gateway", "--nats", "nats://127.0.0.1:1", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gateway config") && err.contains("segments"),
        "{err}"
    );
    let _ = std::fs::remove_file(config);
}

/// The edge/cloud split end to end: `vpp sim`, `vpp gateway` and `vpp control` as three
/// processes over a real `nats-server`. The control process knows the sites only through the
/// bus (battery twins and site-meter telemetry). An operator's cap on a site brings its metered
/// import under the cap within two intervals; SIGKILLing the control process leaves the
/// batteries to revert to idle on their own timers.
#[test]
fn sim_gateway_and_control_over_nats_hold_a_site_under_its_cap() {
    let server = vpp_tests::NatsServer::start();
    let mut sim = Command::new(vpp_bin());
    sim.args(["sim", "--sites", "2", "--batteries-per-site", "2"])
        .args(["--constant-load-kw", "6", "--seed", "3"]);
    let mut sim = ChildGuard::spawn(sim);
    let devices = read_json_lines(&mut sim.stdout_lines(), 4);
    let config = std::env::temp_dir().join(format!("vpp-gw3-{}.jsonl", std::process::id()));
    let lines: Vec<String> = devices.iter().map(ToString::to_string).collect();
    std::fs::write(&config, lines.join("\n")).unwrap();
    let site = devices[0]["asset"]
        .as_str()
        .unwrap()
        .rsplit_once('/')
        .unwrap()
        .0
        .to_owned();

    let step_s = 10;
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut control = Command::new(vpp_bin());
    control
        .args([
            "control",
            "--nats",
            &server.url(),
            "--listen",
            &api.to_string(),
        ])
        .args([
            "--dispatch-step-s",
            &step_s.to_string(),
            "--horizon-steps",
            "12",
        ])
        .args(["--forecast-window-days", "1"]);
    let mut control = ChildGuard::spawn(control);
    wait_for_api(api);
    let mut gw = Command::new(vpp_bin());
    gw.args([
        "gateway",
        "--nats",
        &server.url(),
        "--poll-ms",
        "200",
        "--config",
    ])
    .arg(&config);
    let _gw = ChildGuard::spawn(gw);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use vpp_telemetry::bus::{Bus, Delivery, Topic};
        use vpp_telemetry::wire::{AssetKind, Message};
        let bus = vpp_telemetry::nats::NatsBus::connect(&server.url(), Default::default())
            .await
            .unwrap();
        let mut sub = bus.subscribe(Topic::Telemetry).await.unwrap();
        // Newest site import and battery powers of the capped site, as the bus carries them.
        let mut import: Option<f64> = None;
        let mut powers: std::collections::BTreeMap<String, f64> = Default::default();
        let mut next =
            async |import: &mut Option<f64>,
                   powers: &mut std::collections::BTreeMap<String, f64>| {
                if let Ok(Some(Delivery::Message(Message::Telemetry(t)))) =
                    tokio::time::timeout(Duration::from_secs(1), sub.next()).await
                    && t.sample.asset().as_str().starts_with(&site)
                {
                    let p = t.sample.readings().power.map(|p| p.get());
                    match t.kind {
                        AssetKind::SiteMeter => *import = p,
                        AssetKind::Battery => {
                            if let Some(p) = p {
                                powers.insert(t.sample.asset().to_string(), p);
                            }
                        }
                    }
                }
            };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while (import.is_none() || powers.len() < 2) && tokio::time::Instant::now() < deadline {
            next(&mut import, &mut powers).await;
        }
        assert!(import.is_some(), "site meter telemetry on the bus");
        // The control process plans from what it was told.
        let mut planned = false;
        for _ in 0..100 {
            if let Ok((200, body)) = http_get(api, "/api/v1/nodes/plan") {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                planned = v["setpoints"].as_object().is_some_and(|s| s.len() == 4)
                    && v["unmetered_sites"].as_array().is_some_and(Vec::is_empty);
                if planned {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(planned, "a plan over four batteries and two metered sites");

        // The operator caps the site at 2 kW of its 6 kW load.
        let cap = 2.0;
        let (status, body) = http_request(
            api,
            "PUT",
            &format!("/api/v1/nodes/{site}/peak-target"),
            Some(&format!(r#"{{"import_limit_kw": {cap}}}"#)),
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let set_at = tokio::time::Instant::now();
        let mut under_since: Option<tokio::time::Instant> = None;
        while tokio::time::Instant::now() < set_at + Duration::from_secs(2 * step_s + 10) {
            next(&mut import, &mut powers).await;
            let under = import.is_some_and(|kw| kw <= cap + 0.25);
            match (under, under_since) {
                (true, None) => under_since = Some(tokio::time::Instant::now()),
                (false, _) => under_since = None,
                _ => {}
            }
            if under_since.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) {
                break;
            }
        }
        let held = under_since.expect("the metered import went under the cap");
        let took = held - set_at;
        eprintln!("metered import under the {cap} kW cap {took:?} after the target was set");
        assert!(
            took <= Duration::from_secs(2 * step_s),
            "under the cap only after {took:?} (two intervals are {} s)",
            2 * step_s
        );
        assert!(held.elapsed() > Duration::from_secs(3), "and held there");

        // The control plane dies: the batteries revert on their own timers (a setpoint is
        // valid to the middle of the next interval, at most 1.5 intervals).
        control.kill();
        let killed = tokio::time::Instant::now();
        let mut idle: Option<tokio::time::Instant> = None;
        while killed.elapsed() < Duration::from_secs(2 * step_s + 10) {
            next(&mut import, &mut powers).await;
            if idle.is_none() && powers.len() == 2 && powers.values().all(|p| p.abs() < 0.05) {
                idle = Some(tokio::time::Instant::now());
                eprintln!("batteries idle {:?} after the kill", killed.elapsed());
            }
            // The meter is read after the batteries in a poll round: wait for a reading of it
            // taken after they went idle.
            if idle.is_some_and(|t| t.elapsed() > Duration::from_secs(2)) {
                break;
            }
        }
        assert!(idle.is_some(), "batteries reverted to idle: {powers:?}");
        assert!(
            import.is_some_and(|kw| kw > cap + 1.0),
            "the site imports its load again: {import:?}"
        );
    });
    let _ = std::fs::remove_file(config);
}
