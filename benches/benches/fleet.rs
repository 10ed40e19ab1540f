//! Fleet scale: 1,000,000 digital twins in a 5-level hierarchy (10 regions × 10 substations ×
//! 10 feeders × 100 sites × 10 batteries), fed samples as fast as one core can, each sample
//! going through its twin (ordering and plausibility checks) and the incremental aggregator.
//! Prints samples per second, resident memory per twin (twin + aggregation state + indexes,
//! no history) and the latency of a region aggregate query (100,000 assets).
//!
//! Goals (issue 4): ≥ 1 M samples/s, ≤ 1 KiB per twin, region query ≤ 1 ms.
//! Run: `cargo bench -p vpp-benches --bench fleet`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use chrono::{TimeDelta, TimeZone, Utc};
use vpp_domain::{AssetPath, KilowattHours, Kilowatts, NodePath, Readings, Soc, TelemetrySample};
use vpp_fleet::aggregate::{AggregationConfig, Aggregator, AssetInput};
use vpp_fleet::twin::{AssetConfig, Capability, Identity, Thresholds, Twin};

const REGIONS: usize = 10;
const PER: usize = 10;
const SITES: usize = 100;
const BATTERIES: usize = 10;

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let t0 = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    let th = Thresholds::default();
    let rss0 = rss_bytes();

    let mut paths = Vec::with_capacity(REGIONS * PER * PER * SITES * BATTERIES);
    for r in 0..REGIONS {
        for s in 0..PER {
            for f in 0..PER {
                for x in 0..SITES {
                    for b in 0..BATTERIES {
                        paths.push(
                            AssetPath::new(
                                &format!("r{r}"),
                                &format!("s{s}"),
                                &format!("f{f}"),
                                &format!("x{x}"),
                                &format!("r{r}s{s}f{f}x{x}b{b}"),
                            )
                            .expect("valid path"),
                        );
                    }
                }
            }
        }
    }
    let capability = Capability {
        capacity: Some(KilowattHours::new(13.5).expect("finite")),
        max_charge: Some(Kilowatts::new(5.0).expect("finite")),
        max_discharge: Some(Kilowatts::new(5.0).expect("finite")),
        soc_min: Some(Soc::new(0.05).expect("valid")),
        soc_max: Some(Soc::new(0.95).expect("valid")),
    };
    let reserve = Some(Soc::new(0.1).expect("valid"));
    let rss_paths = rss_bytes();

    // Twins live in a Vec behind one index (as the fleet service keeps them): a hash map of
    // twins would round its capacity up to the next power of two.
    let mut index: HashMap<AssetPath, u32> = HashMap::with_capacity(paths.len());
    let mut twins: Vec<Twin> = Vec::with_capacity(paths.len());
    let mut agg = Aggregator::new(AggregationConfig::default());
    for p in &paths {
        let mut tw = Twin::new(p.clone());
        tw.describe(
            Identity::default(),
            capability,
            AssetConfig {
                reserve,
                export_limit: None,
            },
        );
        agg.upsert(p, AssetInput::from_twin(&tw, reserve), t0);
        index.insert(p.clone(), twins.len() as u32);
        twins.push(tw);
    }
    let rss_twins = rss_bytes();

    // Samples: three rounds over the whole fleet, one second apart.
    let rounds = 3;
    let start = Instant::now();
    let mut accepted = 0u64;
    for round in 0..rounds {
        let at = t0 + TimeDelta::seconds(round + 1);
        for (i, p) in paths.iter().enumerate() {
            let soc = 0.2 + 0.6 * ((i % 97) as f64 / 97.0);
            let sample = TelemetrySample::new(
                p.clone(),
                round as u64 + 1,
                at,
                at,
                Readings {
                    power: Some(Kilowatts::new(((i % 11) as f64) - 5.0).expect("finite")),
                    soc: Some(Soc::new(soc).expect("valid")),
                    ..Readings::default()
                },
            )
            .expect("valid sample");
            let tw = &mut twins[index[p] as usize];
            if tw.ingest(&sample, false, at, &th).is_ok() {
                agg.upsert(p, AssetInput::from_twin(tw, reserve), at);
                accepted += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    let n = paths.len() as f64;

    let region: NodePath = "r3".parse().expect("valid node");
    let q = Instant::now();
    let iters = 10_000;
    for _ in 0..iters {
        black_box(agg.aggregate(black_box(&region)));
    }
    let per_query = q.elapsed() / iters;
    let a = agg.aggregate(&region).expect("region has assets");

    println!("fleet: {} twins, 5-level hierarchy", paths.len());
    println!(
        "ingest (twin checks + incremental aggregation): {accepted} samples in {elapsed:.2?} = {:.2} M samples/s",
        accepted as f64 / elapsed.as_secs_f64() / 1e6
    );
    if let (Some(r0), Some(rp), Some(rt)) = (rss0, rss_paths, rss_twins) {
        println!(
            "resident memory: {:.0} B per asset in all (of which the benchmark's own path list {:.0} B; twins, aggregation state and indexes {:.0} B)",
            (rt - r0) as f64 / n,
            (rp - r0) as f64 / n,
            (rt - rp) as f64 / n
        );
    }
    println!(
        "region aggregate ({} assets): {per_query:.2?} per query (P50 discharge {:.0} kW, coverage {:.2})",
        a.members, a.discharge_kw.p50, a.coverage
    );
}
