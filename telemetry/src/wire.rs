//! The wire format of the bus: versioned JSON messages (documented in `docs/wire.md`).
//!
//! Every message carries `"v": 1`. Decoding checks the version and validates every field
//! through the domain constructors, so a message that decodes is a valid message; anything else
//! is a [`WireError`] that names what was wrong.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vpp_domain::{
    AssetPath, CorrelationId, DomainError, Kilowatts, Level, NodePath, Setpoint, TelemetrySample,
};

use crate::subjects;

/// The wire version these types speak.
pub const WIRE_VERSION: u16 = 1;

/// Why bytes from the bus could not be turned into a message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    /// Not JSON, or JSON of the wrong shape or with invalid values.
    #[error("malformed {what} message: {detail}")]
    Malformed {
        /// Which message type was expected.
        what: &'static str,
        /// What serde or a domain constructor said.
        detail: String,
    },
    /// A version this build does not speak.
    #[error("unsupported {what} message version {found} (this build speaks {WIRE_VERSION})")]
    Version {
        /// Which message type was expected.
        what: &'static str,
        /// The version found.
        found: u16,
    },
}

/// What a telemetry message measures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    /// A battery (SunSpec 701/802): `power > 0` discharges, `energy_injected` and
    /// `energy_absorbed` are its lifetime AC discharge and charge, `soc` its state of charge.
    #[default]
    Battery,
    /// A site meter at the grid connection point (SunSpec 201): `power` is the site's import
    /// (`> 0` imports), `energy_absorbed` the lifetime energy imported from the grid
    /// (`TotWhImp`), `energy_injected` the lifetime energy exported (`TotWhExp`), `soc` null.
    SiteMeter,
}

impl AssetKind {
    fn is_battery(&self) -> bool {
        *self == Self::Battery
    }
}

/// The asset path of `site`'s meter: the site's path and the leaf `<site token>-meter` (e.g.
/// `r01/sub001/f0001/site00001/site00001-meter`). An error when `site` is not a site path or
/// the leaf would not be a valid token (a site token over 58 characters).
pub fn site_meter_asset(site: &NodePath) -> Result<AssetPath, DomainError> {
    if site.level() != Level::Site {
        return Err(DomainError::PathDepth {
            path: site.to_string(),
            found: site.tokens().len(),
            expected: "4",
        });
    }
    let token = site.tokens().last().map_or("", |t| t.as_str());
    format!("{site}/{token}-meter").parse()
}

/// A measured state, as the gateway publishes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TelemetryMsg {
    /// Wire version.
    pub v: u16,
    /// The sample (asset, measurement id `seq`, timestamps, readings).
    #[serde(flatten)]
    pub sample: TelemetrySample,
    /// The device served the same values, heartbeat included, for several polls in a row.
    #[serde(default)]
    pub stale: bool,
    /// What it measures (absent: a battery, as before site meters were published).
    #[serde(default)]
    pub kind: AssetKind,
}

impl TelemetryMsg {
    /// A battery's telemetry.
    #[must_use]
    pub fn battery(sample: TelemetrySample, stale: bool) -> Self {
        Self {
            v: WIRE_VERSION,
            sample,
            stale,
            kind: AssetKind::Battery,
        }
    }
}

// Written by hand rather than derived with `flatten`: this runs once per sample, and a flattened
// struct serializes through a map, about a third slower. Field for field the same JSON.
impl Serialize for TelemetryMsg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let t = &self.sample;
        let fields = if self.kind.is_battery() { 7 } else { 8 };
        let mut st = s.serialize_struct("TelemetryMsg", fields)?;
        st.serialize_field("v", &self.v)?;
        st.serialize_field("asset", t.asset())?;
        st.serialize_field("seq", &t.seq())?;
        st.serialize_field("measured_at", &Rfc3339(t.measured_at()))?;
        st.serialize_field("received_at", &Rfc3339(t.received_at()))?;
        st.serialize_field("readings", t.readings())?;
        st.serialize_field("stale", &self.stale)?;
        if !self.kind.is_battery() {
            st.serialize_field("kind", &self.kind)?;
        }
        st.end()
    }
}

/// A UTC time written as RFC 3339 with microseconds (`2026-11-25T12:00:00.123456Z`), by hand:
/// chrono's general formatter costs a third of a telemetry message's encoding. Parses back with
/// chrono like any RFC 3339 time.
struct Rfc3339(DateTime<Utc>);

impl Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use chrono::{Datelike, Timelike};
        let t = self.0;
        let year = t.year();
        if !(0..=9999).contains(&year) {
            return t.serialize(s);
        }
        let mut buf = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        // A leap second shows as nanosecond >= 1e9; keep it within the six digits.
        put(20, 6, (t.nanosecond() / 1000).min(999_999));
        s.serialize_str(std::str::from_utf8(&buf).unwrap_or_default())
    }
}

