//! The dispatcher: when to plan, what to plan with and which setpoints to send.
//!
//! - [`dispatch_loop`]: the dispatcher as a state machine: ticks and events in, setpoint
//!   commands out, "now" passed in (a fake clock steps it in tests, a virtual one in replays).
//! - [`ports`]: what it is told: the fleet as the twins and site meters see it, prices, and
//!   (for reference runs only) a net-load oracle; the commands it gives.
//! - [`metering`]: interval averages from meter readings (counters or power samples).
//! - [`dispatcher`]: one receding-horizon step: from the batteries that respond, the others'
//!   measured power, site net-load forecasts, prices and the operators' peak targets to a
//!   dispatch problem, a plan (`vpp-optimiser`) and the first interval's setpoints.
//!
//! Architecture invariant: pure. No async runtime, no IO, no clock reads: "now" is a
//! parameter. It knows the fleet only through what the bus told the twins: it has no path to
//! the simulator or the scenarios (a tidy test checks the crate graph).

pub mod dispatch_loop;
pub mod dispatcher;
pub mod metering;
pub mod ports;
