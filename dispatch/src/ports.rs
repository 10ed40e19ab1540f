//! The dispatcher's ports: what it is told, as plain values and traits. The composition root
//! fills them from the bus (twins, site meters), a tariff or market price feed, and, for a
//! reference run only, a net-load oracle. Nothing here reads a clock, a socket or a file.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use vpp_domain::{AssetPath, Kilowatts, NodePath};
use vpp_fleet::twin::Status;

/// A battery as its twin knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BatteryView {
    /// The asset.
    pub asset: AssetPath,
    /// Its twin's status now.
    pub status: Status,
    /// When its newest measurement was taken.
    pub measured_at: Option<DateTime<Utc>>,
    /// Newest measured power, kW (`> 0` discharges).
    pub power_kw: Option<f64>,
    /// Newest measured state of charge, 0..=1.
    pub soc: Option<f64>,
    /// Lifetime AC energy discharged, kWh (SunSpec 701 `TotWhInj`).
    pub energy_injected_kwh: Option<f64>,
    /// Lifetime AC energy charged, kWh (SunSpec 701 `TotWhAbs`).
    pub energy_absorbed_kwh: Option<f64>,
    /// Its ratings, once registered.
    pub ratings: Option<Ratings>,
}

/// A battery's ratings, from its registration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratings {
    /// Rated energy, kWh.
    pub capacity_kwh: f64,
    /// Charge rating, kW.
    pub max_charge_kw: f64,
    /// Discharge rating, kW.
    pub max_discharge_kw: f64,
    /// Lowest state of charge a plan may use ([`vpp_domain::soc_floor`]).
    pub soc_floor: f64,
    /// Highest state of charge a plan may use.
    pub soc_ceiling: f64,
}

/// A site meter as its twin knows it: the control plane's only source of a site's import.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterView {
    /// The site it measures.
    pub site: NodePath,
    /// Its twin's status now.
    pub status: Status,
    /// When its newest reading was taken.
    pub measured_at: Option<DateTime<Utc>>,
    /// Grid import at the connection point, kW (`> 0` imports).
    pub import_kw: Option<f64>,
    /// Lifetime energy imported from the grid, kWh (SunSpec 201 `TotWhImp`).
    pub imported_kwh: Option<f64>,
    /// Lifetime energy exported to the grid, kWh (SunSpec 201 `TotWhExp`).
    pub exported_kwh: Option<f64>,
}

/// What the twins say of the fleet at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetView {
    /// Every battery with a twin.
    pub batteries: Vec<BatteryView>,
    /// Every site meter with a twin.
    pub meters: Vec<MeterView>,
}

/// Import and export prices over a horizon, €/kWh per interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prices {
    /// Import price per interval, €/kWh.
    pub import_eur_per_kwh: Vec<f64>,
    /// Export price per interval, €/kWh.
    pub export_eur_per_kwh: Vec<f64>,
}

/// The prices the plans are made on: a tariff, or a market's published day-ahead prices.
pub trait PriceFeed: Send + Sync + std::fmt::Debug {
    /// Prices of `steps` intervals of `step` from `start`; `None` when they are not known.
    fn horizon(&self, start: DateTime<Utc>, step: TimeDelta, steps: usize) -> Option<Prices>;
}

/// A flat tariff: the same import and export price at every interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatTariff {
    /// Import price, €/kWh.
    pub import_eur_per_kwh: f64,
    /// Export price, €/kWh.
    pub export_eur_per_kwh: f64,
}

impl PriceFeed for FlatTariff {
    fn horizon(&self, _start: DateTime<Utc>, _step: TimeDelta, steps: usize) -> Option<Prices> {
        Some(Prices {
            import_eur_per_kwh: vec![self.import_eur_per_kwh; steps],
            export_eur_per_kwh: vec![self.export_eur_per_kwh; steps],
        })
    }
}

/// A site's future net load (load − PV, without batteries) known in advance: only for
/// reference runs ("perfect foresight"), never in a deployment.
pub trait NetLoadOracle: Send + Sync + std::fmt::Debug {
    /// `steps` interval averages of `site`'s net load from `start`, kW.
    fn net_load(
        &self,
        site: &NodePath,
        start: DateTime<Utc>,
        step: TimeDelta,
        steps: usize,
    ) -> Option<Vec<f64>>;
}

/// A setpoint the dispatcher wants sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetpointCommand {
    /// The battery.
    pub asset: AssetPath,
    /// Power, within the battery's ratings (`> 0` discharges).
    pub power: Kilowatts,
    /// When the device reverts to its default on its own.
    pub valid_until: DateTime<Utc>,
    /// The import its site should not exceed while it is in force (the gateway's site guard
    /// holds it with extra discharge); `None`: no guard.
    pub site_cap: Option<Kilowatts>,
}
