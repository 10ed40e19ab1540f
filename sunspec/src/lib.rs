//! SunSpec protocol knowledge shared by both ends of the wire: the device simulator that serves
//! registers and the gateway that reads them.
//!
//! - [`layout`]: point offsets and "not implemented" sentinels of models 1, 701, 702, 704, 802.
//! - [`BaseAddress`]: where a map starts (40000, 0 or 50000).
//! - Value helpers: sentinel-aware decoding with scale factors, strings, 32/64-bit words.
//!
//! Architecture invariant: pure; no IO, no async, no clock.

pub mod layout;

use serde::{Deserialize, Serialize};

/// `"SunS"` as two registers.
pub const MARKER: [u16; 2] = [0x5375, 0x6e53];
/// Model id of the end marker.
pub const END_MODEL_ID: u16 = 0xFFFF;

/// First register of a SunSpec map. Discovery tries 40000, then 0, then 50000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BaseAddress {
    /// 40000, the usual one.
    #[serde(rename = "40000")]
    B40000,
    /// 0.
    #[serde(rename = "0")]
    B0,
    /// 50000.
    #[serde(rename = "50000")]
    B50000,
}

impl BaseAddress {
    /// All three, in the order discovery tries them.
    pub const ALL: [Self; 3] = [Self::B40000, Self::B0, Self::B50000];

    /// The register address.
    #[must_use]
    pub fn address(self) -> u16 {
        match self {
            Self::B40000 => 40000,
            Self::B0 => 0,
            Self::B50000 => 50000,
        }
    }

    /// The base at register address `a`, if it is one of the three.
    #[must_use]
    pub fn from_address(a: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.address() == a)
    }
}

/// `10^sf` for a scale factor; `None` for the "not implemented" scale factor or an absurd one.
#[must_use]
pub fn scale(sf: u16) -> Option<f64> {
    let sf = sf as i16;
    if sf == i16::MIN || !(-10..=10).contains(&sf) {
        None
    } else {
        Some(10f64.powi(i32::from(sf)))
    }
}

/// An `int16` point with its scale factor; `None` if either is "not implemented".
#[must_use]
pub fn int16(raw: u16, sf: u16) -> Option<f64> {
    if raw == 0x8000 {
        return None;
    }
    Some(f64::from(raw as i16) * scale(sf)?)
}

/// A `uint16` point with its scale factor; `None` if either is "not implemented".
#[must_use]
pub fn uint16(raw: u16, sf: u16) -> Option<f64> {
    if raw == 0xFFFF {
        return None;
    }
    Some(f64::from(raw) * scale(sf)?)
}

/// An `enum16` or unscaled `uint16`; `None` if "not implemented".
#[must_use]
pub fn enum16(raw: u16) -> Option<u16> {
    (raw != 0xFFFF).then_some(raw)
}

/// A `uint32` from two registers (high word first); `None` if "not implemented".
#[must_use]
pub fn uint32(hi: u16, lo: u16) -> Option<u32> {
    let v = (u32::from(hi) << 16) | u32::from(lo);
    (v != u32::MAX).then_some(v)
}

/// An `acc32` (a lifetime accumulator, e.g. model 201 `TotWhImp`) from two registers (high
/// word first); `None` if it holds no count. SunSpec's "not accumulated" value of an
/// accumulator is 0 (the `layout` sentinels of every `acc32` point); all ones, the sentinel of
/// [`uint32`] and what a device serves during a reset, is not a count either.
#[must_use]
pub fn acc32(hi: u16, lo: u16) -> Option<u32> {
    uint32(hi, lo).filter(|v| *v != 0)
}

/// An `int32` from two registers; `None` if "not implemented".
#[must_use]
pub fn int32(hi: u16, lo: u16) -> Option<i32> {
    let v = ((u32::from(hi) << 16) | u32::from(lo)) as i32;
    (v != i32::MIN).then_some(v)
}

/// A `uint64` from four registers; `None` if "not implemented".
#[must_use]
pub fn uint64(words: [u16; 4]) -> Option<u64> {
    let v = words
        .iter()
        .fold(0u64, |acc, w| (acc << 16) | u64::from(*w));
    (v != u64::MAX).then_some(v)
}

/// A string point: bytes up to the first NUL, trailing spaces trimmed; `None` if empty.
#[must_use]
pub fn string(words: &[u16]) -> Option<String> {
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .take_while(|b| *b != 0)
        .collect();
    let s = String::from_utf8_lossy(&bytes).trim_end().to_owned();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinels_are_missing_values_never_numbers() {
        assert_eq!(int16(0x8000, 0), None);
        assert_eq!(int16(0xFFFF, 0), Some(-1.0));
        assert_eq!(uint16(0xFFFF, 0), None);
        assert_eq!(uint16(5, 0x8000), None, "missing scale factor");
        assert_eq!(uint32(0xFFFF, 0xFFFF), None);
        assert_eq!(acc32(0, 0), None, "not accumulated");
        assert_eq!(acc32(0xFFFF, 0xFFFF), None);
        assert_eq!(acc32(1, 2), Some(65538));
        assert_eq!(int32(0x8000, 0), None);
        assert_eq!(uint64([0xFFFF; 4]), None);
        assert_eq!(enum16(0xFFFF), None);
    }

    #[test]
    fn scale_factors_apply() {
        assert_eq!(int16((-2500i16) as u16, 0), Some(-2500.0));
        assert_eq!(uint16(5221, (-2i16) as u16), Some(52.21));
        assert_eq!(int16(123, 1), Some(1230.0));
        assert_eq!(int32(0xFFFF, 0xF830), Some(-2000));
        assert_eq!(uint64([0, 0, 1, 2]), Some(65538));
        assert_eq!(scale(42), None);
    }

    #[test]
    fn strings_stop_at_nul() {
        let words = [
            u16::from_be_bytes(*b"vp"),
            u16::from_be_bytes([b'p', 0]),
            0x4142,
        ];
        assert_eq!(string(&words).as_deref(), Some("vpp"));
        assert_eq!(string(&[0, 0]), None);
    }
}
