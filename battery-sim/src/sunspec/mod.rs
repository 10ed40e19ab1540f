//! The SunSpec register map of a simulated battery: encode its state into registers, apply
//! register writes to its controls.
//!
//! Pure code: no sockets, no clock. [`crate::server`] adapts it to Modbus TCP.
//!
//! Layout from the base address: `"SunS"`, then models 1, 701, 702, 704 and 802, then the end
//! marker `0xFFFF, 0`. Values carry scale factors (`*_SF`); a value the device does not have reads
//! as the "not implemented" sentinel of its type. Writable points: 704 `WSetEna`, `WSetMod`,
//! `WSet`, `WSetRvrt`, `WSetPct`, `WSetPctRvrt`, `WSetEnaRvrt`, `WSetRvrtTms`, and 802
//! `SoCRsvMin`. Every other register is read-only.

use std::time::Duration;

use vpp_domain::Soc;

use crate::device::{Controls, SimBattery, WSetMode};
use crate::physics::BatteryState;
pub use vpp_sunspec::BaseAddress;
pub use vpp_sunspec::layout;
use vpp_sunspec::layout::{m1, m201, m701, m702, m704, m802};

/// A site meter's map: `"SunS"`, model 1, model 201 (single-phase meter), end marker.
pub mod meter {
    use super::{m1, m201};
    /// Start of model 1.
    pub const M1_AT: u16 = 2;
    /// Start of model 201.
    pub const M201_AT: u16 = M1_AT + m1::LEN;
    /// Start of the end marker.
    pub const END_AT: u16 = M201_AT + m201::LEN;
    /// Registers in the map.
    pub const MAP_LEN: u16 = END_AT + 2;
}

/// Everything a site meter's map serves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterView<'a> {
    /// Grid import, kW (`> 0` imports).
    pub import_kw: f64,
    /// Lifetime energy imported from the grid, kWh (201 `TotWhImp`).
    pub imported_kwh: f64,
    /// Lifetime energy exported to the grid, kWh (201 `TotWhExp`).
    pub exported_kwh: f64,
    /// `TotWh_SF`: the counters count units of `10^wh_sf` Wh (see [`meter_wh_sf`]).
    pub wh_sf: i16,
    /// Model 1 `SN`.
    pub serial: &'a str,
    /// Modbus unit id (model 1 `DA`).
    pub unit_id: u8,
}

/// Years a site meter's energy counters run before they roll over, at a site's full rating.
const METER_COUNTER_YEARS: f64 = 10.0;

/// `TotWh_SF` of a site whose grid connection carries at most `rating_kw`: the finest scale
/// factor (0, whole Wh, at the finest) at which ten years at that power fit an `acc32`.
#[must_use]
pub fn meter_wh_sf(rating_kw: f64) -> i16 {
    let wh = rating_kw.abs() * 1000.0 * METER_COUNTER_YEARS * 365.25 * 24.0;
    sf_for(wh, f64::from(u32::MAX - 1), 0)
}

/// An `acc32` counter register pair for `wh` at scale factor `sf`: completed units only (a
/// meter counts whole units), rolling over past the top as SunSpec accumulators do.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn acc32_reg(wh: f64, sf: i16) -> u32 {
    let units = (wh / 10f64.powi(i32::from(sf))).floor().clamp(0.0, 1.8e19) as u64;
    (units % (1 << 32)) as u32
}

/// Encodes a site meter's map (offset 0 is the base address): grid import and its lifetime
/// counters from `view`, 230 V, 50 Hz.
#[must_use]
pub fn encode_meter(view: MeterView<'_>) -> Vec<u16> {
    let mut img = Image {
        regs: [0xFFFF; MAP_LEN as usize],
    };
    img.put_str(0, 2, "SunS");
    img.blank_model(meter::M1_AT, m1::MODEL_ID, m1::LEN, m1::NON_FFFF_SENTINELS);
    img.blank_model(
        meter::M201_AT,
        m201::MODEL_ID,
        m201::LEN,
        m201::NON_FFFF_SENTINELS,
    );
    img.put(meter::END_AT, 0xFFFF);
    img.put(meter::END_AT + 1, 0);
    img.put_str(meter::M1_AT + m1::Mn, 16, "vpp");
    img.put_str(meter::M1_AT + m1::Md, 16, "vpp-site-meter");
    img.put_str(meter::M1_AT + m1::SN, 16, view.serial);
    img.put(meter::M1_AT + m1::DA, u16::from(view.unit_id));
    let a = meter::M201_AT;
    let w = view.import_kw * 1000.0;
    let w_sf = sf_for(w.abs(), 32767.0, 0);
    let a_sf = sf_for(w.abs() / V_AC, 32767.0, -2);
    img.put(a + m201::W, i16_reg(w, w_sf));
    img.put(a + m201::WphA, i16_reg(w, w_sf));
    img.put(a + m201::W_SF, sf_reg(w_sf));
    img.put(a + m201::A, i16_reg(w / V_AC, a_sf));
    img.put(a + m201::AphA, i16_reg(w / V_AC, a_sf));
    img.put(a + m201::A_SF, sf_reg(a_sf));
    img.put(a + m201::PhV, i16_reg(V_AC, SF_V));
    img.put(a + m201::PhVphA, i16_reg(V_AC, SF_V));
    img.put(a + m201::V_SF, sf_reg(SF_V));
    img.put(a + m201::Hz, i16_reg(50.0, SF_HZ));
    img.put(a + m201::Hz_SF, sf_reg(SF_HZ));
    // Single phase: the phase A counters are the totals.
    let imported = acc32_reg(view.imported_kwh * 1000.0, view.wh_sf);
    let exported = acc32_reg(view.exported_kwh * 1000.0, view.wh_sf);
    img.put_u32(a + m201::TotWhImp, imported);
    img.put_u32(a + m201::TotWhImpPhA, imported);
    img.put_u32(a + m201::TotWhExp, exported);
    img.put_u32(a + m201::TotWhExpPhA, exported);
    img.put(a + m201::TotWh_SF, sf_reg(view.wh_sf));
    img.put_u32(a + m201::Evt, 0);
    img.regs[..usize::from(meter::MAP_LEN)].to_vec()
}