/// A setpoint command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetpointMsg {
    /// Wire version.
    pub v: u16,
    /// The command.
    #[serde(flatten)]
    pub setpoint: Setpoint,
    /// While the setpoint is in force, the site import (kW) the gateway holds with extra
    /// discharge where the site has a meter: the plan's peak, guarded against load its
    /// forecast missed. Absent: no guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_import_cap_kw: Option<f64>,
}

/// What a gateway did with a setpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AckOutcome {
    /// Written to the device's SunSpec 704 registers.
    Written {
        /// The power written, kW (`> 0` discharging); differs from the request when clamped.
        power_kw: Kilowatts,
        /// The revert timeout written (`WSetRvrtTms`), seconds.
        revert_after_s: u32,
        /// Whether the request was outside the device's limits and clamped.
        clamped: bool,
    },
    /// Not written.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// A gateway's acknowledgement of a setpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckMsg {
    /// Wire version.
    pub v: u16,
    /// The asset.
    pub asset: AssetPath,
    /// The setpoint's correlation id.
    pub correlation_id: CorrelationId,
    /// When the gateway finished with it.
    pub at: DateTime<Utc>,
    /// What it did.
    #[serde(flatten)]
    pub outcome: AckOutcome,
}

/// Identity and capability of a device, read from SunSpec models 1, 702 and 802.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceDescription {
    /// Modbus TCP endpoint, `host:port`.
    pub endpoint: String,
    /// Modbus unit id.
    pub unit_id: u8,
    /// SunSpec base register found by discovery.
    pub base_address: u16,
    /// Model 1 `Mn`.
    pub manufacturer: Option<String>,
    /// Model 1 `Md`.
    pub model: Option<String>,
    /// Model 1 `Vr` (firmware version).
    pub version: Option<String>,
    /// Model 1 `SN`.
    pub serial: Option<String>,
    /// 802 `WHRtg`, kWh.
    pub capacity_kwh: Option<f64>,
    /// 702 `WChaRteMaxRtg` (else 802 `WChaRteMax`), kW.
    pub max_charge_kw: Option<f64>,
    /// 702 `WDisChaRteMaxRtg` (else 802 `WDisChaRteMax`), kW.
    pub max_discharge_kw: Option<f64>,
    /// 802 `SoCMin`, 0..=1.
    pub soc_min: Option<f64>,
    /// 802 `SoCMax`, 0..=1.
    pub soc_max: Option<f64>,
    /// 802 `SoCRsvMin`, 0..=1.
    pub soc_reserve: Option<f64>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A device was discovered and described.
    Registration {
        /// What it is.
        device: DeviceDescription,
    },
    /// The gateway reached the device.
    Connect,
    /// The gateway lost the device.
    Disconnect {
        /// Why.
        reason: String,
    },
    /// A setpoint outside the device's limits was clamped before writing.
    SetpointClamped {
        /// The setpoint.
        correlation_id: CorrelationId,
        /// Requested power, kW.
        requested_kw: Kilowatts,
        /// Power written, kW.
        applied_kw: Kilowatts,
    },
    /// A setpoint could not be handled (malformed, unknown asset, expired, device error).
    SetpointRejected {
        /// The subject it came on.
        subject: String,
        /// The setpoint's correlation id, when it could be read.
        correlation_id: Option<CorrelationId>,
        /// Why.
        reason: String,
    },
    /// The device answered with a Modbus exception or garbage.
    Fault {
        /// What went wrong.
        reason: String,
    },
    /// The bus is unreachable and the site's import exceeded its limit: the gateway's local
    /// fallback took over the site's batteries (`asset` is `null`; see `site`).
    FallbackEngaged {
        /// The site.
        site: String,
        /// Measured import, kW.
        import_kw: f64,
        /// The limit held, kW.
        limit_kw: f64,
    },
    /// The bus is back: the local fallback let go of the site (its last setpoints expire by
    /// their revert timers).
    FallbackReleased {
        /// The site.
        site: String,
    },
    /// The site's import went over the cap its setpoints carry: the gateway's site guard
    /// raised its batteries' discharge above their setpoints (`asset` is `null`).
    GuardEngaged {
        /// The site.
        site: String,
        /// Measured import, kW.
        import_kw: f64,
        /// The cap held, kW.
        cap_kw: f64,
    },
    /// The site's import is back under its cap: its batteries are back on their setpoints.
    GuardReleased {
        /// The site.
        site: String,
    },
    /// A site meter's interval data from before the control plane watched it, as a meter data
    /// service delivers it (`asset` is `null`): the average import of each interval. Before a
    /// VPP dispatched the site's batteries, this is the site's net load.
    MeterHistory {
        /// The site.
        site: String,
        /// Start of the first interval.
        start: DateTime<Utc>,
        /// Interval length, seconds.
        step_s: i64,
        /// Average import per interval, kW (`> 0` imports); `null` where missing.
        import_kw: Vec<Option<f64>>,
    },
}

