//! Telemetry: one measured state of one asset.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{AssetPath, DomainError, KilowattHours, Kilowatts, Soc};

/// What a device reported. `None` means the device did not report the value (for SunSpec: the
/// register held the "not implemented" sentinel); a missing value is never a number.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Readings {
    /// AC power at the inverter, `> 0` discharging.
    pub power: Option<Kilowatts>,
    /// State of charge.
    pub soc: Option<Soc>,
    /// Lifetime AC energy delivered (discharged) by the device.
    pub energy_injected: Option<KilowattHours>,
    /// Lifetime AC energy absorbed (charged) by the device.
    pub energy_absorbed: Option<KilowattHours>,
}

/// One measured state of one asset.
///
/// `measured_at` is when the device state was read; `received_at` is when the sample reached
/// the component that stamped it. Ordering and de-duplication use `measured_at` and `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSample")]
pub struct TelemetrySample {
    asset: AssetPath,
    seq: u64,
    measured_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    readings: Readings,
}

#[derive(Deserialize)]
struct RawSample {
    asset: AssetPath,
    seq: u64,
    measured_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    readings: Readings,
}

impl TelemetrySample {
    /// Checked constructor: a sample cannot be received before it was measured.
    pub fn new(
        asset: AssetPath,
        seq: u64,
        measured_at: DateTime<Utc>,
        received_at: DateTime<Utc>,
        readings: Readings,
    ) -> Result<Self, DomainError> {
        if received_at < measured_at {
            return Err(DomainError::Inconsistent {
                what: "telemetry sample",
                detail: format!(
                    "received_at {} is before measured_at {}",
                    received_at.to_rfc3339(),
                    measured_at.to_rfc3339()
                ),
            });
        }
        Ok(Self {
            asset,
            seq,
            measured_at,
            received_at,
            readings,
        })
    }

    /// The asset this sample describes.
    #[must_use]
    pub fn asset(&self) -> &AssetPath {
        &self.asset
    }

    /// Per-asset sequence number assigned by the gateway (the measurement id).
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When the device state was read.
    #[must_use]
    pub fn measured_at(&self) -> DateTime<Utc> {
        self.measured_at
    }

    /// When the sample was received.
    #[must_use]
    pub fn received_at(&self) -> DateTime<Utc> {
        self.received_at
    }

    /// The measured values.
    #[must_use]
    pub fn readings(&self) -> &Readings {
        &self.readings
    }

    /// Age of the measurement at `now` (zero if `now` is before `measured_at`).
    #[must_use]
    pub fn age(&self, now: DateTime<Utc>) -> TimeDelta {
        (now - self.measured_at).max(TimeDelta::zero())
    }
}

impl TryFrom<RawSample> for TelemetrySample {
    type Error = DomainError;
    fn try_from(r: RawSample) -> Result<Self, DomainError> {
        Self::new(r.asset, r.seq, r.measured_at, r.received_at, r.readings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn samples_keep_both_timestamps_and_reject_time_travel() {
        let asset: AssetPath = "r/s/f/x/b".parse().unwrap();
        let m = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let readings = Readings {
            power: Some(Kilowatts::new(2.0).unwrap()),
            ..Readings::default()
        };
        let s = TelemetrySample::new(
            asset.clone(),
            7,
            m,
            m + TimeDelta::milliseconds(40),
            readings,
        )
        .unwrap();
        assert_eq!(s.age(m + TimeDelta::seconds(3)), TimeDelta::seconds(3));
        assert_eq!(s.readings().soc, None);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<TelemetrySample>(&json).unwrap(), s);

        let err = TelemetrySample::new(asset, 8, m, m - TimeDelta::seconds(1), readings);
        assert!(err.is_err());
    }
}
