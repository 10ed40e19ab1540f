//! Simulated SunSpec batteries.
//!
//! - [`physics`]: pure battery physics, one `step(dt, request)` at a time.
//! - [`device`]: one battery with SunSpec 704 controls, the revert timer and faults.
//! - [`sunspec`]: the SunSpec register map (models 1, 701, 702, 704, 802), pure encode/write.
//! - [`server`]: the Modbus TCP adapter (tokio-modbus), one listener per site.
//! - [`fleet`]: many batteries grouped in sites, stepped in simulated time.
//!
//! Architecture invariant: `physics`, `device` and `sunspec` do no IO and read no clock; only
//! `server` and `fleet` touch sockets and timers.

pub mod device;
pub mod fleet;
pub mod physics;
pub mod rng;
pub mod server;
pub mod sunspec;

pub use device::{Controls, Fault, FaultKind, Identity, SimBattery, StepPower, WSetMode};
pub use physics::{BatteryState, Limit, PhysicsParams};
pub use sunspec::BaseAddress;
