//! What the control plane knows of its assets, built only from what the bus told it.
//!
//! - [`twin`]: one digital twin per asset: latest measured state, status from thresholds at an
//!   injected "now", capability, identity, desired versus reported configuration.
//! - [`registry`]: the temporal asset registry with as-of queries.
//! - [`aggregate`]: P10/P50/P90 of each hierarchy node's available power and energy, with
//!   coverage and the age of the oldest data; stale assets count less, offline ones not at all.
//! - [`history`]: bounded series with rollups, queried by range and step.
//!
//! Architecture invariant: pure. No async runtime, no IO, no clock reads: "now" is a
//! parameter. Adapters (in `api`) feed it from the bus.

pub mod aggregate;
pub mod history;
pub mod registry;
pub mod twin;
