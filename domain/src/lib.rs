//! Pure domain types of vpp.
//!
//! This crate owns the vocabulary every other crate speaks: physical units as checked newtypes
//! ([`Kilowatts`], [`KilowattHours`], [`EurPerMwh`], [`Soc`], [`Efficiency`]), the asset hierarchy
//! ([`AssetPath`], [`NodePath`]), half-open time [`Interval`]s, [`TelemetrySample`]s, [`Setpoint`]s
//! and [`BatterySpec`]s.
//!
//! Architecture invariant: no IO, no async runtime, no clock reads, no environment, no files.
//! "Now" is always a parameter. Every constructor validates its input and returns a
//! [`DomainError`] that names what was wrong; a value of a type from this crate is always valid.

mod battery;
mod clock;
mod error;
mod path;
mod setpoint;
mod telemetry;
mod time;
mod units;

pub use battery::{BatterySpec, BatterySpecParams, soc_floor};
pub use clock::Clock;
pub use error::DomainError;
pub use path::{AssetPath, Level, NodePath, Token};
pub use setpoint::{CorrelationId, Setpoint};
pub use telemetry::{Readings, TelemetrySample};
pub use time::Interval;
pub use units::{Efficiency, EurPerMwh, KilowattHours, Kilowatts, Soc};
