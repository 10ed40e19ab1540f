//! Modbus TCP register round-trips per second on loopback, one connection, one request in
//! flight at a time (what a gateway polling one device does).
//!
//! Goal (issue 2): at least 50,000 round-trips per second on one connection. Two set-ups:
//! - `same_thread`: client and server on one single-threaded runtime (the protocol stack's own
//!   cost: framing, the SunSpec map, the loopback socket);
//! - `cross_thread`: the server on its own runtime thread, the client on another, as a gateway
//!   and a device in two processes would be (adds two thread wake-ups per round-trip).
//!
//! A plain TCP ping-pong of Modbus-sized frames on the same runtimes (`tcp_echo_*`) is the
//! baseline: what loopback and thread wake-ups cost with no Modbus at all. Also measures the
//! pure SunSpec map encoding that every read does.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tokio_modbus::Slave;
use tokio_modbus::client::{Context, Reader, tcp};
use vpp_battery_sim::fleet::{ClockConfig, Fleet, FleetConfig, RunningFleet};
use vpp_battery_sim::sunspec::{self, DeviceView, M701_AT};

fn fleet() -> Arc<Fleet> {
    let start = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    Arc::new(Fleet::build(&FleetConfig::new(1, 1, start)).expect("valid fleet"))
}

fn single_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn start(rt: &Runtime, fleet: &Arc<Fleet>) -> RunningFleet {
    let clock = ClockConfig {
        speed: 1.0,
        step: Duration::from_secs(1),
    };
    rt.block_on(RunningFleet::start(
        Arc::clone(fleet),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        0,
        clock,
    ))
    .expect("fleet starts")
}

fn connect(rt: &Runtime, addr: SocketAddr) -> Context {
    rt.block_on(tcp::connect_slave(addr, Slave(1)))
        .expect("connect")
}

fn bench_reads(c: &mut Criterion, group: &str, client_rt: &Runtime, ctx: &mut Context) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    for (name, count) in [("read_1_register", 1u16), ("read_125_registers", 125)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                client_rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let regs = ctx
                            .read_holding_registers(40000 + M701_AT, count)
                            .await
                            .expect("transport")
                            .expect("no exception");
                        black_box(regs);
                    }
                    start.elapsed()
                })
            });
        });
    }
    g.finish();
}

/// Ping-pong of a 12-byte request and an 11-byte answer (a one-register Modbus read) over a
/// plain tokio echo server: the floor under any Modbus round-trip on the same runtimes.
fn bench_echo(c: &mut Criterion, name: &str, server_rt: &Runtime, client_rt: &Runtime) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let server = server_rt.spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        s.set_nodelay(true).expect("nodelay");
        let mut buf = [0u8; 12];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(&buf[..11]).await.is_err() {
                break;
            }
        }
    });
    let mut stream = client_rt
        .block_on(tokio::net::TcpStream::connect(addr))
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g.bench_function("ping_pong_12_bytes", |b| {
        b.iter_custom(|iters| {
            client_rt.block_on(async {
                let mut buf = [0u8; 11];
                let start = Instant::now();
                for _ in 0..iters {
                    stream.write_all(&[0u8; 12]).await.expect("write");
                    stream.read_exact(&mut buf).await.expect("read");
                }
                start.elapsed()
            })
        });
    });
    g.finish();
    server.abort();
}

fn round_trips(c: &mut Criterion) {
    // Same thread: the server's tasks run while the client awaits on the same runtime.
    let fleet_a = fleet();
    let rt = single_thread();
    let running = start(&rt, &fleet_a);
    let mut ctx = connect(&rt, running.endpoints()[0]);
    bench_reads(c, "modbus_same_thread", &rt, &mut ctx);
    bench_echo(c, "tcp_echo_same_thread", &rt, &rt);
    drop(running);

    // Cross thread: the server on a runtime with its own worker thread.
    let fleet_b = fleet();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let running = start(&server_rt, &fleet_b);
    let client_rt = single_thread();
    let mut ctx = connect(&client_rt, running.endpoints()[0]);
    bench_reads(c, "modbus_cross_thread", &client_rt, &mut ctx);
    bench_echo(c, "tcp_echo_cross_thread", &server_rt, &client_rt);
    drop(running);

    let mut g = c.benchmark_group("sunspec");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_full_map", |b| {
        let device = fleet_a.sites()[0].device(1).expect("unit 1");
        b.iter(|| {
            let battery = device.lock();
            black_box(sunspec::encode(DeviceView {
                battery: &battery,
                unit_id: 1,
            }))
        });
    });
    g.finish();
}

criterion_group!(benches, round_trips);
criterion_main!(benches);
