//! Battery physics throughput: steps per second on one core.
//!
//! Goal (issue 2): at least 50 million steps per second per core, so that a year of 5-minute
//! steps for 1,000 batteries (105 million steps) costs about 2 s.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vpp_battery_sim::physics::{self, BatteryState, PhysicsParams};
use vpp_battery_sim::rng::SplitMix64;
use vpp_benches::varied_specs;
use vpp_domain::{Kilowatts, Soc};

const FLEET: usize = 1000;

fn steps(c: &mut Criterion) {
    let specs = varied_specs(FLEET, 7);
    let params = PhysicsParams {
        ramp_kw_per_s: Some(Kilowatts::new(10.0).expect("finite")),
        self_discharge_per_hour: 2e-5,
    };
    let mut states: Vec<BatteryState> = specs
        .iter()
        .map(|s| BatteryState::at_rest(s, Soc::new(0.5).expect("valid soc")))
        .collect();
    // Requests that swing between charge and discharge, so every branch is taken.
    let mut rng = SplitMix64::new(3);
    let requests: Vec<Kilowatts> = (0..FLEET * 16)
        .map(|_| Kilowatts::new(rng.range(-60.0, 60.0)).expect("finite"))
        .collect();
    let dt = Duration::from_secs(300);

    let mut group = c.benchmark_group("battery");
    group.throughput(Throughput::Elements(FLEET as u64));
    let mut round = 0usize;
    group.bench_function("step_1000_batteries_5min", |b| {
        b.iter(|| {
            let offset = (round % 16) * FLEET;
            round += 1;
            for ((state, spec), req) in states.iter_mut().zip(&specs).zip(&requests[offset..]) {
                *state = physics::step(spec, &params, state, dt, *req);
            }
            black_box(&states);
        });
    });
    group.finish();
}

criterion_group!(benches, steps);
criterion_main!(benches);
