//! Digital twin of one asset.
//!
//! A twin keeps the newest valid measurement of its asset, ordered by `measured_at` (then by
//! measurement id): an older, duplicate or implausible sample is rejected with a reason and
//! never stored, so a replayed journal, a retried publish or a glitching device cannot move
//! the twin backwards. Status (online / stale / offline) is computed from the age of the
//! newest measurement at a "now" the caller passes in.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use vpp_domain::{AssetPath, KilowattHours, Kilowatts, Readings, Soc, TelemetrySample};

/// Identity and firmware (SunSpec model 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `Mn`.
    pub manufacturer: Option<String>,
    /// `Md`.
    pub model: Option<String>,
    /// `Vr`: firmware version.
    pub firmware: Option<String>,
    /// `SN`.
    pub serial: Option<String>,
}

/// What the asset can do (SunSpec 702 and 802). Missing values are unknown, never guessed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Capability {
    /// Rated energy.
    pub capacity: Option<KilowattHours>,
    /// Charge rating (a positive number).
    pub max_charge: Option<Kilowatts>,
    /// Discharge rating (a positive number).
    pub max_discharge: Option<Kilowatts>,
    /// Lowest allowed state of charge.
    pub soc_min: Option<Soc>,
    /// Highest allowed state of charge.
    pub soc_max: Option<Soc>,
}

/// Configuration the control plane wants (desired) or the device says it has (reported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AssetConfig {
    /// Reserve state of charge (SunSpec 802 `SoCRsvMin`).
    pub reserve: Option<Soc>,
    /// Export limit at the device.
    pub export_limit: Option<Kilowatts>,
}

/// One setting where desired and reported configuration differ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConfigDifference {
    /// Which setting.
    pub setting: &'static str,
    /// What the control plane wants.
    pub desired: Option<f64>,
    /// What the device reports.
    pub reported: Option<f64>,
}

/// Thresholds of the status and of plausibility.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Older than this, the data is stale.
    pub stale_after: TimeDelta,
    /// Older than this, the asset is offline.
    pub offline_after: TimeDelta,
    /// A measurement more than this far in the future of "now" is rejected.
    pub max_clock_skew: TimeDelta,
    /// A power beyond this multiple of the rating is implausible (meter glitch, bad scale
    /// factor) and rejected.
    pub max_power_overshoot: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            stale_after: TimeDelta::seconds(10),
            offline_after: TimeDelta::seconds(60),
            max_clock_skew: TimeDelta::seconds(5),
            max_power_overshoot: 1.5,
        }
    }
}

/// Status of an asset at some "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Fresh data.
    Online,
    /// Data older than `stale_after`, or flagged stale by the gateway (frozen values).
    Stale,
    /// No data, or older than `offline_after`.
    Offline,
}

/// Why a sample was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// For another asset.
    #[error("sample is for another asset")]
    WrongAsset,
    /// Measured before the newest stored sample.
    #[error("sample measured before the newest one held")]
    OutOfOrder,
    /// Same measurement time and id as the newest stored sample.
    #[error("sample already held")]
    Duplicate,
    /// Measured in the future of "now" by more than the allowed clock skew.
    #[error("sample measured in the future")]
    FromTheFuture,
    /// Power beyond what the asset can do.
    #[error("power beyond the asset's rating")]
    ImplausiblePower,
    /// A lifetime energy counter went backwards.
    #[error("lifetime energy counter went backwards")]
    CounterWentBack,
}

impl Rejection {
    /// Every reason, for counters.
    pub const ALL: [Self; 6] = [
        Self::WrongAsset,
        Self::OutOfOrder,
        Self::Duplicate,
        Self::FromTheFuture,
        Self::ImplausiblePower,
        Self::CounterWentBack,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Counts of accepted and rejected samples, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestCounts {
    /// Stored.
    pub accepted: u64,
    /// Rejected, indexed like [`Rejection::ALL`].
    pub rejected: [u64; 6],
}

impl IngestCounts {
    /// Rejections for `reason`.
    #[must_use]
    pub fn rejected_for(&self, reason: Rejection) -> u64 {
        self.rejected[reason.index()]
    }
}

/// The newest stored measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observation {
    /// Measurement id.
    pub seq: u64,
    /// When it was measured.
    pub measured_at: DateTime<Utc>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// The values.
    pub readings: Readings,
    /// Flagged stale by the gateway (frozen values).
    pub flagged_stale: bool,
}

/// The digital twin of one asset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Twin {
    asset: AssetPath,
    latest: Option<Observation>,
    identity: Identity,
    capability: Capability,
    desired: AssetConfig,
    reported: AssetConfig,
    counts: IngestCounts,
}

impl Twin {
    /// A twin that knows nothing yet.
    #[must_use]
    pub fn new(asset: AssetPath) -> Self {
        Self {
            asset,
            latest: None,
            identity: Identity::default(),
            capability: Capability::default(),
            desired: AssetConfig::default(),
            reported: AssetConfig::default(),
            counts: IngestCounts::default(),
        }
    }