/// Start of model 1, relative to the base.
pub const M1_AT: u16 = 2;
/// Start of model 701.
pub const M701_AT: u16 = M1_AT + m1::LEN;
/// Start of model 702.
pub const M702_AT: u16 = M701_AT + m701::LEN;
/// Start of model 704.
pub const M704_AT: u16 = M702_AT + m702::LEN;
/// Start of model 802.
pub const M802_AT: u16 = M704_AT + m704::LEN;
/// Start of the end marker.
pub const END_AT: u16 = M802_AT + m802::LEN;
/// Registers in the whole map.
pub const MAP_LEN: u16 = END_AT + 2;

/// Most registers one Modbus read may ask for.
pub const MAX_READ: u16 = 125;

/// Nominal AC voltage served in 701/702, volts.
const V_AC: f64 = 230.0;
/// Nominal DC bank voltage range, volts (16 LFP cells).
const V_DC_EMPTY: f64 = 48.0;
const V_DC_FULL: f64 = 54.4;
const CELLS: f64 = 16.0;

/// Why a register access was refused; maps onto a Modbus exception code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Exception 0x02: the address range is unmapped, or a register in it is read-only.
    #[error("illegal data address: {count} register(s) at {address} ({reason})")]
    IllegalAddress {
        /// First register asked for.
        address: u16,
        /// How many.
        count: u16,
        /// What is wrong.
        reason: &'static str,
    },
    /// Exception 0x03: a written value is out of range for its point.
    #[error("illegal data value for {point}: {value}")]
    IllegalValue {
        /// The SunSpec point.
        point: &'static str,
        /// The decoded value.
        value: i64,
    },
}

/// Scale factors of one device, chosen so its ratings fit the registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scales {
    /// Power (W, VA, var) in 701, 702 and 802.
    pub w: i16,
    /// AC current.
    pub a_ac: i16,
    /// DC current.
    pub a_dc: i16,
    /// 802 `WHRtg`.
    pub wh_rtg: i16,
    /// 802 `AHRtg`.
    pub ah_rtg: i16,
    /// 802 `WChaRteMax` / `WDisChaRteMax`.
    pub w_cha_dis: i16,
}

/// Smallest scale factor `>= finest` at which `max_abs` fits into `limit`.
fn sf_for(max_abs: f64, limit: f64, finest: i16) -> i16 {
    let mut sf = finest;
    while max_abs / 10f64.powi(i32::from(sf)) > limit && sf < 10 {
        sf += 1;
    }
    sf
}

impl Scales {
    /// Scale factors for `spec`.
    #[must_use]
    pub fn for_spec(spec: &vpp_domain::BatterySpec) -> Self {
        let w_max = spec.max_charge().watts().max(spec.max_discharge().watts());
        let wh = spec.capacity().get() * 1000.0;
        let dc_max = w_max / V_DC_EMPTY;
        Self {
            w: sf_for(w_max, 32767.0, 0),
            a_ac: sf_for(w_max / V_AC, 32767.0, -2),
            a_dc: sf_for(dc_max, 32767.0, -2),
            wh_rtg: sf_for(wh, 65534.0, 0),
            ah_rtg: sf_for(wh / V_DC_EMPTY, 65534.0, -1),
            w_cha_dis: sf_for(w_max, 65534.0, 0),
        }
    }
}

/// Fixed scale factors.
const SF_V: i16 = -1;
const SF_HZ: i16 = -2;
const SF_PF: i16 = -3;
const SF_TMP: i16 = -1;
const SF_SOC: i16 = -2;
const SF_CELL_V: i16 = -3;
const SF_WSET: i16 = 0;
const SF_WSET_PCT: i16 = -2;

fn raw(value: f64, sf: i16) -> f64 {
    (value / 10f64.powi(i32::from(sf))).round()
}