impl EventKind {
    /// The `<kind>` token of the event subject.
    #[must_use]
    pub fn token(&self) -> &'static str {
        match self {
            Self::Registration { .. } => "registration",
            Self::Connect => "connect",
            Self::Disconnect { .. } => "disconnect",
            Self::SetpointClamped { .. } => "setpoint_clamped",
            Self::SetpointRejected { .. } => "setpoint_rejected",
            Self::Fault { .. } => "fault",
            Self::FallbackEngaged { .. } => "fallback_engaged",
            Self::FallbackReleased { .. } => "fallback_released",
            Self::GuardEngaged { .. } => "guard_engaged",
            Self::GuardReleased { .. } => "guard_released",
            Self::MeterHistory { .. } => "meter_history",
        }
    }
}

/// An event about an asset (or, for a setpoint that could not be read, about a subject).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMsg {
    /// Wire version.
    pub v: u16,
    /// The asset, when known.
    pub asset: Option<AssetPath>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Any message on the bus.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Measured state.
    Telemetry(TelemetryMsg),
    /// Command.
    Setpoint(SetpointMsg),
    /// Acknowledgement.
    Ack(AckMsg),
    /// Event.
    Event(EventMsg),
}

impl Message {
    /// The subject this message travels on (design.md §5).
    #[must_use]
    pub fn subject(&self) -> String {
        match self {
            Self::Telemetry(t) => subjects::telemetry(t.sample.asset()),
            Self::Setpoint(s) => subjects::setpoint(s.setpoint.asset()),
            Self::Ack(a) => subjects::setpoint_ack(&a.asset),
            Self::Event(e) => subjects::event(e.kind.token(), e.asset.as_ref()),
        }
    }

    /// The JSON encoding.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        let r = match self {
            Self::Telemetry(m) => serde_json::to_writer(&mut out, m),
            Self::Setpoint(m) => serde_json::to_writer(&mut out, m),
            Self::Ack(m) => serde_json::to_writer(&mut out, m),
            Self::Event(m) => serde_json::to_writer(&mut out, m),
        };
        r.map(|()| out).expect(
            "wire types serialize infallibly: no maps with non-string keys, no failing impls",
        )
    }
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u16,
}

