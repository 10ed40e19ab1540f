//! Battery specification: what a battery can physically do.

use serde::{Deserialize, Serialize};

use crate::{DomainError, Efficiency, KilowattHours, Kilowatts, Soc};

/// Plain, unchecked parameters of a battery; [`BatterySpec::new`] validates them.
///
/// Powers are AC-side ratings at the inverter terminals, both given as positive numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatterySpecParams {
    /// Usable rated energy capacity, kWh, `> 0`.
    pub capacity_kwh: f64,
    /// Largest charging power, kW, `> 0`.
    pub max_charge_kw: f64,
    /// Largest discharging power, kW, `> 0`.
    pub max_discharge_kw: f64,
    /// Share of AC energy drawn while charging that ends up stored, `(0, 1]`.
    pub charge_efficiency: f64,
    /// Stored energy delivered as AC per unit stored energy removed, `(0, 1]`.
    pub discharge_efficiency: f64,
    /// Lowest state of charge the battery management system allows.
    pub soc_min: f64,
    /// Highest state of charge the battery management system allows.
    pub soc_max: f64,
    /// Reserve: dispatch never discharges below this state of charge (kept e.g. for backup).
    /// `soc_min <= soc_reserve <= soc_max`.
    pub soc_reserve: f64,
}

impl BatterySpecParams {
    /// A typical 13.5 kWh, 5 kW home battery (95 % / 95 %, SoC 5..100 %, 10 % reserve).
    #[must_use]
    pub fn home_battery() -> Self {
        Self {
            capacity_kwh: 13.5,
            max_charge_kw: 5.0,
            max_discharge_kw: 5.0,
            charge_efficiency: 0.95,
            discharge_efficiency: 0.95,
            soc_min: 0.05,
            soc_max: 1.0,
            soc_reserve: 0.1,
        }
    }
}

/// A validated battery specification.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BatterySpecParams", into = "BatterySpecParams")]
pub struct BatterySpec {
    capacity: KilowattHours,
    max_charge: Kilowatts,
    max_discharge: Kilowatts,
    charge_efficiency: Efficiency,
    discharge_efficiency: Efficiency,
    soc_min: Soc,
    soc_max: Soc,
    soc_reserve: Soc,
}

fn positive(quantity: &'static str, value: f64) -> Result<f64, DomainError> {
    if !value.is_finite() {
        return Err(DomainError::NonFinite { quantity, value });
    }
    if value <= 0.0 {
        return Err(DomainError::OutOfRange {
            quantity,
            value,
            min: f64::MIN_POSITIVE,
            max: f64::MAX,
        });
    }
    Ok(value)
}

impl BatterySpec {
    /// Validates `p`: positive capacity and powers, efficiencies in `(0, 1]`, SoC bounds in
    /// `0..=1` with `soc_min < soc_max` and `soc_min <= soc_reserve <= soc_max`.
    pub fn new(p: BatterySpecParams) -> Result<Self, DomainError> {
        let capacity = KilowattHours::new(positive("capacity kWh", p.capacity_kwh)?)?;
        let max_charge = Kilowatts::new(positive("max charge power kW", p.max_charge_kw)?)?;
        let max_discharge =
            Kilowatts::new(positive("max discharge power kW", p.max_discharge_kw)?)?;
        let charge_efficiency = Efficiency::new(p.charge_efficiency)?;
        let discharge_efficiency = Efficiency::new(p.discharge_efficiency)?;
        let soc_min = Soc::new(p.soc_min)?;
        let soc_max = Soc::new(p.soc_max)?;
        let soc_reserve = Soc::new(p.soc_reserve)?;
        if soc_min >= soc_max {
            return Err(DomainError::Inconsistent {
                what: "battery spec",
                detail: format!("soc_min {} must be below soc_max {}", p.soc_min, p.soc_max),
            });
        }
        if soc_reserve < soc_min || soc_reserve > soc_max {
            return Err(DomainError::Inconsistent {
                what: "battery spec",
                detail: format!(
                    "soc_reserve {} must lie within [soc_min {}, soc_max {}]",
                    p.soc_reserve, p.soc_min, p.soc_max
                ),
            });
        }
        Ok(Self {
            capacity,
            max_charge,
            max_discharge,
            charge_efficiency,
            discharge_efficiency,
            soc_min,
            soc_max,
            soc_reserve,
        })
    }

    /// The same battery with another reserve, validated like [`BatterySpec::new`].
    pub fn with_reserve(&self, soc_reserve: Soc) -> Result<Self, DomainError> {
        Self::new(BatterySpecParams {
            soc_reserve: soc_reserve.get(),
            ..self.params()
        })
    }

    /// The plain parameters of this spec.
    #[must_use]
    pub fn params(&self) -> BatterySpecParams {
        BatterySpecParams {
            capacity_kwh: self.capacity.get(),
            max_charge_kw: self.max_charge.get(),
            max_discharge_kw: self.max_discharge.get(),
            charge_efficiency: self.charge_efficiency.get(),
            discharge_efficiency: self.discharge_efficiency.get(),
            soc_min: self.soc_min.get(),
            soc_max: self.soc_max.get(),
            soc_reserve: self.soc_reserve.get(),
        }
    }