// The `as` casts below saturate after an explicit clamp that keeps sentinels out.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn i16_reg(value: f64, sf: i16) -> u16 {
    raw(value, sf).clamp(-32767.0, 32767.0) as i16 as u16
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn u16_reg(value: f64, sf: i16) -> u16 {
    raw(value, sf).clamp(0.0, 65534.0) as u16
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn u32_reg(value: f64, sf: i16) -> u32 {
    raw(value, sf).clamp(0.0, 4_294_967_294.0) as u32
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn u64_reg(value: f64, sf: i16) -> u64 {
    raw(value, sf).clamp(0.0, 1.8e19) as u64
}

fn sf_reg(sf: i16) -> u16 {
    sf as u16
}

/// A register image being filled, model by model.
struct Image {
    regs: [u16; MAP_LEN as usize],
}

impl Image {
    fn put(&mut self, at: u16, v: u16) {
        self.regs[usize::from(at)] = v;
    }

    fn put_u32(&mut self, at: u16, v: u32) {
        self.put(at, (v >> 16) as u16);
        self.put(at + 1, v as u16);
    }

    fn put_u64(&mut self, at: u16, v: u64) {
        self.put_u32(at, (v >> 32) as u32);
        self.put_u32(at + 2, v as u32);
    }

    fn put_str(&mut self, at: u16, regs: u16, s: &str) {
        let bytes = s.as_bytes();
        for i in 0..regs {
            let hi = bytes.get(usize::from(2 * i)).copied().unwrap_or(0);
            let lo = bytes.get(usize::from(2 * i + 1)).copied().unwrap_or(0);
            self.put(at + i, u16::from_be_bytes([hi, lo]));
        }
    }

    /// Writes the model header and fills its payload with "not implemented" sentinels.
    fn blank_model(&mut self, at: u16, id: u16, len: u16, sentinels: &[(u16, &[u16])]) {
        self.put(at, id);
        self.put(at + 1, len - 2);
        for r in &mut self.regs[usize::from(at + 2)..usize::from(at + len)] {
            *r = 0xFFFF;
        }
        for (off, words) in sentinels {
            for (i, w) in words.iter().enumerate() {
                self.put(at + off + i as u16, *w);
            }
        }
    }
}

/// Everything the register map needs to know about a device.
#[derive(Debug, Clone, Copy)]
pub struct DeviceView<'a> {
    /// The battery.
    pub battery: &'a SimBattery,
    /// Its Modbus unit id (served as model 1 `DA`).
    pub unit_id: u8,
}

/// Encodes the whole map of `view` (offset 0 is the base address).
#[must_use]
pub fn encode(view: DeviceView<'_>) -> Vec<u16> {
    let mut img = Image {
        regs: [0xFFFF; MAP_LEN as usize],
    };
    img.put_str(0, 2, "SunS");
    img.blank_model(M1_AT, m1::MODEL_ID, m1::LEN, m1::NON_FFFF_SENTINELS);
    img.blank_model(M701_AT, m701::MODEL_ID, m701::LEN, m701::NON_FFFF_SENTINELS);
    img.blank_model(M702_AT, m702::MODEL_ID, m702::LEN, m702::NON_FFFF_SENTINELS);
    img.blank_model(M704_AT, m704::MODEL_ID, m704::LEN, m704::NON_FFFF_SENTINELS);
    img.blank_model(M802_AT, m802::MODEL_ID, m802::LEN, m802::NON_FFFF_SENTINELS);
    img.put(END_AT, 0xFFFF);
    img.put(END_AT + 1, 0);

    let b = view.battery;
    let id = b.identity();
    img.put_str(M1_AT + m1::Mn, 16, &id.manufacturer);
    img.put_str(M1_AT + m1::Md, 16, &id.model);
    img.put_str(M1_AT + m1::Vr, 8, &id.version);
    img.put_str(M1_AT + m1::SN, 16, &id.serial);
    img.put(M1_AT + m1::DA, u16::from(view.unit_id));
    if b.in_reset_burst() {
        return img.regs.to_vec();
    }

    let spec = b.spec();
    let sc = Scales::for_spec(spec);
    let st: &BatteryState = b.reported_state();
    let p_w = st.power.watts();
    let w_dis = spec.max_discharge().watts();
    let w_cha = spec.max_charge().watts();
    let va_max = w_dis.max(w_cha);

    // 701: AC measurement.
    let a = M701_AT;
    img.put(a + m701::ACType, 0);
    img.put(a + m701::St, 1);
    img.put(a + m701::InvSt, if p_w == 0.0 { 7 } else { 3 });
    img.put(a + m701::ConnSt, 1);
    img.put_u32(a + m701::Alrm, 0);
    img.put_u32(a + m701::DERMode, 1);
    img.put(a + m701::W, i16_reg(p_w, sc.w));
    img.put(a + m701::VA, i16_reg(p_w.abs(), sc.w));
    img.put(a + m701::Var, i16_reg(0.0, sc.w));
    img.put(
        a + m701::PF,
        i16_reg(if p_w < 0.0 { -1.0 } else { 1.0 }, SF_PF),
    );
    img.put(a + m701::A, i16_reg(p_w.abs() / V_AC, sc.a_ac));
    img.put(a + m701::LNV, u16_reg(V_AC, SF_V));
    img.put_u32(a + m701::Hz, u32_reg(50.0, SF_HZ));
    img.put_u64(
        a + m701::TotWhInj,
        u64_reg(st.discharged_ac.get() * 1000.0, 0),
    );
    img.put_u64(a + m701::TotWhAbs, u64_reg(st.charged_ac.get() * 1000.0, 0));
    img.put(a + m701::TmpCab, i16_reg(25.0, SF_TMP));
    img.put(a + m701::WL1, i16_reg(p_w, sc.w));
    img.put(a + m701::VL1, u16_reg(V_AC, SF_V));
    img.put(a + m701::A_SF, sf_reg(sc.a_ac));
    img.put(a + m701::V_SF, sf_reg(SF_V));
    img.put(a + m701::Hz_SF, sf_reg(SF_HZ));
    img.put(a + m701::W_SF, sf_reg(sc.w));
    img.put(a + m701::PF_SF, sf_reg(SF_PF));
    img.put(a + m701::VA_SF, sf_reg(sc.w));
    img.put(a + m701::Var_SF, sf_reg(sc.w));
    img.put(a + m701::TotWh_SF, sf_reg(0));
    img.put(a + m701::Tmp_SF, sf_reg(SF_TMP));

    // 702: capacity (ratings and settings).
    let a = M702_AT;
    img.put(a + m702::WMaxRtg, u16_reg(w_dis, sc.w));
    img.put(a + m702::VAMaxRtg, u16_reg(va_max, sc.w));
    img.put(a + m702::WChaRteMaxRtg, u16_reg(w_cha, sc.w));
    img.put(a + m702::WDisChaRteMaxRtg, u16_reg(w_dis, sc.w));
    img.put(a + m702::VAChaRteMaxRtg, u16_reg(w_cha, sc.w));
    img.put(a + m702::VADisChaRteMaxRtg, u16_reg(w_dis, sc.w));
    img.put(a + m702::VNomRtg, u16_reg(V_AC, SF_V));
    img.put(a + m702::VMaxRtg, u16_reg(V_AC * 1.1, SF_V));
    img.put(a + m702::VMinRtg, u16_reg(V_AC * 0.9, SF_V));
    img.put(a + m702::AMaxRtg, u16_reg(va_max / V_AC, sc.a_ac));
    img.put_u32(a + m702::CtrlModes, 1 << 1); // FIXED_W
    img.put(a + m702::WMax, u16_reg(w_dis, sc.w));
    img.put(a + m702::VAMax, u16_reg(va_max, sc.w));
    img.put(a + m702::WChaRteMax, u16_reg(w_cha, sc.w));
    img.put(a + m702::WDisChaRteMax, u16_reg(w_dis, sc.w));
    img.put(a + m702::VNom, u16_reg(V_AC, SF_V));
    img.put(a + m702::W_SF, sf_reg(sc.w));
    img.put(a + m702::PF_SF, sf_reg(SF_PF));
    img.put(a + m702::VA_SF, sf_reg(sc.w));
    img.put(a + m702::Var_SF, sf_reg(sc.w));
    img.put(a + m702::V_SF, sf_reg(SF_V));
    img.put(a + m702::A_SF, sf_reg(sc.a_ac));

    // 704: controls.
    let a = M704_AT;
    let words = control_words(b.controls());
    for (i, w) in words.iter().enumerate() {
        img.put(a + m704::WSetEna + i as u16, *w);
    }
    img.put_u32(
        a + m704::WSetRvrtRem,
        u32::try_from(revert_remaining_s(b.controls().revert_remaining)).unwrap_or(u32::MAX - 1),
    );
    if let Some(ramp) = b.params().ramp_kw_per_s {
        img.put(a + m704::WRmp, u16_reg(ramp.watts() / w_dis * 100.0, 0));
    }
    img.put(a + m704::WSet_SF, sf_reg(SF_WSET));
    img.put(a + m704::WSetPct_SF, sf_reg(SF_WSET_PCT));

    // 802: battery.
    let a = M802_AT;
    let soc = st.soc(spec).get();
    let v_dc = V_DC_EMPTY + (V_DC_FULL - V_DC_EMPTY) * soc;
    let eta_c = spec.charge_efficiency().get();
    let eta_d = spec.discharge_efficiency().get();
    let p_dc = if p_w > 0.0 { p_w / eta_d } else { p_w * eta_c };
    let wh = spec.capacity().get() * 1000.0;
    img.put(a + m802::AHRtg, u16_reg(wh / V_DC_EMPTY, sc.ah_rtg));
    img.put(a + m802::WHRtg, u16_reg(wh, sc.wh_rtg));
    img.put(a + m802::WChaRteMax, u16_reg(w_cha, sc.w_cha_dis));
    img.put(a + m802::WDisChaRteMax, u16_reg(w_dis, sc.w_cha_dis));
    img.put(a + m802::SoCMax, u16_reg(spec.soc_max().percent(), SF_SOC));
    img.put(a + m802::SoCMin, u16_reg(spec.soc_min().percent(), SF_SOC));
    img.put(
        a + m802::SocRsvMax,
        u16_reg(spec.soc_max().percent(), SF_SOC),
    );
    img.put(
        a + m802::SoCRsvMin,
        u16_reg(spec.soc_reserve().percent(), SF_SOC),
    );
    img.put(a + m802::SoC, u16_reg(soc * 100.0, SF_SOC));
    img.put(a + m802::DoD, u16_reg((1.0 - soc) * 100.0, SF_SOC));
    img.put(a + m802::SoH, u16_reg(soh_percent(st.cycles), SF_SOC));
    img.put_u32(a + m802::NCyc, u32_reg(st.cycles.floor(), 0));
    img.put(a + m802::ChaSt, charge_status(b, st));
    img.put(a + m802::LocRemCtl, 0);
    img.put(a + m802::Hb, b.heartbeat());
    img.put(a + m802::CtrlHb, 0);
    img.put(a + m802::AlmRst, 0);
    img.put(a + m802::Typ, 4);
    img.put(a + m802::State, 3);
    img.put_u32(a + m802::Evt1, 0);
    img.put_u32(a + m802::Evt2, 0);
    img.put_u32(a + m802::EvtVnd1, 0);
    img.put_u32(a + m802::EvtVnd2, 0);
    img.put(a + m802::V, u16_reg(v_dc, SF_V));
    img.put(a + m802::VMax, u16_reg(V_DC_FULL, SF_V));
    img.put(a + m802::VMin, u16_reg(V_DC_EMPTY, SF_V));
    img.put(a + m802::CellVMax, u16_reg(v_dc / CELLS, SF_CELL_V));
    img.put(a + m802::CellVMin, u16_reg(v_dc / CELLS, SF_CELL_V));
    img.put(a + m802::CellVAvg, u16_reg(v_dc / CELLS, SF_CELL_V));
    img.put(a + m802::A, i16_reg(p_dc / v_dc, sc.a_dc));
    img.put(
        a + m802::AChaMax,
        u16_reg(w_cha * eta_c / V_DC_EMPTY, sc.a_dc),
    );
    img.put(
        a + m802::ADisChaMax,
        u16_reg(w_dis / eta_d / V_DC_EMPTY, sc.a_dc),
    );
    img.put(a + m802::W, i16_reg(p_dc, sc.w));
    img.put(a + m802::SetOp, 1);
    img.put(a + m802::SetInvState, 3);
    img.put(a + m802::AHRtg_SF, sf_reg(sc.ah_rtg));
    img.put(a + m802::WHRtg_SF, sf_reg(sc.wh_rtg));
    img.put(a + m802::WChaDisChaMax_SF, sf_reg(sc.w_cha_dis));
    img.put(a + m802::SoC_SF, sf_reg(SF_SOC));
    img.put(a + m802::DoD_SF, sf_reg(SF_SOC));
    img.put(a + m802::SoH_SF, sf_reg(SF_SOC));
    img.put(a + m802::V_SF, sf_reg(SF_V));
    img.put(a + m802::CellV_SF, sf_reg(SF_CELL_V));
    img.put(a + m802::A_SF, sf_reg(sc.a_dc));
    img.put(a + m802::AMax_SF, sf_reg(sc.a_dc));
    img.put(a + m802::W_SF, sf_reg(sc.w));
    img.regs.to_vec()
}

/// State of health: a linear fade of 0.004 % per equivalent full cycle, floored at 70 %.
#[must_use]
pub fn soh_percent(cycles: f64) -> f64 {
    (100.0 - 0.004 * cycles).max(70.0)
}

fn charge_status(b: &SimBattery, st: &BatteryState) -> u16 {
    let spec = b.spec();
    let soc = st.soc(spec).get();
    if st.power.get() > 0.0 {
        3 // DISCHARGING
    } else if st.power.get() < 0.0 {
        4 // CHARGING
    } else if soc >= spec.soc_max().get() - 1e-9 {
        5 // FULL
    } else if soc <= spec.soc_reserve().get() + 1e-9 {
        2 // EMPTY
    } else {
        6 // HOLDING
    }
}

/// Registers 704 `WSetEna` ..= `WSetRvrtTms` (11 words) for `c`.
fn control_words(c: &Controls) -> [u16; 11] {
    let mut w = [0u16; 11];
    w[0] = u16::from(c.enabled);
    w[1] = match c.mode {
        WSetMode::MaxPercent => 0,
        WSetMode::Watts => 1,
    };
    w[2..4].copy_from_slice(&split32(c.w_set as u32));
    w[4..6].copy_from_slice(&split32(c.w_set_revert as u32));
    w[6] = c.pct_set as u16;
    w[7] = c.pct_set_revert as u16;
    w[8] = u16::from(c.enabled_revert);
    w[9..11].copy_from_slice(&split32(c.revert_after_s));
    w
}

fn split32(v: u32) -> [u16; 2] {
    [(v >> 16) as u16, v as u16]
}

fn join32(hi: u16, lo: u16) -> u32 {
    (u32::from(hi) << 16) | u32::from(lo)
}

fn flag(point: &'static str, v: u16) -> Result<bool, RegisterError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(RegisterError::IllegalValue {
            point,
            value: i64::from(v),
        }),
    }
}