/// Decodes a message of type `T`, checking the version first.
pub fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, WireError> {
    let malformed = |e: serde_json::Error| WireError::Malformed {
        what,
        detail: e.to_string(),
    };
    let VersionOnly { v } = serde_json::from_slice(bytes).map_err(malformed)?;
    if v != WIRE_VERSION {
        return Err(WireError::Version { what, found: v });
    }
    serde_json::from_slice(bytes).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vpp_domain::Readings;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn telemetry_round_trips_flat_and_versioned() {
        let sample = TelemetrySample::new(
            "r1/s1/f1/site1/bat1".parse().unwrap(),
            42,
            t0(),
            t0(),
            Readings {
                power: Some(Kilowatts::new(-2.5).unwrap()),
                ..Readings::default()
            },
        )
        .unwrap();
        let m = Message::Telemetry(TelemetryMsg {
            v: WIRE_VERSION,
            sample,
            stale: false,
            kind: AssetKind::Battery,
        });
        assert_eq!(m.subject(), "vpp.v1.telemetry.r1.site1.bat1");
        let json = m.to_json();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["asset"], "r1/s1/f1/site1/bat1");
        assert_eq!(v["readings"]["power"], -2.5);
        assert!(v["readings"]["soc"].is_null());
        let back: TelemetryMsg = decode("telemetry", &json).unwrap();
        assert_eq!(Message::Telemetry(back), m);
    }

    #[test]
    fn site_meters_are_named_after_their_site_and_say_their_kind() {
        let site: NodePath = "r01/sub001/f0001/site00001".parse().unwrap();
        let meter = site_meter_asset(&site).unwrap();
        assert_eq!(
            meter.to_string(),
            "r01/sub001/f0001/site00001/site00001-meter"
        );
        let long: NodePath = format!("r/s/f/{}", "x".repeat(59)).parse().unwrap();
        assert!(site_meter_asset(&long).is_err(), "leaf over 64 characters");
        let feeder: NodePath = "r/s/f".parse().unwrap();
        assert!(site_meter_asset(&feeder).is_err());

        let sample = TelemetrySample::new(meter, 7, t0(), t0(), Readings::default()).unwrap();
        let m = TelemetryMsg {
            kind: AssetKind::SiteMeter,
            ..TelemetryMsg::battery(sample, false)
        };
        let json = Message::Telemetry(m.clone()).to_json();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["kind"], "site_meter");
        let back: TelemetryMsg = decode("telemetry", &json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn hand_written_timestamps_parse_back_exactly_to_the_microsecond() {
        for t in [
            t0(),
            Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap()
                + chrono::TimeDelta::microseconds(999_999),
            Utc.with_ymd_and_hms(2026, 2, 3, 4, 5, 6).unwrap()
                + chrono::TimeDelta::nanoseconds(7_008_009),
        ] {
            let json = serde_json::to_string(&Rfc3339(t)).unwrap();
            let back: DateTime<Utc> = serde_json::from_str(&json).unwrap();
            assert_eq!(
                back,
                t - chrono::TimeDelta::nanoseconds(i64::from(t.timestamp_subsec_nanos() % 1000)),
                "{json}"
            );
        }
        assert_eq!(
            serde_json::to_string(&Rfc3339(t0())).unwrap(),
            "\"2026-06-01T12:00:00.000000Z\""
        );
    }

    #[test]
    fn bad_bytes_give_typed_errors() {
        assert!(matches!(
            decode::<SetpointMsg>("setpoint", b"{not json"),
            Err(WireError::Malformed {
                what: "setpoint",
                ..
            })
        ));
        assert_eq!(
            decode::<SetpointMsg>("setpoint", br#"{"v":9}"#),
            Err(WireError::Version {
                what: "setpoint",
                found: 9
            })
        );
        let bad_soc = br#"{"v":1,"asset":"a/b/c/d/e","seq":1,"measured_at":"2026-06-01T12:00:00Z","received_at":"2026-06-01T12:00:00Z","readings":{"soc":1.7}}"#;
        let err = decode::<TelemetryMsg>("telemetry", bad_soc).unwrap_err();
        assert!(err.to_string().contains("state of charge"), "{err}");
    }

    #[test]
    fn setpoints_and_acks_use_their_subjects() {
        let sp = Setpoint::new(
            "r1/s1/f1/site1/bat1".parse().unwrap(),
            Kilowatts::new(3.0).unwrap(),
            t0(),
            t0() + chrono::TimeDelta::minutes(5),
            CorrelationId::new("c1").unwrap(),
            None,
        )
        .unwrap();
        let m = Message::Setpoint(SetpointMsg {
            v: WIRE_VERSION,
            setpoint: sp.clone(),
            site_import_cap_kw: None,
        });
        assert_eq!(m.subject(), "vpp.v1.setpoint.site1.bat1");
        let v: serde_json::Value = serde_json::from_slice(&m.to_json()).unwrap();
        assert_eq!(v["power_kw"], 3.0);
        assert!(
            v.get("site_import_cap_kw").is_none(),
            "absent when there is no cap"
        );
        // A cap travels next to the setpoint's fields and comes back.
        let capped = Message::Setpoint(SetpointMsg {
            v: WIRE_VERSION,
            setpoint: sp,
            site_import_cap_kw: Some(2.5),
        });
        let v: serde_json::Value = serde_json::from_slice(&capped.to_json()).unwrap();
        assert_eq!(v["site_import_cap_kw"], 2.5);
        let back: SetpointMsg = decode("setpoint", &capped.to_json()).unwrap();
        assert_eq!(Message::Setpoint(back), capped);
        let ack = Message::Ack(AckMsg {
            v: WIRE_VERSION,
            asset: "r1/s1/f1/site1/bat1".parse().unwrap(),
            correlation_id: CorrelationId::new("c1").unwrap(),
            at: t0(),
            outcome: AckOutcome::Written {
                power_kw: Kilowatts::new(3.0).unwrap(),
                revert_after_s: 300,
                clamped: false,
            },
        });
        assert_eq!(ack.subject(), "vpp.v1.setpoint_ack.site1.bat1");
        let v: serde_json::Value = serde_json::from_slice(&ack.to_json()).unwrap();
        assert_eq!(v["status"], "written");
        let ev = Message::Event(EventMsg {
            v: WIRE_VERSION,
            asset: None,
            at: t0(),
            kind: EventKind::SetpointRejected {
                subject: "vpp.v1.setpoint.site1.x".into(),
                correlation_id: None,
                reason: "malformed".into(),
            },
        });
        assert_eq!(ev.subject(), "vpp.v1.event.setpoint_rejected._._");
    }
}
