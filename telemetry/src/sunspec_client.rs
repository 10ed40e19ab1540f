//! SunSpec over a Modbus TCP client: discovery of the base address and models, reading model
//! blocks, and pure decoding of what was read.
//!
//! Two layers of errors, as in tokio-modbus: a transport failure (the connection is unusable)
//! is kept apart from an exception the device reported (the connection is fine).

use std::time::Duration;

use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::{ExceptionCode, Slave};
use vpp_sunspec::layout::{m1, m201, m701, m702, m704, m802};
use vpp_sunspec::{self as ss, BaseAddress, END_MODEL_ID, MARKER};

use crate::wire::DeviceDescription;

/// Most registers per read request.
const MAX_READ: u16 = 125;
/// Most models walked before giving up (a corrupt map could loop).
const MAX_MODELS: usize = 64;

/// Why talking to a device failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The connection failed; it must be re-established.
    #[error("modbus transport failed: {0}")]
    Transport(String),
    /// No answer in time (an offline device, or a slow one).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The device answered with an exception.
    #[error("device answered exception {code:?} at register {address}")]
    Exception {
        /// Register address of the request.
        address: u16,
        /// The exception.
        code: ExceptionCode,
    },
    /// No SunSpec marker at 40000, 0 or 50000.
    #[error("no SunSpec map at 40000, 0 or 50000")]
    NotSunSpec,
    /// A model the gateway needs is missing or has an unexpected length.
    #[error("model {model} {problem}")]
    Model {
        /// The model id.
        model: u16,
        /// What is wrong.
        problem: &'static str,
    },
    /// The answer had the wrong number of registers.
    #[error("answer to a read of {asked} registers at {address} had {got}")]
    ShortRead {
        /// Register address.
        address: u16,
        /// Registers asked for.
        asked: u16,
        /// Registers received.
        got: usize,
    },
}

impl ClientError {
    /// Whether the connection must be dropped and re-established.
    #[must_use]
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport(_))
    }
}

/// Where the models of one device start (absolute register addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelMap {
    /// Base address found by discovery.
    pub base: BaseAddress,
    /// Model 1.
    pub m1: u16,
    /// Model 701.
    pub m701: u16,
    /// Model 702.
    pub m702: u16,
    /// Model 704.
    pub m704: u16,
    /// Model 802.
    pub m802: u16,
}

/// A Modbus TCP connection with a per-request timeout.
pub struct Connection {
    ctx: Context,
    timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `addr`.
    pub async fn connect(
        addr: std::net::SocketAddr,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let ctx = tokio::time::timeout(timeout, tokio_modbus::client::tcp::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self { ctx, timeout })
    }

    /// Reads `count` registers at `address` of `unit`, in requests of at most 125.
    pub async fn read(
        &mut self,
        unit: u8,
        address: u16,
        count: u16,
    ) -> Result<Vec<u16>, ClientError> {
        self.ctx.set_slave(Slave(unit));
        let mut out = Vec::with_capacity(usize::from(count));
        let mut at = address;
        let end = u32::from(address) + u32::from(count);
        while u32::from(at) < end {
            let n = (end - u32::from(at)).min(u32::from(MAX_READ)) as u16;
            let regs = tokio::time::timeout(self.timeout, self.ctx.read_holding_registers(at, n))
                .await
                .map_err(|_| ClientError::Timeout(self.timeout))?
                .map_err(|e| ClientError::Transport(e.to_string()))?
                .map_err(|code| ClientError::Exception { address: at, code })?;
            if regs.len() != usize::from(n) {
                return Err(ClientError::ShortRead {
                    address: at,
                    asked: n,
                    got: regs.len(),
                });
            }
            out.extend_from_slice(&regs);
            at = at.wrapping_add(n);
        }
        Ok(out)
    }

    /// Writes `words` at `address` of `unit`.
    pub async fn write(
        &mut self,
        unit: u8,
        address: u16,
        words: &[u16],
    ) -> Result<(), ClientError> {
        self.ctx.set_slave(Slave(unit));
        tokio::time::timeout(
            self.timeout,
            self.ctx.write_multiple_registers(address, words),
        )
        .await
        .map_err(|_| ClientError::Timeout(self.timeout))?
        .map_err(|e| ClientError::Transport(e.to_string()))?
        .map_err(|code| ClientError::Exception { address, code })
    }

