//! The clock port: "now" comes from outside the pure core.

use chrono::{DateTime, Utc};

/// A source of the current time. Adapters implement it with the wall clock or a simulated
/// clock; pure code never reads the time itself, it is handed a `Clock` or a timestamp.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}