/// Decodes and validates 704 control words against the battery's ratings.
fn decode_controls(
    words: &[u16; 11],
    b: &SimBattery,
    previous: &Controls,
) -> Result<Controls, RegisterError> {
    let spec = b.spec();
    let in_power_range = |point: &'static str, w: i32| {
        let watts = f64::from(w);
        if watts >= -spec.max_charge().watts() && watts <= spec.max_discharge().watts() {
            Ok(w)
        } else {
            Err(RegisterError::IllegalValue {
                point,
                value: i64::from(w),
            })
        }
    };
    let in_pct_range = |point: &'static str, p: i16| {
        if (-10_000..=10_000).contains(&p) {
            Ok(p)
        } else {
            Err(RegisterError::IllegalValue {
                point,
                value: i64::from(p),
            })
        }
    };
    let mode = match words[1] {
        0 => WSetMode::MaxPercent,
        1 => WSetMode::Watts,
        v => {
            return Err(RegisterError::IllegalValue {
                point: "WSetMod",
                value: i64::from(v),
            });
        }
    };
    let revert_after_s = join32(words[9], words[10]);
    if revert_after_s == u32::MAX {
        return Err(RegisterError::IllegalValue {
            point: "WSetRvrtTms",
            value: i64::from(revert_after_s),
        });
    }
    Ok(Controls {
        enabled: flag("WSetEna", words[0])?,
        mode,
        w_set: in_power_range("WSet", join32(words[2], words[3]) as i32)?,
        w_set_revert: in_power_range("WSetRvrt", join32(words[4], words[5]) as i32)?,
        pct_set: in_pct_range("WSetPct", words[6] as i16)?,
        pct_set_revert: in_pct_range("WSetPctRvrt", words[7] as i16)?,
        enabled_revert: flag("WSetEnaRvrt", words[8])?,
        revert_after_s,
        revert_remaining: previous.revert_remaining,
    })
}

