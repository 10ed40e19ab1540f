//! Bus subjects, v1 (design.md §5). Path tokens are NATS-token-safe by construction.

use vpp_domain::AssetPath;

/// Prefix of every subject.
pub const PREFIX: &str = "vpp.v1";
/// Token used where an event has no asset.
pub const NO_TOKEN: &str = "_";

/// `vpp.v1.telemetry.<region>.<site>.<asset>`.
#[must_use]
pub fn telemetry(a: &AssetPath) -> String {
    format!(
        "{PREFIX}.telemetry.{}.{}.{}",
        a.region(),
        a.site(),
        a.asset()
    )
}

/// `vpp.v1.setpoint.<site>.<asset>`.
#[must_use]
pub fn setpoint(a: &AssetPath) -> String {
    format!("{PREFIX}.setpoint.{}.{}", a.site(), a.asset())
}

/// Every setpoint of one site: `vpp.v1.setpoint.<site>.*`.
#[must_use]
pub fn setpoints_of_site(site: &str) -> String {
    format!("{PREFIX}.setpoint.{site}.*")
}

/// `vpp.v1.setpoint_ack.<site>.<asset>`.
#[must_use]
pub fn setpoint_ack(a: &AssetPath) -> String {
    format!("{PREFIX}.setpoint_ack.{}.{}", a.site(), a.asset())
}

/// `vpp.v1.event.<kind>.<site>.<asset>` (`_` tokens when there is no asset).
#[must_use]
pub fn event(kind: &str, a: Option<&AssetPath>) -> String {
    match a {
        Some(a) => format!("{PREFIX}.event.{kind}.{}.{}", a.site(), a.asset()),
        None => format!("{PREFIX}.event.{kind}.{NO_TOKEN}.{NO_TOKEN}"),
    }
}

/// All telemetry: `vpp.v1.telemetry.>`.
pub const ALL_TELEMETRY: &str = "vpp.v1.telemetry.>";
/// All setpoints: `vpp.v1.setpoint.>`.
pub const ALL_SETPOINTS: &str = "vpp.v1.setpoint.>";
/// All acks: `vpp.v1.setpoint_ack.>`.
pub const ALL_ACKS: &str = "vpp.v1.setpoint_ack.>";
/// All events: `vpp.v1.event.>`.
pub const ALL_EVENTS: &str = "vpp.v1.event.>";
