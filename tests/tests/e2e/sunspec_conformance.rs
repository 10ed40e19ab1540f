//! Conformance with the SunSpec Alliance reference client: with `vpp sim` running as its own
//! process, pysunspec2 (from outside the project, in Python) scans each simulated device and
//! decodes models 1, 701, 702, 704 and 802 with the values the simulator holds, and a setpoint it
//! writes through model 704 moves the measured power.

use std::process::Command;

use crate::vpp_bin;
use serde_json::Value;
use vpp_tests::{ChildGuard, python, read_json_lines, workspace_root};

fn scan(device: &Value, extra: &[&str]) -> Value {
    let script = workspace_root().join("tests/python/sunspec_scan.py");
    let out = Command::new(python())
        .arg(script)
        .arg(device["host"].as_str().unwrap())
        .arg(device["port"].to_string())
        .arg(device["unit_id"].to_string())
        .args(extra)
        .output()
        .expect("run the pysunspec2 scan");
    assert!(
        out.status.success(),
        "pysunspec2 scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("scan prints JSON")
}

fn spawn_sim(args: &[&str], devices: usize) -> (ChildGuard, Vec<Value>) {
    let mut cmd = Command::new(vpp_bin());
    cmd.arg("sim").args(args);
    let mut child = ChildGuard::spawn(cmd);
    let lines = read_json_lines(&mut child.stdout_lines(), devices);
    (child, lines)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn pysunspec2_scans_and_decodes_every_model_with_the_simulators_values() {
    // Paused clock: the state the simulator listed is the state it serves. Mixed base
    // addresses: pysunspec2 must find each device at 40000, 0 or 50000.
    let (_sim, devices) = spawn_sim(
        &[
            "--sites",
            "2",
            "--batteries-per-site",
            "3",
            "--speed",
            "0",
            "--sunspec-base",
            "mixed",
            "--seed",
            "11",
        ],
        6,
    );
    let bases: std::collections::BTreeSet<_> =
        devices.iter().map(|d| d["base_address"].as_u64()).collect();
    assert!(
        bases.len() >= 2,
        "seed 11 should mix base addresses, got {bases:?}"
    );
    for d in &devices {
        let s = scan(d, &[]);
        let spec = &d["spec"];
        let m = &s["models"];
        assert_eq!(s["base_addr"], d["base_address"], "{d}");
        assert_eq!(s["model_ids"], serde_json::json!([1, 701, 702, 704, 802]));

        // Model 1: identity.
        assert_eq!(m["1"]["Mn"], "vpp");
        assert_eq!(m["1"]["Md"], "vpp-battery-sim");
        assert_eq!(m["1"]["SN"], d["serial"]);
        assert_eq!(m["1"]["DA"], d["unit_id"]);

        // Model 701: idle, connected, single phase, nothing fabricated.
        assert_eq!(m["701"]["W"].as_f64(), Some(0.0));
        assert_eq!(m["701"]["ConnSt"], 1);
        assert_eq!(m["701"]["ACType"], 0);
        assert!(
            m["701"]["TmpAmb"].is_null(),
            "not implemented reads as None"
        );
        assert_eq!(m["701"]["Hz"].as_f64(), Some(50.0));

        // Model 702: ratings, scale factors applied by pysunspec2.
        let w_dis = spec["max_discharge_kw"].as_f64().unwrap() * 1000.0;
        let w_cha = spec["max_charge_kw"].as_f64().unwrap() * 1000.0;
        assert_eq!(m["702"]["WMaxRtg"].as_f64(), Some(w_dis));
        assert_eq!(m["702"]["WDisChaRteMaxRtg"].as_f64(), Some(w_dis));
        assert_eq!(m["702"]["WChaRteMaxRtg"].as_f64(), Some(w_cha));

        // Model 704: controls at their defaults.
        assert_eq!(m["704"]["WSetEna"], 0);
        assert_eq!(m["704"]["WSetMod"], 1);
        assert_eq!(m["704"]["WSet"].as_f64(), Some(0.0));
        assert_eq!(m["704"]["WSetRvrtTms"], 0);

        // Model 802: the battery.
        let wh = spec["capacity_kwh"].as_f64().unwrap() * 1000.0;
        assert_eq!(m["802"]["WHRtg"].as_f64(), Some(wh));
        assert_eq!(m["802"]["WChaRteMax"].as_f64(), Some(w_cha));
        assert_eq!(m["802"]["WDisChaRteMax"].as_f64(), Some(w_dis));
        let soc = m["802"]["SoC"].as_f64().unwrap();
        assert!(
            close(soc, d["soc"].as_f64().unwrap() * 100.0, 0.005),
            "SoC {soc} vs {}",
            d["soc"]
        );
        assert!(close(
            m["802"]["SoCMin"].as_f64().unwrap(),
            spec["soc_min"].as_f64().unwrap() * 100.0,
            1e-9
        ));
        assert!(close(
            m["802"]["SoCMax"].as_f64().unwrap(),
            spec["soc_max"].as_f64().unwrap() * 100.0,
            1e-9
        ));
        assert!(close(
            m["802"]["SoCRsvMin"].as_f64().unwrap(),
            spec["soc_reserve"].as_f64().unwrap() * 100.0,
            1e-9
        ));
        assert_eq!(m["802"]["NCyc"], 0);
        assert_eq!(m["802"]["Typ"], 4, "lithium-ion");
        assert_eq!(m["802"]["W"].as_f64(), Some(0.0));
    }
}

#[test]
fn a_setpoint_written_by_pysunspec2_moves_the_measured_power() {
    let (_sim, devices) = spawn_sim(
        &[
            "--sites",
            "1",
            "--batteries-per-site",
            "1",
            "--speed",
            "10",
            "--step-ms",
            "100",
            "--seed",
            "5",
        ],
        1,
    );
    let d = &devices[0];
    let s = scan(d, &["--write-watts", "-1500", "--revert-s", "3600"]);
    let after = &s["after_write"];
    assert_eq!(after["701"]["W"].as_f64(), Some(-1500.0), "{after}");
    assert_eq!(after["704"]["WSetEna"], 1);
    assert_eq!(after["704"]["WSet"].as_f64(), Some(-1500.0));
    let rem = after["704"]["WSetRvrtRem"].as_f64().unwrap();
    assert!(rem > 3500.0 && rem <= 3600.0, "revert timer armed: {rem}");
    // 802 W is DC power: charging stores η_c of the AC power.
    let eta_c = d["spec"]["charge_efficiency"].as_f64().unwrap();
    let w_dc = after["802"]["W"].as_f64().unwrap();
    assert!(close(w_dc, -1500.0 * eta_c, 1.0), "802 W {w_dc}");
    assert_eq!(after["802"]["ChaSt"], 4, "CHARGING");
}
