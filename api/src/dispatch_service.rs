//! The dispatcher as a running service: a thin tokio shell around the pure state machine
//! `vpp_dispatch::dispatch_loop::DispatchLoop`.
//!
//! Every `tick` of real time it reads the twins (batteries and site meters) into a
//! [`FleetView`], hands it to the loop with the clock's "now" (planning runs in a blocking
//! task), and publishes the commands the loop returns as setpoints on the bus. Acks that were
//! not written, the gateway's guard events and meter-history events reach the loop as they
//! arrive. Everything the loop decides (when to plan, what to plan with) lives in the loop;
//! this file only translates between the bus, the twins and it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::TimeDelta;
use vpp_dispatch::dispatch_loop::{DispatchLoop, LoopConfig, NodePlan};
use vpp_dispatch::dispatcher::{self, DispatchError};
use vpp_dispatch::ports::{
    BatteryView, FleetView, MeterView, NetLoadOracle, PriceFeed, Ratings, SetpointCommand,
};
use vpp_domain::{Clock, CorrelationId, Level, NodePath, Setpoint, soc_floor};
use vpp_optimiser::lp::Structured;
use vpp_telemetry::bus::{Bus, Delivery, Topic};
use vpp_telemetry::wire::{AckOutcome, EventKind, Message, SetpointMsg, WIRE_VERSION};

use crate::fleet::FleetService;

/// How the dispatcher runs.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// What and how the loop plans.
    pub plan: LoopConfig,
    /// How often the shell hands the loop a tick, real time.
    pub tick: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            plan: LoopConfig::default(),
            tick: Duration::from_millis(50),
        }
    }
}

/// The dispatcher service.
pub struct DispatchService {
    twins: Arc<FleetService>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    tick: Duration,
    core: Mutex<DispatchLoop>,
}

impl std::fmt::Debug for DispatchService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchService")
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl DispatchService {
    /// A dispatcher over `twins`, sending on `bus`, planning on `prices`; with an `oracle`, on
    /// its future net loads instead of forecasts from the meters (reference runs only).
    #[must_use]
    pub fn new(
        twins: Arc<FleetService>,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        prices: Arc<dyn PriceFeed>,
        oracle: Option<Arc<dyn NetLoadOracle>>,
        config: DispatchConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            twins,
            bus,
            clock,
            tick: config.tick,
            core: Mutex::new(DispatchLoop::new(
                config.plan,
                prices,
                oracle,
                Arc::new(Structured),
            )),
        })
    }

    fn core(&self) -> MutexGuard<'_, DispatchLoop> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets (or, with `None`, clears) the import cap of `node`; the next tick re-plans.
    pub fn set_target(&self, node: NodePath, kw: Option<f64>) -> Result<(), DispatchError> {
        // Checked before waiting for the loop, which may be planning.
        dispatcher::check_target(&node)?;
        self.core().set_target(node, kw)
    }

    /// The current plan seen from `node`, if there is one.
    #[must_use]
    pub fn node_plan(&self, node: &NodePath) -> Option<NodePlan> {
        self.core().node_plan(node)
    }

    /// The last planning error, if the last due plan failed.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.core().last_error().map(ToString::to_string)
    }

    /// Starts the loop and the watchers; they stop when the returned handle is dropped.
    pub async fn spawn(self: &Arc<Self>) -> anyhow::Result<DispatchHandle> {
        let mut acks = self.bus.subscribe(Topic::Acks).await?;
        let me = Arc::clone(self);
        let watcher = tokio::spawn(async move {
            while let Some(d) = acks.next().await {
                if let Delivery::Message(Message::Ack(ack)) = d {
                    let written = matches!(ack.outcome, AckOutcome::Written { .. });
                    if !written {
                        tracing::info!(asset = %ack.asset, "setpoint not written: planned around");
                    }
                    let now = me.clock.now();
                    me.core().on_ack(&ack.asset, written, now);
                }
            }
        });
        let mut events = self.bus.subscribe(Topic::Events).await?;
        let me = Arc::clone(self);
        let guards = tokio::spawn(async move {
            while let Some(d) = events.next().await {
                let Delivery::Message(Message::Event(e)) = d else {
                    continue;
                };
                match e.kind {
                    EventKind::GuardEngaged { site, .. } => me.core().on_guard(&site, true, e.at),
                    EventKind::GuardReleased { site } => me.core().on_guard(&site, false, e.at),
                    EventKind::MeterHistory {
                        site,
                        start,
                        step_s,
                        import_kw,
                    } => {
                        let Ok(node) = site.parse::<NodePath>() else {
                            tracing::warn!(site, "meter history for a malformed site path");
                            continue;
                        };
                        let step = TimeDelta::seconds(step_s);
                        if let Err(e) = me.core().on_meter_history(&node, start, step, &import_kw) {
                            tracing::warn!(site, error = %e, "meter history not taken");
                        }
                    }
                    _ => {}
                }
            }
        });
        let me = Arc::clone(self);
        let looping = tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.tick);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let me2 = Arc::clone(&me);
                let ticked = tokio::task::spawn_blocking(move || {
                    let view = fleet_view(&me2.twins);
                    let now = me2.clock.now();
                    me2.core().on_tick(now, &view)
                })
                .await;
                match ticked {
                    Ok(Ok(commands)) if commands.is_empty() => {}
                    Ok(Ok(commands)) => me.send(commands).await,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "dispatch planning failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "dispatch planning panicked; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(DispatchHandle {
            tasks: vec![watcher, guards, looping],
        })
    }

    /// Publishes the loop's commands as setpoints.
    async fn send(&self, commands: Vec<SetpointCommand>) {
        let now = self.clock.now();
        let mut msgs = Vec::with_capacity(commands.len());
        for (i, c) in commands.into_iter().enumerate() {
            let id = format!("dispatch-{}-{i}", now.timestamp_millis());
            let Ok(cid) = CorrelationId::new(id) else {
                continue;
            };
            match Setpoint::new(c.asset.clone(), c.power, now, c.valid_until, cid, None) {
                Ok(sp) => msgs.push(Message::Setpoint(SetpointMsg {
                    v: WIRE_VERSION,
                    setpoint: sp,
                    site_import_cap_kw: c.site_cap.map(|kw| kw.get()),
                })),
                Err(e) => tracing::warn!(asset = %c.asset, error = %e, "setpoint not built"),
            }
        }
        if let Err((sent, e)) = self.bus.publish_batch(&msgs).await {
            tracing::warn!(sent, error = %e, "setpoints not all sent");
        }
    }
}

