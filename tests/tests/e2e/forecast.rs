//! `vpp forecast backtest` on the real data in `../shared/data`, against published figures.

use std::process::Command;

use crate::vpp_bin;
use vpp_tests::workspace_root;

/// The Victoria demand backtest of `../shared/data/README.md` (28 Melbourne midnights, 48 steps,
/// 28-day windows, temperature and holiday as exogenous columns) with `model`; its JSON report.
fn victoria_backtest(model: &str) -> serde_json::Value {
    let data = workspace_root().join("../shared/data/vic_electricity.csv");
    assert!(
        data.exists(),
        "the shared data set is missing: {}",
        data.display()
    );
    let out = std::env::temp_dir().join(format!("vpp-vic-{model}-{}.json", std::process::id()));
    let status = Command::new(vpp_bin())
        .args(["forecast", "backtest", "--input"])
        .arg(&data)
        .args([
            "--time-col",
            "Time",
            "--target-col",
            "Demand",
            "--exog",
            "Temperature,Holiday",
        ])
        .args(["--horizon", "48", "--origins", "28", "--window-days", "28"])
        .args(["--model", model, "--tz", "Australia/Melbourne", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let report = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    report
}

#[test]
fn seasonal_naive_on_victoria_demand_reproduces_the_published_mase() {
    let r = victoria_backtest("seasonal-naive-day");
    // ../shared/data/README.md: seasonal naive (1 day): MASE 0.969.
    let mase = r["mase"].as_f64().unwrap();
    assert!((mase - 0.969).abs() < 0.0005, "MASE {mase}");
    assert_eq!(r["steps"], 28 * 48);
    assert_eq!(
        r["origins"][27], "2014-12-30T13:00:00+00:00",
        "the last Melbourne midnight with 48 steps after"
    );
}

#[test]
fn calendar_regression_beats_the_published_reference_on_victoria_demand() {
    let r = victoria_backtest("calendar-regression");
    // Issue 5's bar: MASE ≤ 0.70 (MSTL + AutoARIMA: 0.754), P10-P90 coverage 80 % ± 5.
    let mase = r["mase"].as_f64().unwrap();
    let coverage = r["coverage_p10_p90"].as_f64().unwrap();
    assert!(mase <= 0.70, "MASE {mase}");
    assert!((0.75..=0.85).contains(&coverage), "coverage {coverage}");
}