/// Writable register ranges, relative to the base: 704 `WSetEna..=WSetRvrtTms`, 802 `SoCRsvMin`.
const WSET_FIRST: u16 = M704_AT + m704::WSetEna;
const WSET_END: u16 = M704_AT + m704::WSetRvrtRem;
const RSV_MIN: u16 = M802_AT + m802::SoCRsvMin;

/// Reads `count` registers at `offset` (relative to the base) from an encoded map.
pub fn read(map: &[u16], offset: u16, count: u16) -> Result<&[u16], RegisterError> {
    let end = u32::from(offset) + u32::from(count);
    if count == 0 || count > MAX_READ {
        return Err(RegisterError::IllegalAddress {
            address: offset,
            count,
            reason: "a read asks for 1 to 125 registers",
        });
    }
    if end > map.len() as u32 {
        return Err(RegisterError::IllegalAddress {
            address: offset,
            count,
            reason: "beyond the end of the SunSpec map",
        });
    }
    Ok(&map[usize::from(offset)..end as usize])
}

/// Applies a write of `words` at `offset` (relative to the base). All or nothing: on error
/// nothing changes.
pub fn write(b: &mut SimBattery, offset: u16, words: &[u16]) -> Result<(), RegisterError> {
    let count = u16::try_from(words.len()).unwrap_or(u16::MAX);
    let end = u32::from(offset) + u32::from(count);
    let illegal = |reason| RegisterError::IllegalAddress {
        address: offset,
        count,
        reason,
    };
    if words.is_empty() {
        return Err(illegal("empty write"));
    }
    if offset >= WSET_FIRST && end <= u32::from(WSET_END) {
        let mut cw = control_words(b.controls());
        let at = usize::from(offset - WSET_FIRST);
        cw[at..at + words.len()].copy_from_slice(words);
        let next = decode_controls(&cw, b, b.controls())?;
        b.set_controls(next, true);
        return Ok(());
    }
    if offset == RSV_MIN && count == 1 {
        let pct = f64::from(words[0]) * 10f64.powi(i32::from(SF_SOC));
        let bad = RegisterError::IllegalValue {
            point: "SoCRsvMin",
            value: i64::from(words[0]),
        };
        let soc = Soc::from_percent(pct).map_err(|_| bad.clone())?;
        return b.set_reserve(soc).map_err(|_| bad);
    }
    if end > u32::from(MAP_LEN) {
        return Err(illegal("beyond the end of the SunSpec map"));
    }
    Err(illegal("read-only register"))
}

