//! Modbus TCP adapter: serves the SunSpec maps of one site's batteries on one listener.
//!
//! A site is one TCP endpoint (like the Modbus TCP gateway or hybrid inverter of a real site);
//! its batteries are told apart by unit id. Requests for a unit the site does not have get
//! exception 0x0B (gateway target device failed to respond), as a real gateway answers; an
//! offline battery gets no answer at all, so the client times out. Unit 240 is the site meter
//! (SunSpec model 201, read-only: grid import and lifetime energy counters both ways).

use std::future::{Ready, ready};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use crate::fleet::Site;
use crate::sunspec::{self, DeviceView, RegisterError};

impl From<RegisterError> for ExceptionCode {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::IllegalAddress { .. } => ExceptionCode::IllegalDataAddress,
            RegisterError::IllegalValue { .. } => ExceptionCode::IllegalDataValue,
        }
    }
}

/// Handles one request for unit `unit` of `site`. `Ok(None)` means "send no reply".
pub fn handle(
    site: &Site,
    unit: u8,
    request: Request<'_>,
) -> Result<Option<Response>, ExceptionCode> {
    if unit == crate::fleet::METER_UNIT {
        return handle_meter(site, unit, request);
    }
    let Some(device) = site.device(unit) else {
        return Err(ExceptionCode::GatewayTargetDevice);
    };
    let base = device.base_address().address();
    let offset = |addr: u16| {
        addr.checked_sub(base)
            .ok_or(ExceptionCode::IllegalDataAddress)
    };
    let mut battery = device.lock();
    if !battery.is_online() {
        return Ok(None);
    }
    let view = |b| DeviceView {
        battery: b,
        unit_id: unit,
    };
    let response = match request {
        Request::ReadHoldingRegisters(addr, count) => {
            let map = sunspec::encode(view(&battery));
            let regs = sunspec::read(&map, offset(addr)?, count)?;
            Response::ReadHoldingRegisters(regs.to_vec())
        }
        Request::WriteSingleRegister(addr, value) => {
            sunspec::write(&mut battery, offset(addr)?, &[value])?;
            Response::WriteSingleRegister(addr, value)
        }
        Request::WriteMultipleRegisters(addr, words) => {
            sunspec::write(&mut battery, offset(addr)?, &words)?;
            Response::WriteMultipleRegisters(addr, words.len() as u16)
        }
        Request::ReadWriteMultipleRegisters(read_addr, count, write_addr, words) => {
            let read_at = offset(read_addr)?;
            // Check the read half before writing: a refused request changes nothing.
            let end = u32::from(read_at) + u32::from(count);
            if count == 0 || count > sunspec::MAX_READ || end > u32::from(sunspec::MAP_LEN) {
                return Err(ExceptionCode::IllegalDataAddress);
            }
            sunspec::write(&mut battery, offset(write_addr)?, &words)?;
            let map = sunspec::encode(view(&battery));
            Response::ReadWriteMultipleRegisters(sunspec::read(&map, read_at, count)?.to_vec())
        }
        _ => return Err(ExceptionCode::IllegalFunction),
    };
    Ok(Some(response))
}

/// The site meter: read-only SunSpec map at base 40000.
fn handle_meter(
    site: &Site,
    unit: u8,
    request: Request<'_>,
) -> Result<Option<Response>, ExceptionCode> {
    let base = crate::sunspec::BaseAddress::B40000.address();
    match request {
        Request::ReadHoldingRegisters(addr, count) => {
            let offset = addr
                .checked_sub(base)
                .ok_or(ExceptionCode::IllegalDataAddress)?;
            let serial = format!("MTR-{}", site.name().rsplit('/').next().unwrap_or_default());
            let energy = site.meter_energy();
            let map = sunspec::encode_meter(sunspec::MeterView {
                import_kw: site.import().get(),
                imported_kwh: energy.imported.get(),
                exported_kwh: energy.exported.get(),
                wh_sf: site.meter_wh_sf(),
                serial: &serial,
                unit_id: unit,
            });
            let regs = sunspec::read(&map, offset, count)?;
            Ok(Some(Response::ReadHoldingRegisters(regs.to_vec())))
        }
        Request::WriteSingleRegister(..) | Request::WriteMultipleRegisters(..) => {
            Err(ExceptionCode::IllegalDataAddress)
        }
        _ => Err(ExceptionCode::IllegalFunction),
    }
}

#[derive(Debug, Clone)]
struct SiteService {
    site: Arc<Site>,
}

impl tokio_modbus::server::Service for SiteService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Ready<Result<Option<Response>, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        ready(handle(&self.site, req.slave, req.request))
    }
}

/// Binds `addr` and serves `site` on it until the returned task is aborted.
pub async fn serve_site(
    site: Arc<Site>,
    addr: SocketAddr,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let server = Server::new(listener);
    let task = tokio::spawn(async move {
        let on_connected = |stream: TcpStream, peer: SocketAddr| {
            let service = SiteService {
                site: Arc::clone(&site),
            };
            async move {
                stream.set_nodelay(true)?;
                accept_tcp_connection(stream, peer, |_| Ok(Some(service.clone())))
            }
        };
        let on_error = move |err: io::Error| tracing::debug!(%local, %err, "modbus connection closed with an error");
        if let Err(err) = server.serve(&on_connected, on_error).await {
            tracing::warn!(%local, %err, "modbus listener stopped");
        }
    });
    Ok((local, task))
}