    /// Rated usable capacity.
    #[must_use]
    pub fn capacity(&self) -> KilowattHours {
        self.capacity
    }

    /// Largest charging power (a positive number).
    #[must_use]
    pub fn max_charge(&self) -> Kilowatts {
        self.max_charge
    }

    /// Largest discharging power (a positive number).
    #[must_use]
    pub fn max_discharge(&self) -> Kilowatts {
        self.max_discharge
    }

    /// Charging efficiency.
    #[must_use]
    pub fn charge_efficiency(&self) -> Efficiency {
        self.charge_efficiency
    }

    /// Discharging efficiency.
    #[must_use]
    pub fn discharge_efficiency(&self) -> Efficiency {
        self.discharge_efficiency
    }

    /// Lowest allowed state of charge.
    #[must_use]
    pub fn soc_min(&self) -> Soc {
        self.soc_min
    }

    /// Highest allowed state of charge.
    #[must_use]
    pub fn soc_max(&self) -> Soc {
        self.soc_max
    }

    /// Reserve state of charge (dispatch floor).
    #[must_use]
    pub fn soc_reserve(&self) -> Soc {
        self.soc_reserve
    }

    /// Stored energy at state of charge `soc`.
    #[must_use]
    pub fn energy_at(&self, soc: Soc) -> KilowattHours {
        self.capacity * soc.get()
    }

    /// Whether battery power `p` (`> 0` discharging) is within the power ratings.
    #[must_use]
    pub fn allows(&self, p: Kilowatts) -> bool {
        -self.max_charge <= p && p <= self.max_discharge
    }

    /// Battery power `p` clamped into `[-max_charge, max_discharge]`.
    #[must_use]
    pub fn clamp_power(&self, p: Kilowatts) -> Kilowatts {
        p.clamp(-self.max_charge, self.max_discharge)
    }
}

impl TryFrom<BatterySpecParams> for BatterySpec {
    type Error = DomainError;
    fn try_from(p: BatterySpecParams) -> Result<Self, DomainError> {
        Self::new(p)
    }
}

impl From<BatterySpec> for BatterySpecParams {
    fn from(s: BatterySpec) -> Self {
        s.params()
    }
}

/// The lowest state of charge a controller may plan or discharge down to: the higher of the
/// device's minimum (`SoCMin`) and its reserve (`SoCRsvMin`), whichever are known, else 0. The
/// one rule the gateway's fallback and guard, the aggregator and the dispatcher share.
#[must_use]
pub fn soc_floor(soc_min: Option<f64>, soc_reserve: Option<f64>) -> f64 {
    soc_min
        .into_iter()
        .chain(soc_reserve)
        .filter(|x| x.is_finite())
        .fold(0.0_f64, f64::max)
        .min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soc_floor_is_the_higher_of_minimum_and_reserve() {
        assert_eq!(soc_floor(Some(0.05), Some(0.2)), 0.2);
        assert_eq!(soc_floor(Some(0.3), Some(0.2)), 0.3);
        assert_eq!(soc_floor(None, Some(0.1)), 0.1);
        assert_eq!(soc_floor(Some(0.1), None), 0.1);
        assert_eq!(soc_floor(None, None), 0.0);
        assert_eq!(soc_floor(Some(f64::NAN), Some(0.1)), 0.1);
    }

    #[test]
    fn a_typical_battery_is_valid() {
        let s = BatterySpec::new(BatterySpecParams::home_battery()).unwrap();
        assert_eq!(s.energy_at(Soc::new(0.5).unwrap()).get(), 6.75);
        assert!(s.allows(Kilowatts::new(-5.0).unwrap()));
        assert!(!s.allows(Kilowatts::new(5.01).unwrap()));
        assert_eq!(s.clamp_power(Kilowatts::new(-9.0).unwrap()).get(), -5.0);
    }

    #[test]
    fn invalid_specs_name_the_field() {
        let base = BatterySpecParams::home_battery();
        let err = BatterySpec::new(BatterySpecParams {
            capacity_kwh: 0.0,
            ..base
        })
        .unwrap_err();
        assert!(err.to_string().contains("capacity kWh"), "{err}");
        let err = BatterySpec::new(BatterySpecParams {
            soc_min: 0.9,
            soc_max: 0.5,
            ..base
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("soc_min 0.9 must be below soc_max 0.5")
        );
        let err = BatterySpec::new(BatterySpecParams {
            soc_reserve: 0.01,
            ..base
        })
        .unwrap_err();
        assert!(err.to_string().contains("soc_reserve"));
        assert!(
            BatterySpec::new(BatterySpecParams {
                discharge_efficiency: 1.5,
                ..base
            })
            .is_err()
        );
        assert!(
            BatterySpec::new(BatterySpecParams {
                max_charge_kw: f64::NAN,
                ..base
            })
            .is_err()
        );
    }

    #[test]
    fn serde_rejects_invalid_specs() {
        let mut v = serde_json::to_value(BatterySpecParams::home_battery()).unwrap();
        assert!(serde_json::from_value::<BatterySpec>(v.clone()).is_ok());
        v["soc_max"] = serde_json::json!(1.5);
        assert!(serde_json::from_value::<BatterySpec>(v).is_err());
    }
}