    /// The asset.
    #[must_use]
    pub fn asset(&self) -> &AssetPath {
        &self.asset
    }

    /// The newest stored measurement.
    #[must_use]
    pub fn latest(&self) -> Option<&Observation> {
        self.latest.as_ref()
    }

    /// Identity and firmware.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Capability.
    #[must_use]
    pub fn capability(&self) -> &Capability {
        &self.capability
    }

    /// Sample counters.
    #[must_use]
    pub fn counts(&self) -> &IngestCounts {
        &self.counts
    }

    /// Records what the device says it is (a registration).
    pub fn describe(&mut self, identity: Identity, capability: Capability, reported: AssetConfig) {
        self.identity = identity;
        self.capability = capability;
        self.reported = reported;
    }

    /// The asset moved in the hierarchy: same asset, same history, new path.
    pub fn relocate(&mut self, asset: AssetPath) {
        self.asset = asset;
    }

    /// Sets the configuration the control plane wants.
    pub fn set_desired(&mut self, desired: AssetConfig) {
        self.desired = desired;
    }

    /// The settings where desired and reported configuration differ (a desired value of
    /// `None` means "no wish" and never differs).
    #[must_use]
    pub fn config_differences(&self) -> Vec<ConfigDifference> {
        let mut out = Vec::new();
        let mut check = |setting, desired: Option<f64>, reported: Option<f64>| {
            if desired.is_some() && desired != reported {
                out.push(ConfigDifference {
                    setting,
                    desired,
                    reported,
                });
            }
        };
        check(
            "reserve",
            self.desired.reserve.map(Soc::get),
            self.reported.reserve.map(Soc::get),
        );
        check(
            "export_limit_kw",
            self.desired.export_limit.map(Kilowatts::get),
            self.reported.export_limit.map(Kilowatts::get),
        );
        out
    }

    /// Stores `sample` if it is newer than what the twin holds and plausible; otherwise says
    /// why not. Either way it is counted.
    pub fn ingest(
        &mut self,
        sample: &TelemetrySample,
        flagged_stale: bool,
        now: DateTime<Utc>,
        th: &Thresholds,
    ) -> Result<(), Rejection> {
        let r = self.check(sample, now, th);
        match r {
            Ok(()) => {
                self.counts.accepted += 1;
                self.latest = Some(Observation {
                    seq: sample.seq(),
                    measured_at: sample.measured_at(),
                    received_at: sample.received_at(),
                    readings: *sample.readings(),
                    flagged_stale,
                });
            }
            Err(reason) => self.counts.rejected[reason.index()] += 1,
        }
        r
    }

    fn check(
        &self,
        s: &TelemetrySample,
        now: DateTime<Utc>,
        th: &Thresholds,
    ) -> Result<(), Rejection> {
        if s.asset() != &self.asset {
            return Err(Rejection::WrongAsset);
        }
        if s.measured_at() > now + th.max_clock_skew {
            return Err(Rejection::FromTheFuture);
        }
        if let Some(last) = &self.latest {
            match s.measured_at().cmp(&last.measured_at) {
                std::cmp::Ordering::Less => return Err(Rejection::OutOfOrder),
                std::cmp::Ordering::Equal if s.seq() <= last.seq => {
                    return Err(Rejection::Duplicate);
                }
                _ => {}
            }
            let back = |new: Option<KilowattHours>, old: Option<KilowattHours>| matches!((new, old), (Some(n), Some(o)) if n < o);
            let r = s.readings();
            if back(r.energy_injected, last.readings.energy_injected)
                || back(r.energy_absorbed, last.readings.energy_absorbed)
            {
                return Err(Rejection::CounterWentBack);
            }
        }
        if let Some(p) = s.readings().power {
            let limit = if p.get() >= 0.0 {
                self.capability.max_discharge
            } else {
                self.capability.max_charge
            };
            if limit.is_some_and(|l| p.get().abs() > l.get() * th.max_power_overshoot) {
                return Err(Rejection::ImplausiblePower);
            }
        }
        Ok(())
    }

