//! The telemetry pipeline: the bus port with its adapters, the wire format, and the SunSpec
//! gateway that polls devices over Modbus TCP and writes setpoints back.
//!
//! - [`wire`], [`subjects`]: versioned JSON messages and their NATS subjects (pure).
//! - [`bus`]: the [`bus::Bus`] port; [`inproc`]: the in-process adapter.
//! - [`sunspec_client`]: SunSpec discovery and decoding over a Modbus client.
//!
//! Architecture invariant: `wire` and `subjects` are pure; adapters translate and delegate.

pub mod bus;
pub mod fallback;
pub mod gateway;
pub mod inproc;
pub mod nats;
pub mod subjects;
pub mod sunspec_client;
pub mod wire;
