//! Messages per second through the bus, telemetry of 10,000 simulated devices (one message per
//! device per iteration, 10,000 distinct subjects):
//! - `inproc`: the in-process bus, one subscriber draining it (goal: at least 1 M/s);
//! - `nats_core/plain`: a plain async-nats publisher of the same pre-encoded bytes (the
//!   yardstick), then `nats_core/vpp`: vpp's core publish (subject + JSON encoding included;
//!   goal: at least 80 % of plain);
//! - `jetstream/plain` and `jetstream/vpp`: JetStream publishes with every acknowledgement of a
//!   512-message batch outstanding, plain versus vpp's `publish_batch`.
//!
//! Needs `nats-server` (installed into `.venv` by `./scripts/test.sh`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vpp_benches::{NatsServer, telemetry_messages};
use vpp_telemetry::bus::{Bus, Topic};
use vpp_telemetry::inproc::InProcessBus;
use vpp_telemetry::nats::{NatsBus, NatsSettings};

const DEVICES: usize = 10_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn inproc(c: &mut Criterion) {
    let rt = runtime();
    let msgs = telemetry_messages(DEVICES);
    let bus = Arc::new(InProcessBus::new(8192));
    let mut sub = rt
        .block_on(bus.subscribe(Topic::Telemetry))
        .expect("subscribe");
    rt.spawn(async move {
        while let Some(d) = sub.next().await {
            black_box(d);
        }
    });
    let mut g = c.benchmark_group("bus_inproc");
    g.throughput(Throughput::Elements(DEVICES as u64));
    g.bench_function("publish_10k_devices", |b| {
        b.iter_custom(|iters| {
            let bus = Arc::clone(&bus);
            let msgs = msgs.clone();
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    for m in &msgs {
                        bus.publish(m.clone()).await.expect("publish");
                    }
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let msgs = telemetry_messages(DEVICES);
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(DEVICES as u64));
    g.bench_function("subject_and_json_10k_telemetry", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box((m.subject(), m.to_json()));
            }
        });
    });
    g.bench_function("json_only_10k_telemetry", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(m.to_json());
            }
        });
    });
    g.finish();
}

fn nats(c: &mut Criterion) {
    let server = NatsServer::start();
    let rt = runtime();
    let msgs = telemetry_messages(DEVICES);
    let bus = rt
        .block_on(NatsBus::connect(&server.url, NatsSettings::default()))
        .expect("nats bus");
    let client = bus.client().clone();
    let encoded: Vec<(String, bytes::Bytes)> = msgs
        .iter()
        .map(|m| (m.subject(), m.to_json().into()))
        .collect();

    let mut g = c.benchmark_group("bus_nats_core");
    g.throughput(Throughput::Elements(DEVICES as u64));
    g.sample_size(20);
    g.bench_function("plain_async_nats", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for (s, p) in &encoded {
                        client.publish(s.clone(), p.clone()).await.expect("publish");
                    }
                    client.flush().await.expect("flush");
                }
                start.elapsed()
            })
        });
    });
    g.bench_function("vpp", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for m in &msgs {
                        bus.publish_core(m).await.expect("publish");
                    }
                    client.flush().await.expect("flush");
                }
                start.elapsed()
            })
        });
    });
    g.finish();

    let js = bus.jetstream().clone();
    let mut g = c.benchmark_group("bus_jetstream");
    g.throughput(Throughput::Elements(DEVICES as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("plain_async_nats", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for chunk in encoded.chunks(512) {
                        let mut acks = Vec::with_capacity(chunk.len());
                        for (s, p) in chunk {
                            acks.push(js.publish(s.clone(), p.clone()).await.expect("publish"));
                        }
                        for a in acks {
                            a.await.expect("ack");
                        }
                    }
                }
                start.elapsed()
            })
        });
    });
    g.bench_function("vpp", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    for chunk in msgs.chunks(512) {
                        bus.publish_batch(chunk).await.expect("publish");
                    }
                }
                start.elapsed()
            })
        });
    });
    g.finish();
    drop(server);
}

criterion_group!(benches, encode, inproc, nats);
criterion_main!(benches);
