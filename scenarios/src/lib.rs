//! The simulated world that `vpp run` plays and analysts replay: real load, PV and prices
//! driving the simulated fleet.
//!
//! - [`embedded`]: the default world: a real home's year of load and PV and a real week of
//!   day-ahead prices (`scenarios/data/`), each simulated site a block of homes.
//!
//! Architecture invariant: the control plane never reads this crate. It sees the world only
//! through the simulated site meters on the bus and through the
//! [`vpp_dispatch::ports::PriceFeed`] that the composition root hands it (a tidy test checks
//! that `vpp-fleet` and `vpp-dispatch` have no path here). Pure: no tokio, no sockets, no
//! clock reads, no file reads (the data is embedded; a driver task in `api` plays it).

pub mod embedded;