/// Seconds until the controls revert, as served in 704 `WSetRvrtRem` (rounded up).
#[must_use]
pub fn revert_remaining_s(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{FaultKind, Identity};
    use crate::physics::PhysicsParams;
    use vpp_domain::{BatterySpec, BatterySpecParams};

    fn battery() -> SimBattery {
        let spec = BatterySpec::new(BatterySpecParams::home_battery()).unwrap();
        let id = Identity {
            manufacturer: "vpp".into(),
            model: "sim".into(),
            version: "0.1.0".into(),
            serial: "SN-42".into(),
        };
        SimBattery::new(spec, PhysicsParams::default(), Soc::new(0.5).unwrap(), id)
    }

    fn map(b: &SimBattery) -> Vec<u16> {
        encode(DeviceView {
            battery: b,
            unit_id: 3,
        })
    }

    #[test]
    fn the_map_has_marker_models_and_end() {
        let m = map(&battery());
        assert_eq!(m.len(), usize::from(MAP_LEN));
        assert_eq!(&m[0..2], &[0x5375, 0x6e53]);
        for (at, id, len) in [
            (M1_AT, 1, m1::LEN),
            (M701_AT, 701, m701::LEN),
            (M702_AT, 702, m702::LEN),
            (M704_AT, 704, m704::LEN),
            (M802_AT, 802, m802::LEN),
        ] {
            assert_eq!(m[usize::from(at)], id);
            assert_eq!(m[usize::from(at) + 1], len - 2);
        }
        assert_eq!(&m[usize::from(END_AT)..], &[0xFFFF, 0]);
        assert_eq!(m[usize::from(M1_AT + m1::DA)], 3);
        assert_eq!(m[usize::from(M1_AT + m1::SN)], u16::from_be_bytes(*b"SN"));
    }

    #[test]
    fn values_carry_scale_factors_and_missing_ones_are_sentinels() {
        let mut b = battery();
        write(&mut b, WSET_FIRST, &[1, 1, 0, 2500]).unwrap();
        b.step(Duration::from_secs(5));
        let m = map(&b);
        let at = |model: u16, off: u16| m[usize::from(model + off)];
        assert_eq!(at(M701_AT, m701::W) as i16, 2500);
        assert_eq!(at(M701_AT, m701::W_SF) as i16, 0);
        assert_eq!(at(M802_AT, m802::WHRtg), 13500);
        assert_eq!(at(M802_AT, m802::SoC_SF) as i16, -2);
        let soc = f64::from(at(M802_AT, m802::SoC)) / 100.0;
        assert!(
            (soc - b.state().soc(b.spec()).percent()).abs() <= 0.005,
            "{soc}"
        );
        // Not implemented: int16 0x8000, uint16 0xFFFF.
        assert_eq!(at(M701_AT, m701::TmpAmb), 0x8000);
        assert_eq!(at(M701_AT, m701::LLV), 0xFFFF);
    }

    #[test]
    fn large_batteries_get_coarser_power_scale_factors() {
        let spec = BatterySpec::new(BatterySpecParams {
            capacity_kwh: 400.0,
            max_charge_kw: 200.0,
            max_discharge_kw: 200.0,
            ..BatterySpecParams::home_battery()
        })
        .unwrap();
        let sc = Scales::for_spec(&spec);
        assert_eq!(sc.w, 1);
        assert_eq!(sc.wh_rtg, 1);
        assert!(200_000.0 / 10f64.powi(i32::from(sc.w)) <= 32767.0);
    }

    #[test]
    fn out_of_range_setpoints_are_refused_and_change_nothing() {
        let mut b = battery();
        let before = *b.controls();
        // 6 kW discharge on a 5 kW battery.
        let err = write(&mut b, WSET_FIRST, &[1, 1, 0, 6000]).unwrap_err();
        assert_eq!(
            err,
            RegisterError::IllegalValue {
                point: "WSet",
                value: 6000
            }
        );
        assert_eq!(*b.controls(), before);
        // WSetEna = 2.
        assert!(matches!(
            write(&mut b, WSET_FIRST, &[2]),
            Err(RegisterError::IllegalValue {
                point: "WSetEna",
                ..
            })
        ));
        // WSetPct = 150 %.
        assert!(write(&mut b, M704_AT + m704::WSetPct, &[15_000]).is_err());
        assert_eq!(*b.controls(), before);
    }

    #[test]
    fn read_only_and_unmapped_registers_refuse_writes() {
        let mut b = battery();
        let before = *b.controls();
        for (at, n) in [
            (M701_AT + m701::W, 1),
            (0, 1),
            (MAP_LEN, 1),
            (M704_AT + m704::WSetRvrtRem, 2),
        ] {
            assert!(
                matches!(
                    write(&mut b, at, &vec![0; n]),
                    Err(RegisterError::IllegalAddress { .. })
                ),
                "write at {at}"
            );
        }
        // A write that starts in the writable block and runs into WSetRvrtRem is refused whole.
        let err = write(&mut b, M704_AT + m704::WSetRvrtTms, &[0, 60, 0]);
        assert!(matches!(err, Err(RegisterError::IllegalAddress { .. })));
        assert_eq!(*b.controls(), before);
    }

    #[test]
    fn reads_must_stay_inside_the_map() {
        let m = map(&battery());
        assert!(read(&m, 0, 125).is_ok());
        assert!(read(&m, MAP_LEN - 2, 2).is_ok());
        assert!(read(&m, MAP_LEN - 2, 3).is_err());
        assert!(read(&m, 0, 126).is_err());
        assert!(read(&m, 0, 0).is_err());
    }

    #[test]
    fn the_reserve_is_writable_within_the_soc_limits() {
        let mut b = battery();
        write(&mut b, RSV_MIN, &[2500]).unwrap();
        assert_eq!(b.spec().soc_reserve().get(), 0.25);
        // 2 % is below soc_min (5 %).
        assert!(write(&mut b, RSV_MIN, &[200]).is_err());
        assert_eq!(b.spec().soc_reserve().get(), 0.25);
    }

    #[test]
    fn the_revert_timer_is_served_and_rearmed_by_writes() {
        let mut b = battery();
        write(
            &mut b,
            WSET_FIRST,
            &[1, 1, 0xFFFF, 0xF830, 0, 0, 0, 0, 0, 0, 30],
        )
        .unwrap();
        assert_eq!(b.controls().w_set, -2000);
        b.step(Duration::from_millis(10_500));
        let m = map(&b);
        let rem = join32(
            m[usize::from(M704_AT + m704::WSetRvrtRem)],
            m[usize::from(M704_AT + m704::WSetRvrtRem + 1)],
        );
        assert_eq!(rem, 20);
        write(&mut b, WSET_FIRST, &[1]).unwrap();
        assert_eq!(b.controls().revert_remaining, Duration::from_secs(30));
    }

    fn meter(imported_kwh: f64, exported_kwh: f64, wh_sf: i16) -> Vec<u16> {
        encode_meter(MeterView {
            import_kw: -1.5,
            imported_kwh,
            exported_kwh,
            wh_sf,
            serial: "MTR-site1",
            unit_id: 240,
        })
    }

    #[test]
    fn meter_counters_round_trip_through_their_registers() {
        for (imported, exported, sf) in [(1_234.567_8, 0.5, 0), (9_876_543.21, 12.0, 2)] {
            let m = meter(imported, exported, sf);
            assert_eq!(m.len(), usize::from(meter::MAP_LEN));
            let at = |off: u16| m[usize::from(meter::M201_AT + off)];
            let scale = vpp_sunspec::scale(at(m201::TotWh_SF)).unwrap();
            let kwh = |off: u16| {
                vpp_sunspec::acc32(at(off), at(off + 1)).map(|v| f64::from(v) * scale / 1000.0)
            };
            // Completed units of 10^sf Wh: at most one unit below the true count.
            let unit_kwh = scale / 1000.0;
            for (off, want) in [
                (m201::TotWhImp, imported),
                (m201::TotWhImpPhA, imported),
                (m201::TotWhExp, exported),
                (m201::TotWhExpPhA, exported),
            ] {
                let got = kwh(off).unwrap();
                assert!(got <= want && want - got < unit_kwh, "{got} for {want}");
            }
            assert_eq!(
                vpp_sunspec::int16(at(m201::W), at(m201::W_SF)),
                Some(-1500.0)
            );
        }
        // Nothing counted yet serves SunSpec's "not accumulated".
        let m = meter(0.0, 0.0, 0);
        let at = |off: u16| m[usize::from(meter::M201_AT + off)];
        assert_eq!(
            vpp_sunspec::acc32(at(m201::TotWhImp), at(m201::TotWhImp + 1)),
            None
        );
    }

    #[test]
    fn meter_counters_last_ten_years_at_the_sites_rating() {
        assert_eq!(meter_wh_sf(10.0), 0, "a home counts whole Wh");
        for kw in [10.0, 500.0, 239.0 * 50.0] {
            let sf = meter_wh_sf(kw);
            let ten_years_wh = kw * 1000.0 * 24.0 * 365.25 * 10.0;
            assert!(ten_years_wh / 10f64.powi(i32::from(sf)) < f64::from(u32::MAX));
            assert!(sf == 0 || ten_years_wh / 10f64.powi(i32::from(sf - 1)) > f64::from(u32::MAX));
        }
    }

    #[test]
    fn a_reset_burst_serves_sentinels_but_keeps_identity() {
        let mut b = battery();
        b.set_fault(FaultKind::ResetBurst, Duration::from_secs(5));
        let m = map(&b);
        assert_eq!(m[usize::from(M701_AT + m701::W)], 0x8000);
        assert_eq!(m[usize::from(M802_AT + m802::SoC)], 0xFFFF);
        assert_eq!(m[usize::from(M701_AT)], 701);
        assert_eq!(m[usize::from(M1_AT + m1::SN)], u16::from_be_bytes(*b"SN"));
    }
}
