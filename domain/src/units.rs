//! Physical and economic units as checked newtypes.
//!
//! Each unit wraps an `f64` that is always finite. Sign conventions (design.md §3):
//! battery power `> 0` discharges (the battery exports), `< 0` charges; grid power `> 0` imports.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

use serde::{Deserialize, Serialize};

use crate::DomainError;

fn finite(quantity: &'static str, value: f64) -> Result<f64, DomainError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(DomainError::NonFinite { quantity, value })
    }
}

fn within(quantity: &'static str, value: f64, min: f64, max: f64) -> Result<f64, DomainError> {
    let value = finite(quantity, value)?;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(DomainError::OutOfRange {
            quantity,
            value,
            min,
            max,
        })
    }
}

/// Declares a signed, finite quantity with arithmetic, serde (as a bare number) and Display.
macro_rules! signed_unit {
    ($(#[$doc:meta])* $name:ident, $quantity:literal, $suffix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
        #[serde(try_from = "f64", into = "f64")]
        pub struct $name(f64);

        impl $name {
            /// Zero of this unit.
            pub const ZERO: Self = Self(0.0);

            /// Checked constructor: rejects NaN and infinities.
            pub fn new(value: f64) -> Result<Self, DomainError> {
                finite($quantity, value).map(Self)
            }

            /// The raw number.
            #[must_use]
            pub const fn get(self) -> f64 {
                self.0
            }

            /// Absolute value.
            #[must_use]
            pub fn abs(self) -> Self {
                Self(self.0.abs())
            }

            /// Clamps into `[lo, hi]`.
            #[must_use]
            pub fn clamp(self, lo: Self, hi: Self) -> Self {
                Self(self.0.clamp(lo.0, hi.0))
            }

            /// The smaller of two values.
            #[must_use]
            pub fn min(self, other: Self) -> Self {
                Self(self.0.min(other.0))
            }

            /// The larger of two values.
            #[must_use]
            pub fn max(self, other: Self) -> Self {
                Self(self.0.max(other.0))
            }
        }

        impl TryFrom<f64> for $name {
            type Error = DomainError;
            fn try_from(value: f64) -> Result<Self, DomainError> {
                Self::new(value)
            }
        }

        impl From<$name> for f64 {
            fn from(value: $name) -> f64 {
                value.0
            }
        }

        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, rhs: Self) {
                self.0 += rhs.0;
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }

        impl Neg for $name {
            type Output = Self;
            fn neg(self) -> Self {
                Self(-self.0)
            }
        }

        impl Mul<f64> for $name {
            type Output = Self;
            fn mul(self, rhs: f64) -> Self {
                Self(self.0 * rhs)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", self.0, $suffix)
            }
        }
    };
}

signed_unit!(
    /// Power in kilowatts.
    ///
    /// Sign depends on the side: for a battery `> 0` discharges (power flows out of the battery),
    /// `< 0` charges; at a grid connection point `> 0` imports from the grid.
    Kilowatts,
    "power kW",
    "kW"
);

signed_unit!(
    /// Energy in kilowatt-hours. Stored energy is `>= 0`; energy differences may be negative.
    KilowattHours,
    "energy kWh",
    "kWh"
);

signed_unit!(
    /// Energy price in euros per megawatt-hour. May be negative (negative market prices exist).
    EurPerMwh,
    "price EUR/MWh",
    "EUR/MWh"
);

impl Kilowatts {
    /// Energy moved at this power during `hours`.
    #[must_use]
    pub fn over_hours(self, hours: f64) -> KilowattHours {
        KilowattHours(self.0 * hours)
    }

    /// Converts from watts.
    pub fn from_watts(watts: f64) -> Result<Self, DomainError> {
        Self::new(watts / 1000.0)
    }

    /// This power in watts.
    #[must_use]
    pub fn watts(self) -> f64 {
        self.0 * 1000.0
    }
}

impl KilowattHours {
    /// The constant power that moves this energy in `hours` (`hours > 0`).
    #[must_use]
    pub fn per_hours(self, hours: f64) -> Kilowatts {
        Kilowatts(self.0 / hours)
    }
}