/// The fleet as the twins see it: batteries with their registered ratings, site meters.
#[must_use]
pub fn fleet_view(twins: &FleetService) -> FleetView {
    let batteries = twins
        .assets()
        .into_iter()
        .map(|(asset, status, latest, device)| {
            let readings = latest.as_ref().map(|o| o.readings);
            BatteryView {
                asset,
                status,
                measured_at: latest.as_ref().map(|o| o.measured_at),
                power_kw: readings.and_then(|r| r.power).map(|p| p.get()),
                soc: readings.and_then(|r| r.soc).map(|s| s.get()),
                energy_injected_kwh: readings.and_then(|r| r.energy_injected).map(|e| e.get()),
                energy_absorbed_kwh: readings.and_then(|r| r.energy_absorbed).map(|e| e.get()),
                ratings: device.and_then(|d| {
                    Some(Ratings {
                        capacity_kwh: d.capacity_kwh?,
                        max_charge_kw: d.max_charge_kw?,
                        max_discharge_kw: d.max_discharge_kw?,
                        soc_floor: soc_floor(d.soc_min, d.soc_reserve),
                        soc_ceiling: d.soc_max.unwrap_or(1.0),
                    })
                }),
            }
        })
        .collect();
    let meters = twins
        .meters()
        .into_iter()
        .map(|(asset, status, latest)| {
            let readings = latest.as_ref().map(|o| o.readings);
            MeterView {
                site: asset.ancestor(Level::Site),
                status,
                measured_at: latest.as_ref().map(|o| o.measured_at),
                import_kw: readings.and_then(|r| r.power).map(|p| p.get()),
                imported_kwh: readings.and_then(|r| r.energy_absorbed).map(|e| e.get()),
                exported_kwh: readings.and_then(|r| r.energy_injected).map(|e| e.get()),
            }
        })
        .collect();
    FleetView { batteries, meters }
}

/// Keeps the dispatcher's tasks alive.
#[derive(Debug)]
pub struct DispatchHandle {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DispatchHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
