//! vpp's end-to-end tests: one test binary, one module per area.

// Test helpers outside `#[test]` functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod cli;
mod gateway_inproc;
mod modbus_tcp;
mod nats;
mod rig;
mod sunspec_conformance;
mod tidy;