impl EurPerMwh {
    /// The same price in euros per kilowatt-hour.
    #[must_use]
    pub fn eur_per_kwh(self) -> f64 {
        self.0 / 1000.0
    }
}

/// State of charge as a fraction of rated capacity, checked to `0..=1`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Soc(f64);

impl Soc {
    /// Empty.
    pub const EMPTY: Self = Self(0.0);
    /// Full.
    pub const FULL: Self = Self(1.0);

    /// Checked constructor: `value` must be finite and within `0..=1`.
    pub fn new(value: f64) -> Result<Self, DomainError> {
        within("state of charge", value, 0.0, 1.0).map(Self)
    }

    /// From a percentage `0..=100`.
    pub fn from_percent(percent: f64) -> Result<Self, DomainError> {
        within("state of charge %", percent, 0.0, 100.0).map(|p| Self(p / 100.0))
    }

    /// The fraction `0..=1`.
    #[must_use]
    pub const fn get(self) -> f64 {
        self.0
    }

    /// As a percentage `0..=100`.
    #[must_use]
    pub fn percent(self) -> f64 {
        self.0 * 100.0
    }
}

impl TryFrom<f64> for Soc {
    type Error = DomainError;
    fn try_from(value: f64) -> Result<Self, DomainError> {
        Self::new(value)
    }
}

impl From<Soc> for f64 {
    fn from(value: Soc) -> f64 {
        value.0
    }
}

impl fmt::Display for Soc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2} %", self.0 * 100.0)
    }
}

/// A conversion efficiency, checked to `(0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Efficiency(f64);

impl Efficiency {
    /// Lossless.
    pub const PERFECT: Self = Self(1.0);

    /// Checked constructor: `value` must be finite, `> 0` and `<= 1`.
    pub fn new(value: f64) -> Result<Self, DomainError> {
        let v = within("efficiency", value, 0.0, 1.0)?;
        if v > 0.0 {
            Ok(Self(v))
        } else {
            Err(DomainError::OutOfRange {
                quantity: "efficiency",
                value,
                min: f64::MIN_POSITIVE,
                max: 1.0,
            })
        }
    }

    /// The fraction.
    #[must_use]
    pub const fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Efficiency {
    type Error = DomainError;
    fn try_from(value: f64) -> Result<Self, DomainError> {
        Self::new(value)
    }
}

impl From<Efficiency> for f64 {
    fn from(value: Efficiency) -> f64 {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_reject_non_finite_values() {
        assert!(matches!(
            Kilowatts::new(f64::NAN),
            Err(DomainError::NonFinite {
                quantity: "power kW",
                ..
            })
        ));
        assert!(KilowattHours::new(f64::INFINITY).is_err());
        assert!(EurPerMwh::new(-500.0).is_ok(), "negative prices are real");
    }

    #[test]
    fn soc_is_checked_to_unit_interval() {
        assert!(Soc::new(0.0).is_ok());
        assert!(Soc::new(1.0).is_ok());
        let err = Soc::new(1.01).unwrap_err();
        assert_eq!(
            err.to_string(),
            "state of charge must be within [0, 1], got 1.01"
        );
        assert!(Soc::new(-0.0001).is_err());
        assert!(Soc::new(f64::NAN).is_err());
        assert_eq!(Soc::from_percent(55.0).unwrap().get(), 0.55);
    }

    #[test]
    fn efficiency_excludes_zero() {
        assert!(Efficiency::new(0.0).is_err());
        assert!(Efficiency::new(1.0).is_ok());
        assert!(Efficiency::new(1.2).is_err());
    }

    #[test]
    fn serde_goes_through_the_checked_constructor() {
        let soc: Result<Soc, _> = serde_json::from_str("1.5");
        assert!(soc.is_err());
        let kw: Kilowatts = serde_json::from_str("-3.5").unwrap();
        assert_eq!(kw.get(), -3.5);
        assert_eq!(serde_json::to_string(&kw).unwrap(), "-3.5");
    }

    #[test]
    fn power_over_time_is_energy() {
        let e = Kilowatts::new(4.0).unwrap().over_hours(0.25);
        assert_eq!(e.get(), 1.0);
        assert_eq!(Kilowatts::from_watts(2500.0).unwrap().get(), 2.5);
    }
}
