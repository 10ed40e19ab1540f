//! Setpoints: power commands for one asset with a limited validity.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{AssetPath, BatterySpec, DomainError, Kilowatts};

/// An identifier that ties a setpoint to its acknowledgement (and a plan to its setpoints):
/// 1 to 128 printable ASCII characters without whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct CorrelationId(String);

impl Serialize for CorrelationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl CorrelationId {
    /// Checked constructor.
    pub fn new(id: impl Into<String>) -> Result<Self, DomainError> {
        let id = id.into();
        let reason = if id.is_empty() {
            Some("must not be empty")
        } else if id.len() > 128 {
            Some("must be at most 128 characters")
        } else if !id.bytes().all(|b| b.is_ascii_graphic()) {
            Some("may only contain printable ASCII without whitespace")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(DomainError::InvalidText {
                what: "correlation id",
                value: id,
                reason,
            }),
            None => Ok(Self(id)),
        }
    }

    /// The id text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CorrelationId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        Self::new(value)
    }
}

impl From<CorrelationId> for String {
    fn from(value: CorrelationId) -> String {
        value.0
    }
}

/// A power command for one asset, valid in `[issued_at, valid_until)`.
///
/// After `valid_until` the device must fall back to its default: the gateway writes the remaining
/// validity as the SunSpec 704 revert timeout (`WSetRvrtTms`), so the device itself reverts even
/// if the control plane and the gateway are gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSetpoint")]
pub struct Setpoint {
    asset: AssetPath,
    #[serde(rename = "power_kw")]
    power: Kilowatts,
    issued_at: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    correlation_id: CorrelationId,
    plan_id: Option<CorrelationId>,
}

#[derive(Deserialize)]
struct RawSetpoint {
    asset: AssetPath,
    power_kw: Kilowatts,
    issued_at: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    correlation_id: CorrelationId,
    #[serde(default)]
    plan_id: Option<CorrelationId>,
}

impl Setpoint {
    /// Checked constructor: `valid_until` must be after `issued_at`.
    pub fn new(
        asset: AssetPath,
        power: Kilowatts,
        issued_at: DateTime<Utc>,
        valid_until: DateTime<Utc>,
        correlation_id: CorrelationId,
        plan_id: Option<CorrelationId>,
    ) -> Result<Self, DomainError> {
        if valid_until <= issued_at {
            return Err(DomainError::EmptyInterval {
                start: issued_at.to_rfc3339(),
                end: valid_until.to_rfc3339(),
            });
        }
        Ok(Self {
            asset,
            power,
            issued_at,
            valid_until,
            correlation_id,
            plan_id,
        })
    }

    /// Target asset.
    #[must_use]
    pub fn asset(&self) -> &AssetPath {
        &self.asset
    }

    /// Requested battery power, `> 0` discharging.
    #[must_use]
    pub fn power(&self) -> Kilowatts {
        self.power
    }

    /// When the command was issued.
    #[must_use]
    pub fn issued_at(&self) -> DateTime<Utc> {
        self.issued_at
    }

    /// First instant at which the command no longer applies.
    #[must_use]
    pub fn valid_until(&self) -> DateTime<Utc> {
        self.valid_until
    }

    /// Ties the command to its acknowledgement.
    #[must_use]
    pub fn correlation_id(&self) -> &CorrelationId {
        &self.correlation_id
    }

    /// The plan this command implements, if any.
    #[must_use]
    pub fn plan_id(&self) -> Option<&CorrelationId> {
        self.plan_id.as_ref()
    }

    /// Validity left at `now` (zero once expired).
    #[must_use]
    pub fn remaining(&self, now: DateTime<Utc>) -> TimeDelta {
        (self.valid_until - now).max(TimeDelta::zero())
    }

    /// Whether the command has expired at `now`.
    #[must_use]
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.valid_until
    }

    /// This command with its power clamped to the battery's ratings, and whether it changed.
    #[must_use]
    pub fn clamped_to(&self, spec: &BatterySpec) -> (Self, bool) {
        let power = spec.clamp_power(self.power);
        let changed = power != self.power;
        (
            Self {
                power,
                ..self.clone()
            },
            changed,
        )
    }
}

impl TryFrom<RawSetpoint> for Setpoint {
    type Error = DomainError;
    fn try_from(r: RawSetpoint) -> Result<Self, DomainError> {
        Self::new(
            r.asset,
            r.power_kw,
            r.issued_at,
            r.valid_until,
            r.correlation_id,
            r.plan_id,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BatterySpecParams;
    use chrono::TimeZone;

    fn setpoint(kw: f64) -> Setpoint {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        Setpoint::new(
            "r/s/f/x/b".parse().unwrap(),
            Kilowatts::new(kw).unwrap(),
            t0,
            t0 + TimeDelta::minutes(15),
            CorrelationId::new("c-1").unwrap(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn validity_counts_down_to_zero() {
        let s = setpoint(3.0);
        assert_eq!(s.remaining(s.issued_at()), TimeDelta::minutes(15));
        assert_eq!(
            s.remaining(s.valid_until() + TimeDelta::hours(1)),
            TimeDelta::zero()
        );
        assert!(s.is_expired(s.valid_until()));
        assert!(!s.is_expired(s.issued_at()));
    }

    #[test]
    fn clamping_reports_whether_it_changed_the_power() {
        let spec = BatterySpec::new(BatterySpecParams::home_battery()).unwrap();
        let (c, changed) = setpoint(-8.0).clamped_to(&spec);
        assert!(changed);
        assert_eq!(c.power().get(), -5.0);
        let (c, changed) = setpoint(2.0).clamped_to(&spec);
        assert!(!changed);
        assert_eq!(c.power().get(), 2.0);
    }

    #[test]
    fn bad_setpoints_are_rejected() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        assert!(
            Setpoint::new(
                "r/s/f/x/b".parse().unwrap(),
                Kilowatts::ZERO,
                t0,
                t0,
                CorrelationId::new("c").unwrap(),
                None
            )
            .is_err()
        );
        assert!(CorrelationId::new("has space").is_err());
        assert!(CorrelationId::new("").is_err());
        let json = r#"{"asset":"r/s/f/x/b","power_kw":"NaN","issued_at":"2026-03-01T12:00:00Z","valid_until":"2026-03-01T12:15:00Z","correlation_id":"c"}"#;
        assert!(serde_json::from_str::<Setpoint>(json).is_err());
        let s = setpoint(1.5);
        let back: Setpoint = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