    /// Finds the meter model 201 of `unit` (a site meter) and returns its address.
    pub async fn discover_meter(&mut self, unit: u8) -> Result<u16, ClientError> {
        for base in BaseAddress::ALL {
            // An exception, a silence or garbage: try the next base. A broken connection is
            // no answer about the meter.
            match self.read(unit, base.address(), 2).await {
                Ok(regs) if regs == MARKER => {}
                Err(e) if e.is_transport() => return Err(e),
                _ => continue,
            }
            let mut at = base.address().wrapping_add(2);
            for _ in 0..MAX_MODELS {
                let hdr = self.read(unit, at, 2).await?;
                match (hdr[0], hdr[1]) {
                    (END_MODEL_ID, _) => break,
                    (201, len) if len + 2 == m201::LEN => return Ok(at),
                    (id, len) => {
                        at = at.checked_add(len + 2).ok_or(ClientError::Model {
                            model: id,
                            problem: "runs past the end of the register space",
                        })?;
                    }
                }
            }
        }
        Err(ClientError::Model {
            model: 201,
            problem: "is missing: no site meter at this unit",
        })
    }

    /// Reads a site meter's grid import and energy counters from its model 201 at `at`.
    pub async fn read_meter(&mut self, unit: u8, at: u16) -> Result<MeterValues, ClientError> {
        let b = self.read(unit, at, m201::LEN).await?;
        Ok(decode_meter(&b))
    }