    /// Status at `now`.
    #[must_use]
    pub fn status(&self, now: DateTime<Utc>, th: &Thresholds) -> Status {
        let Some(last) = &self.latest else {
            return Status::Offline;
        };
        let age = now - last.measured_at;
        if age > th.offline_after {
            Status::Offline
        } else if age > th.stale_after || last.flagged_stale {
            Status::Stale
        } else {
            Status::Online
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(s)
    }

    fn asset() -> AssetPath {
        "r/s/f/x/b".parse().unwrap()
    }

    fn sample(seq: u64, at: i64, kw: f64, injected: f64) -> TelemetrySample {
        TelemetrySample::new(
            asset(),
            seq,
            t(at),
            t(at),
            Readings {
                power: Some(Kilowatts::new(kw).unwrap()),
                soc: Some(Soc::new(0.5).unwrap()),
                energy_injected: Some(KilowattHours::new(injected).unwrap()),
                energy_absorbed: None,
            },
        )
        .unwrap()
    }

    fn twin() -> Twin {
        let mut tw = Twin::new(asset());
        tw.describe(
            Identity::default(),
            Capability {
                max_charge: Some(Kilowatts::new(5.0).unwrap()),
                max_discharge: Some(Kilowatts::new(5.0).unwrap()),
                ..Capability::default()
            },
            AssetConfig::default(),
        );
        tw
    }

    #[test]
    fn status_follows_the_age_of_the_newest_measurement() {
        let th = Thresholds::default();
        let mut tw = twin();
        assert_eq!(tw.status(t(0), &th), Status::Offline, "no data yet");
        tw.ingest(&sample(1, 0, 1.0, 1.0), false, t(0), &th)
            .unwrap();
        assert_eq!(tw.status(t(5), &th), Status::Online);
        assert_eq!(tw.status(t(11), &th), Status::Stale);
        assert_eq!(tw.status(t(61), &th), Status::Offline);
        tw.ingest(&sample(2, 70, 1.0, 1.0), true, t(70), &th)
            .unwrap();
        assert_eq!(
            tw.status(t(70), &th),
            Status::Stale,
            "flagged by the gateway"
        );
    }

    #[test]
    fn old_duplicate_and_garbage_samples_are_counted_and_never_stored() {
        let th = Thresholds::default();
        let mut tw = twin();
        tw.ingest(&sample(5, 10, 1.0, 2.0), false, t(10), &th)
            .unwrap();
        let held = *tw.latest().unwrap();
        let cases = [
            (sample(4, 9, 2.0, 2.0), Rejection::OutOfOrder),
            (sample(5, 10, 2.0, 2.0), Rejection::Duplicate),
            (sample(6, 100, 2.0, 2.0), Rejection::FromTheFuture),
            (sample(7, 11, 40.0, 2.0), Rejection::ImplausiblePower),
            (sample(8, 12, 1.0, 1.0), Rejection::CounterWentBack),
        ];
        for (s, why) in cases {
            assert_eq!(tw.ingest(&s, false, t(13), &th), Err(why));
            assert_eq!(*tw.latest().unwrap(), held, "{why:?} must not be stored");
            assert_eq!(tw.counts().rejected_for(why), 1);
        }
        let other = TelemetrySample::new(
            "r/s/f/x/z".parse().unwrap(),
            9,
            t(12),
            t(12),
            Readings::default(),
        )
        .unwrap();
        assert_eq!(
            tw.ingest(&other, false, t(13), &th),
            Err(Rejection::WrongAsset)
        );
        assert_eq!(tw.counts().accepted, 1);
        // A later measurement with a lower id (a gateway restart) is still newer.
        tw.ingest(&sample(1, 20, 1.0, 2.5), false, t(20), &th)
            .unwrap();
        assert_eq!(tw.latest().unwrap().seq, 1);
    }

    #[test]
    fn desired_and_reported_configuration_differences_are_visible() {
        let mut tw = twin();
        tw.set_desired(AssetConfig {
            reserve: Some(Soc::new(0.3).unwrap()),
            export_limit: None,
        });
        tw.describe(
            Identity::default(),
            *tw.capability(),
            AssetConfig {
                reserve: Some(Soc::new(0.1).unwrap()),
                export_limit: Some(Kilowatts::new(4.0).unwrap()),
            },
        );
        let d = tw.config_differences();
        assert_eq!(d.len(), 1, "no wish for the export limit: no difference");
        assert_eq!(d[0].setting, "reserve");
        assert_eq!((d[0].desired, d[0].reported), (Some(0.3), Some(0.1)));
    }

    proptest! {
        #[test]
        fn any_arrival_order_ends_with_the_newest_sample(
            order in Just((0u64..50).collect::<Vec<_>>()).prop_shuffle(),
            dups in proptest::collection::vec(0u64..50, 0..20),
        ) {
            let th = Thresholds { max_clock_skew: TimeDelta::days(1), ..Thresholds::default() };
            let mut tw = twin();
            let mut arrivals = order.clone();
            arrivals.extend(dups);
            for seq in &arrivals {
                let _ = tw.ingest(&sample(*seq, i64::try_from(*seq).unwrap(), 1.0, *seq as f64), false, t(0), &th);
            }
            prop_assert_eq!(tw.latest().unwrap().seq, 49);
            let c = tw.counts();
            prop_assert_eq!(c.accepted + c.rejected.iter().sum::<u64>(), arrivals.len() as u64);
            // The stored samples grow strictly: accepted at most once per distinct sample.
            prop_assert!(c.accepted <= 50);
        }
    }
}
