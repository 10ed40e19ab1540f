//! Shared rig of the gateway tests: a simulated fleet with a paused clock on real Modbus TCP
//! sockets, a gateway over a given bus, and subscriptions to what the gateway publishes.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use vpp_battery_sim::fleet::{BaseChoice, ClockConfig, Fleet, FleetConfig, RunningFleet};
use vpp_domain::{AssetPath, CorrelationId, Kilowatts, Setpoint};
use vpp_telemetry::bus::{Bus, Delivery, Subscription, Topic};
use vpp_telemetry::gateway::{Gateway, GatewayConfig, SystemClock};
use vpp_telemetry::wire::{Message, SetpointMsg, WIRE_VERSION};

pub struct Rig {
    pub running: RunningFleet,
    pub bus: Arc<dyn Bus>,
    pub gateway: Gateway,
    pub telemetry: Subscription,
    pub events: Subscription,
    pub acks: Subscription,
}

/// A paused fleet of `sites` × `per_site` batteries (mixed SunSpec bases) and a gateway polling
/// it every 50 ms over `bus`.
pub async fn rig(sites: usize, per_site: u8, bus: Arc<dyn Bus>) -> Rig {
    rig_with(sites, per_site, bus, |_, _| {}).await
}

/// Like [`rig`], with the gateway configuration adjusted by `tweak` (which also sees the fleet).
pub async fn rig_with(
    sites: usize,
    per_site: u8,
    bus: Arc<dyn Bus>,
    tweak: impl FnOnce(&mut GatewayConfig, &Fleet),
) -> Rig {
    let mut cfg = FleetConfig::new(sites, per_site, Utc::now());
    cfg.base = BaseChoice::Mixed;
    cfg.seed = 21;
    let fleet = Arc::new(Fleet::build(&cfg).unwrap());
    let clock = ClockConfig {
        speed: 0.0,
        step: Duration::from_secs(1),
    };
    let running = RunningFleet::start(fleet, IpAddr::V4(Ipv4Addr::LOCALHOST), 0, clock)
        .await
        .unwrap();
    let mut gw = GatewayConfig::new(vpp_api::gateway_devices(&running));
    gw.poll_interval_ms = 50;
    gw.request_timeout_ms = 200;
    gw.offline_retry_ms = 200;
    tweak(&mut gw, running.fleet());
    let telemetry = bus.subscribe(Topic::Telemetry).await.unwrap();
    let events = bus.subscribe(Topic::Events).await.unwrap();
    let acks = bus.subscribe(Topic::Acks).await.unwrap();
    let gateway = Gateway::spawn(gw, Arc::clone(&bus), Arc::new(SystemClock))
        .await
        .unwrap();
    Rig {
        running,
        bus,
        gateway,
        telemetry,
        events,
        acks,
    }
}

pub async fn next_msg(sub: &mut Subscription) -> Message {
    match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(Delivery::Message(m))) => m,
        other => panic!("expected a message within 10 s, got {other:?}"),
    }
}

/// Reads `sub` until `f` returns something (10 s at most).
pub async fn until<T>(sub: &mut Subscription, mut f: impl FnMut(Message) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, sub.next()).await {
            Ok(Some(Delivery::Message(m))) => {
                if let Some(t) = f(m) {
                    return t;
                }
            }
            other => panic!("condition not met within 10 s (last: {other:?})"),
        }
    }
}

/// A setpoint valid for 60 s from now.
pub fn setpoint(asset: &AssetPath, kw: f64, id: &str) -> Message {
    let now = Utc::now();
    Message::Setpoint(SetpointMsg {
        v: WIRE_VERSION,
        setpoint: Setpoint::new(
            asset.clone(),
            Kilowatts::new(kw).unwrap(),
            now,
            now + TimeDelta::seconds(60),
            CorrelationId::new(id).unwrap(),
            None,
        )
        .unwrap(),
        site_import_cap_kw: None,
    })
}

/// Drains `telemetry`, then checks that the next `n` samples are none of `asset`'s.
pub async fn assert_no_telemetry_from(telemetry: &mut Subscription, asset: &AssetPath, n: usize) {
    while telemetry.try_next().is_some() {}
    for _ in 0..n {
        if let Message::Telemetry(t) = next_msg(telemetry).await {
            assert_ne!(t.sample.asset(), asset, "no values for {asset}");
        }
    }
}