    /// Finds the SunSpec map of `unit`: tries 40000, 0 and 50000 for the marker, then walks the
    /// model chain to the end marker.
    pub async fn discover(&mut self, unit: u8) -> Result<ModelMap, ClientError> {
        let mut found = None;
        let mut exception = None;
        for base in BaseAddress::ALL {
            match self.read(unit, base.address(), 2).await {
                Ok(regs) if regs == MARKER => {
                    found = Some(base);
                    break;
                }
                // Another base, an exception, or garbage: try the next base.
                Err(e @ ClientError::Exception { .. }) => exception = Some(e),
                Ok(_) | Err(ClientError::ShortRead { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        // A device that answered nothing but exceptions says more than "not SunSpec".
        let base = found.ok_or_else(|| exception.unwrap_or(ClientError::NotSunSpec))?;
        let mut at = base.address().wrapping_add(2);
        let mut models = Vec::new();
        for _ in 0..MAX_MODELS {
            let hdr = self.read(unit, at, 2).await?;
            let (id, len) = (hdr[0], hdr[1]);
            if id == END_MODEL_ID {
                break;
            }
            models.push((id, at, len + 2));
            at = at.checked_add(len + 2).ok_or(ClientError::Model {
                model: id,
                problem: "runs past the end of the register space",
            })?;
        }
        let find = |model: u16, want: u16| match models.iter().find(|m| m.0 == model) {
            Some(&(_, at, len)) if len == want => Ok(at),
            Some(_) => Err(ClientError::Model {
                model,
                problem: "has an unexpected length",
            }),
            None => Err(ClientError::Model {
                model,
                problem: "is missing",
            }),
        };
        Ok(ModelMap {
            base,
            m1: find(1, m1::LEN)?,
            m701: find(701, m701::LEN)?,
            m702: find(702, m702::LEN)?,
            m704: find(704, m704::LEN)?,
            m802: find(802, m802::LEN)?,
        })
    }
}

fn at(block: &[u16], off: u16) -> u16 {
    block.get(usize::from(off)).copied().unwrap_or(0xFFFF)
}

fn slice(block: &[u16], off: u16, len: u16) -> &[u16] {
    let s = usize::from(off);
    block.get(s..s + usize::from(len)).unwrap_or(&[])
}

fn pct(v: Option<f64>) -> Option<f64> {
    v.filter(|p| (0.0..=100.0).contains(p)).map(|p| p / 100.0)
}

/// Describes a device from its model 1, 702 and 802 blocks (pure).
#[must_use]
pub fn describe(
    endpoint: String,
    unit_id: u8,
    map: &ModelMap,
    b1: &[u16],
    b702: &[u16],
    b802: &[u16],
) -> DeviceDescription {
    let w_sf = at(b702, m702::W_SF);
    let kw = |v: Option<f64>| v.filter(|w| w.is_finite() && *w > 0.0).map(|w| w / 1000.0);
    let soc_sf = at(b802, m802::SoC_SF);
    let wcd_sf = at(b802, m802::WChaDisChaMax_SF);
    DeviceDescription {
        endpoint,
        unit_id,
        base_address: map.base.address(),
        manufacturer: ss::string(slice(b1, m1::Mn, 16)),
        model: ss::string(slice(b1, m1::Md, 16)),
        version: ss::string(slice(b1, m1::Vr, 8)),
        serial: ss::string(slice(b1, m1::SN, 16)),
        capacity_kwh: kw(ss::uint16(at(b802, m802::WHRtg), at(b802, m802::WHRtg_SF))),
        max_charge_kw: kw(ss::uint16(at(b702, m702::WChaRteMaxRtg), w_sf))
            .or_else(|| kw(ss::uint16(at(b802, m802::WChaRteMax), wcd_sf))),
        max_discharge_kw: kw(ss::uint16(at(b702, m702::WDisChaRteMaxRtg), w_sf))
            .or_else(|| kw(ss::uint16(at(b802, m802::WDisChaRteMax), wcd_sf))),
        soc_min: pct(ss::uint16(at(b802, m802::SoCMin), soc_sf)),
        soc_max: pct(ss::uint16(at(b802, m802::SoCMax), soc_sf)),
        soc_reserve: pct(ss::uint16(at(b802, m802::SoCRsvMin), soc_sf)),
    }
}

/// The dynamic values of one poll (pure decode of the 701 and 802 blocks). `None` is a value
/// the device did not serve (a sentinel), never a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollValues {
    /// 701 `W`, kW.
    pub power_kw: Option<f64>,
    /// 802 `SoC`, 0..=1.
    pub soc: Option<f64>,
    /// 701 `TotWhInj`, kWh.
    pub injected_kwh: Option<f64>,
    /// 701 `TotWhAbs`, kWh.
    pub absorbed_kwh: Option<f64>,
    /// 802 `Hb`.
    pub heartbeat: Option<u16>,
}

fn words4(block: &[u16], off: u16) -> [u16; 4] {
    [
        at(block, off),
        at(block, off + 1),
        at(block, off + 2),
        at(block, off + 3),
    ]
}

/// Whether a model block (header included) is a reset burst: every payload register reads
/// 0xFFFF. Such a block carries no values at all, even where 0xFFFF would decode as a number
/// (an `int16` of -1, a scale factor of -1).
#[must_use]
pub fn is_burst(block: &[u16]) -> bool {
    block.len() > 2 && block[2..].iter().all(|w| *w == 0xFFFF)
}

/// Decodes a poll from the 701 and 802 blocks (each with its header). A reset-burst block
/// decodes to missing values.
#[must_use]
pub fn decode_poll(b701: &[u16], b802: &[u16]) -> PollValues {
    let usable = |b: &[u16], len: u16| b.len() >= usize::from(len) && !is_burst(b);
    let (ok701, ok802) = (usable(b701, m701::LEN), usable(b802, m802::LEN));
    let wh_sf = ss::scale(at(b701, m701::TotWh_SF));
    let kwh = |w: [u16; 4]| Some(ss::uint64(w)? as f64 * wh_sf? / 1000.0);
    PollValues {
        power_kw: ok701
            .then(|| ss::int16(at(b701, m701::W), at(b701, m701::W_SF)))
            .flatten()
            .map(|w| w / 1000.0),
        soc: ok802
            .then(|| pct(ss::uint16(at(b802, m802::SoC), at(b802, m802::SoC_SF))))
            .flatten(),
        injected_kwh: ok701.then(|| kwh(words4(b701, m701::TotWhInj))).flatten(),
        absorbed_kwh: ok701.then(|| kwh(words4(b701, m701::TotWhAbs))).flatten(),
        heartbeat: ok802.then(|| ss::enum16(at(b802, m802::Hb))).flatten(),
    }
}

/// One reading of a site meter (pure decode of its model 201 block). `None` is a value the
/// meter did not serve (a sentinel, a reset burst), never a number.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeterValues {
    /// 201 `W`: the site's grid import, kW (`> 0` imports).
    pub import_kw: Option<f64>,
    /// 201 `TotWhImp`: lifetime energy imported from the grid, kWh.
    pub imported_kwh: Option<f64>,
    /// 201 `TotWhExp`: lifetime energy exported to the grid, kWh.
    pub exported_kwh: Option<f64>,
}

/// Decodes a site meter's model 201 block (with its header). A reset-burst block decodes to
/// missing values; a counter at 0 is "not accumulated" ([`vpp_sunspec::acc32`]).
#[must_use]
pub fn decode_meter(b201: &[u16]) -> MeterValues {
    if b201.len() < usize::from(m201::LEN) || is_burst(b201) {
        return MeterValues::default();
    }
    let wh_sf = ss::scale(at(b201, m201::TotWh_SF));
    let kwh = |off: u16| {
        let count = ss::acc32(at(b201, off), at(b201, off + 1))?;
        Some(f64::from(count) * wh_sf? / 1000.0)
    };
    MeterValues {
        import_kw: ss::int16(at(b201, m201::W), at(b201, m201::W_SF)).map(|w| w / 1000.0),
        imported_kwh: kwh(m201::TotWhImp),
        exported_kwh: kwh(m201::TotWhExp),
    }
}

/// Registers 704 `WSetEna ..= WSetRvrtTms` that command `watts` (`> 0` discharging) with a
/// revert timeout of `revert_s` seconds, reverting to disabled at 0 W (pure).
#[must_use]
pub fn setpoint_words(watts: i32, revert_s: u32) -> [u16; 11] {
    let w = watts as u32;
    [
        1,                // WSetEna: enabled
        1,                // WSetMod: watts
        (w >> 16) as u16, // WSet
        w as u16,
        0, // WSetRvrt: 0 W
        0,
        0,                       // WSetPct
        0,                       // WSetPctRvrt
        0,                       // WSetEnaRvrt: disabled
        (revert_s >> 16) as u16, // WSetRvrtTms
        revert_s as u16,
    ]
}

/// Address of `WSetEna` in a device's map.
#[must_use]
pub fn wset_address(map: &ModelMap) -> u16 {
    map.m704 + m704::WSetEna
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_bursts_decode_to_missing_values() {
        let b701 = vec![0xFFFF; usize::from(m701::LEN)];
        let mut b802 = vec![0xFFFF; usize::from(m802::LEN)];
        b802[usize::from(m802::SoC_SF)] = 0x8000;
        let p = decode_poll(&b701, &b802);
        assert_eq!(p.power_kw, None);
        assert_eq!(p.soc, None);
        assert_eq!(p.injected_kwh, None);
        assert_eq!(p.heartbeat, None);
    }

    #[test]
    fn garbage_soc_is_not_a_value() {
        let b701 = vec![0xFFFF; usize::from(m701::LEN)];
        let mut b802 = vec![0xFFFF; usize::from(m802::LEN)];
        b802[usize::from(m802::SoC)] = 12_000; // 120 %
        b802[usize::from(m802::SoC_SF)] = (-2i16) as u16;
        assert_eq!(decode_poll(&b701, &b802).soc, None);
        b802[usize::from(m802::SoC)] = 5_000;
        assert_eq!(decode_poll(&b701, &b802).soc, Some(0.5));
    }

    #[test]
    fn proper_sentinels_decode_to_missing_values() {
        let mut b701 = vec![0xFFFF; usize::from(m701::LEN)];
        b701[usize::from(m701::W)] = 0x8000;
        b701[usize::from(m701::W_SF)] = 0;
        b701[usize::from(m701::TotWh_SF)] = 0;
        let p = decode_poll(&b701, &[]);
        assert_eq!(p.power_kw, None);
        assert_eq!(p.injected_kwh, None);
        assert_eq!(p.soc, None, "no 802 block at all");
        b701[usize::from(m701::W)] = (-1500i16) as u16;
        assert_eq!(decode_poll(&b701, &[]).power_kw, Some(-1.5));
    }

    #[test]
    fn short_blocks_read_as_missing_not_as_a_panic() {
        let p = decode_poll(&[], &[1, 2, 3]);
        assert_eq!(p.power_kw, None);
    }

    fn meter_block() -> Vec<u16> {
        let mut b = vec![0xFFFF; usize::from(m201::LEN)];
        b[0] = 201;
        b[1] = m201::LEN - 2;
        b
    }

    #[test]
    fn meter_blocks_decode_import_and_counters() {
        let mut b = meter_block();
        b[usize::from(m201::W)] = (-1234i16) as u16;
        b[usize::from(m201::W_SF)] = 1;
        b[usize::from(m201::TotWhImp)..usize::from(m201::TotWhImp) + 2]
            .copy_from_slice(&[0x0001, 0x0002]);
        b[usize::from(m201::TotWhExp)..usize::from(m201::TotWhExp) + 2].copy_from_slice(&[0, 0]);
        b[usize::from(m201::TotWh_SF)] = (-1i16) as u16;
        let v = decode_meter(&b);
        assert_eq!(v.import_kw, Some(-12.34));
        assert!((v.imported_kwh.unwrap() - 6.5538).abs() < 1e-12);
        assert_eq!(v.exported_kwh, None, "0 is not accumulated");
        // Without a scale factor, the counters are no numbers.
        b[usize::from(m201::TotWh_SF)] = 0x8000;
        assert_eq!(decode_meter(&b).imported_kwh, None);
        assert_eq!(decode_meter(&b).import_kw, Some(-12.34));
    }

    #[test]
    fn meter_reset_bursts_and_short_blocks_decode_to_missing_values() {
        assert_eq!(decode_meter(&meter_block()), MeterValues::default());
        assert_eq!(decode_meter(&[201, 105, 0]), MeterValues::default());
        let mut b = meter_block();
        b[usize::from(m201::W)] = 0x8000;
        b[usize::from(m201::W_SF)] = 0;
        assert_eq!(decode_meter(&b).import_kw, None);
    }

    #[test]
    fn setpoint_words_encode_negative_watts() {
        let w = setpoint_words(-2000, 300);
        assert_eq!(&w[..4], &[1, 1, 0xFFFF, 0xF830]);
        assert_eq!(&w[9..], &[0, 300]);
    }
}
