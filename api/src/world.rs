//! The simulated world's adapters (the composition root's side of the simulator, never the
//! control plane's): a task that plays the embedded scenario into the simulated sites' loads as
//! the simulated clock runs, and the meter data service that publishes each site's metered
//! past on the bus once, as a utility's meter data management system would.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use vpp_battery_sim::fleet::Fleet;
use vpp_domain::{Clock, Kilowatts};
use vpp_scenarios::embedded::{self, Block, Scenario};
use vpp_telemetry::bus::{Bus, BusError};
use vpp_telemetry::wire::{EventKind, EventMsg, Message, WIRE_VERSION};

/// What drives the simulated sites' loads.
#[derive(Debug, Clone)]
pub enum SiteLoads {
    /// The embedded scenario (real load, PV and prices).
    Scenario(Arc<Scenario>),
    /// The same load at every site, kW.
    Constant(f64),
}

/// Sets every simulated site's load as the simulated clock runs, every `period` of real time,
/// until the task is dropped.
pub fn drive(fleet: Arc<Fleet>, loads: SiteLoads, period: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        let blocks = embedded::sites(&fleet);
        loop {
            tick.tick().await;
            let values = match &loads {
                SiteLoads::Scenario(s) => embedded::site_loads(s, &blocks, fleet.now()),
                SiteLoads::Constant(kw) => vec![*kw; blocks.len()],
            };
            for (site, load) in fleet.sites().iter().zip(values) {
                if let Ok(kw) = Kilowatts::new(load) {
                    site.set_load(kw);
                }
            }
        }
    })
}

/// Publishes each site's metered import over the `days` days before now, interval by interval
/// (`step`), as `meter_history` events: the control plane's forecasts start from the sites'
/// real past, learnt from the bus.
pub async fn publish_meter_history(
    bus: &dyn Bus,
    clock: &dyn Clock,
    scenario: &Scenario,
    blocks: &[Block],
    step: TimeDelta,
    days: usize,
) -> Result<(), BusError> {
    let now = clock.now();
    for (site, start, import) in embedded::meter_history(scenario, blocks, now, step, days) {
        let msg = Message::Event(EventMsg {
            v: WIRE_VERSION,
            asset: None,
            at: now,
            kind: EventKind::MeterHistory {
                site: site.to_string(),
                start,
                step_s: step.num_seconds(),
                import_kw: import.into_iter().map(Some).collect(),
            },
        });
        bus.publish(msg).await?;
    }
    Ok(())
}
