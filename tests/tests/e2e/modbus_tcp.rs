//! The simulated fleet over a real Modbus TCP socket on 127.0.0.1, driven by a generic
//! Modbus client (tokio-modbus): setpoints change the measured power within one simulation
//! step, revert after `WSetRvrtTms`, and bad requests get the proper exceptions.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use tokio_modbus::client::{Context, Reader, Writer, tcp};
use tokio_modbus::{ExceptionCode, Slave};
use vpp_battery_sim::fleet::{BaseChoice, ClockConfig, Fleet, FleetConfig, RunningFleet};
use vpp_battery_sim::sunspec::layout::{m701, m704, m802};
use vpp_battery_sim::sunspec::{M701_AT, M704_AT, M802_AT};
use vpp_battery_sim::{BaseAddress, FaultKind};

const STEP: Duration = Duration::from_secs(1);

/// A fleet with a paused clock: the test advances simulated time itself, one step at a time.
async fn paused_fleet(sites: usize, per_site: u8, base: BaseChoice) -> RunningFleet {
    let mut cfg = FleetConfig::new(
        sites,
        per_site,
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
    );
    cfg.base = base;
    let fleet = Arc::new(Fleet::build(&cfg).unwrap());
    let clock = ClockConfig {
        speed: 0.0,
        step: STEP,
    };
    RunningFleet::start(fleet, IpAddr::V4(Ipv4Addr::LOCALHOST), 0, clock)
        .await
        .unwrap()
}

async fn connect(addr: SocketAddr, unit: u8) -> Context {
    tcp::connect_slave(addr, Slave(unit)).await.unwrap()
}

async fn read_w(ctx: &mut Context, base: u16) -> i16 {
    let regs = ctx
        .read_holding_registers(base + M701_AT + m701::W, 1)
        .await
        .unwrap()
        .unwrap();
    regs[0] as i16
}

/// WSetEna, WSetMod, WSet (2), WSetRvrt (2), WSetPct, WSetPctRvrt, WSetEnaRvrt, WSetRvrtTms (2).
fn wset_words(watts: i32, revert_s: u32) -> Vec<u16> {
    let w = watts as u32;
    vec![
        1,
        1,
        (w >> 16) as u16,
        w as u16,
        0,
        0,
        0,
        0,
        0,
        (revert_s >> 16) as u16,
        revert_s as u16,
    ]
}

#[tokio::test]
async fn a_setpoint_moves_measured_power_within_one_step_and_reverts_after_its_timeout() {
    let running = paused_fleet(1, 2, BaseChoice::Fixed(BaseAddress::B40000)).await;
    let fleet = Arc::clone(running.fleet());
    let addr = running.endpoints()[0];
    let mut ctx = connect(addr, 2).await;
    let base = 40000;
    assert_eq!(read_w(&mut ctx, base).await, 0);

    // Scale factor of W for this device (0 for home batteries).
    let sf = ctx
        .read_holding_registers(base + M701_AT + m701::W_SF, 1)
        .await
        .unwrap()
        .unwrap()[0] as i16;
    assert_eq!(sf, 0);

    ctx.write_multiple_registers(base + M704_AT + m704::WSetEna, &wset_words(-2000, 10))
        .await
        .unwrap()
        .unwrap();
    // Registers changed at once, power only after the battery steps.
    assert_eq!(read_w(&mut ctx, base).await, 0);
    fleet.advance(STEP);
    assert_eq!(
        read_w(&mut ctx, base).await,
        -2000,
        "power follows within one step"
    );

    // No refresh: still held 9 s after the write, back to the default one step after 10 s.
    for _ in 0..8 {
        fleet.advance(STEP);
    }
    assert_eq!(read_w(&mut ctx, base).await, -2000);
    let rem = ctx
        .read_holding_registers(base + M704_AT + m704::WSetRvrtRem, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rem, vec![0, 1], "one second left on the revert timer");
    fleet.advance(STEP);
    fleet.advance(STEP);
    assert_eq!(
        read_w(&mut ctx, base).await,
        0,
        "power reverted after WSetRvrtTms"
    );
    let ena = ctx
        .read_holding_registers(base + M704_AT + m704::WSetEna, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ena, vec![0], "WSetEna reverted to WSetEnaRvrt");

    // The other battery of the site was never touched.
    let mut other = connect(addr, 1).await;
    assert_eq!(read_w(&mut other, base).await, 0);
}

#[tokio::test]
async fn single_register_writes_refresh_the_setpoint() {
    let running = paused_fleet(1, 1, BaseChoice::Fixed(BaseAddress::B0)).await;
    let fleet = Arc::clone(running.fleet());
    let mut ctx = connect(running.endpoints()[0], 1).await;
    ctx.write_multiple_registers(M704_AT + m704::WSetEna, &wset_words(1500, 5))
        .await
        .unwrap()
        .unwrap();
    for _ in 0..20 {
        fleet.advance(STEP);
        // Refresh by rewriting WSetEna alone.
        ctx.write_single_register(M704_AT + m704::WSetEna, 1)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(read_w(&mut ctx, 0).await, 1500);
}

#[tokio::test]
async fn bad_requests_get_modbus_exceptions_and_change_nothing() {
    let running = paused_fleet(1, 2, BaseChoice::Fixed(BaseAddress::B40000)).await;
    let fleet = Arc::clone(running.fleet());
    let addr = running.endpoints()[0];
    let mut ctx = connect(addr, 1).await;
    let base = 40000;
    let max_w = (fleet.sites()[0]
        .device(1)
        .unwrap()
        .lock()
        .spec()
        .max_discharge()
        .watts()) as i32;

    // Out of range: 1 W above the discharge rating.
    let r = ctx
        .write_multiple_registers(base + M704_AT + m704::WSetEna, &wset_words(max_w + 1, 0))
        .await
        .unwrap();
    assert_eq!(r, Err(ExceptionCode::IllegalDataValue));
    // Read-only: 701 W and 802 SoC.
    let r = ctx
        .write_single_register(base + M701_AT + m701::W, 5)
        .await
        .unwrap();
    assert_eq!(r, Err(ExceptionCode::IllegalDataAddress));
    let r = ctx
        .write_single_register(base + M802_AT + m802::SoC, 5)
        .await
        .unwrap();
    assert_eq!(r, Err(ExceptionCode::IllegalDataAddress));
    // Unmapped: below the base, past the end, and the other bases.
    for addr in [base - 1, base + 410, 0, 50000] {
        let r = ctx.read_holding_registers(addr, 2).await.unwrap();
        assert_eq!(r, Err(ExceptionCode::IllegalDataAddress), "read at {addr}");
    }
    let r = ctx.write_single_register(base + 5000, 1).await.unwrap();
    assert_eq!(r, Err(ExceptionCode::IllegalDataAddress));
    // Input registers are not served (SunSpec uses holding registers).
    let r = ctx.read_input_registers(base, 2).await.unwrap();
    assert_eq!(r, Err(ExceptionCode::IllegalFunction));

    // Nothing changed: the battery still idles after a step.
    fleet.advance(STEP);
    assert_eq!(read_w(&mut ctx, base).await, 0);
    assert!(
        !fleet.sites()[0]
            .device(1)
            .unwrap()
            .lock()
            .controls()
            .enabled
    );

    // A unit the site does not have: the gateway exception.
    let mut ghost = connect(addr, 9).await;
    let r = ghost.read_holding_registers(base, 2).await.unwrap();
    assert_eq!(r, Err(ExceptionCode::GatewayTargetDevice));

    // The connection survived all of this.
    let regs = ctx.read_holding_registers(base, 2).await.unwrap().unwrap();
    assert_eq!(regs, vec![0x5375, 0x6e53]);
}

#[tokio::test]
async fn an_offline_battery_does_not_answer_while_its_neighbour_does() {
    let running = paused_fleet(1, 2, BaseChoice::Fixed(BaseAddress::B40000)).await;
    let fleet = Arc::clone(running.fleet());
    let addr = running.endpoints()[0];
    fleet.sites()[0]
        .device(1)
        .unwrap()
        .lock()
        .set_fault(FaultKind::Offline, Duration::ZERO);
    let mut dead = connect(addr, 1).await;
    let r = tokio::time::timeout(
        Duration::from_millis(300),
        dead.read_holding_registers(40000, 2),
    )
    .await;
    assert!(r.is_err(), "an offline battery must not reply, got {r:?}");
    let mut alive = connect(addr, 2).await;
    let regs = alive
        .read_holding_registers(40000, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(regs, vec![0x5375, 0x6e53]);
}

#[tokio::test]
async fn a_stale_battery_keeps_serving_frozen_values() {
    let running = paused_fleet(1, 1, BaseChoice::Fixed(BaseAddress::B40000)).await;
    let fleet = Arc::clone(running.fleet());
    let mut ctx = connect(running.endpoints()[0], 1).await;
    ctx.write_multiple_registers(40000 + M704_AT + m704::WSetEna, &wset_words(2000, 0))
        .await
        .unwrap()
        .unwrap();
    fleet.advance(STEP);
    fleet.sites()[0]
        .device(1)
        .unwrap()
        .lock()
        .set_fault(FaultKind::Stale, Duration::ZERO);
    let before = ctx
        .read_holding_registers(40000 + M802_AT, 64)
        .await
        .unwrap()
        .unwrap();
    for _ in 0..600 {
        fleet.advance(STEP);
    }
    let after = ctx
        .read_holding_registers(40000 + M802_AT, 64)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        before, after,
        "stale device serves the same 802 block, heartbeat included"
    );
    let b = fleet.sites()[0].device(1).unwrap().lock();
    assert!(
        b.state().energy < b.reported_state().energy,
        "the battery moved on"
    );
}

#[tokio::test]
async fn the_clock_runs_in_accelerated_real_time() {
    let cfg = FleetConfig::new(1, 1, Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap());
    let fleet = Arc::new(Fleet::build(&cfg).unwrap());
    let t0 = fleet.now();
    let clock = ClockConfig {
        speed: 100.0,
        step: Duration::from_millis(100),
    };
    let running = RunningFleet::start(
        Arc::clone(&fleet),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        0,
        clock,
    )
    .await
    .unwrap();
    let mut ctx = connect(running.endpoints()[0], 1).await;
    ctx.write_multiple_registers(40000 + M704_AT + m704::WSetEna, &wset_words(1000, 0))
        .await
        .unwrap()
        .unwrap();
    // Wait (bounded) until the clock has stepped and the power is there.
    let mut w = 0;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        w = read_w(&mut ctx, 40000).await;
        if w == 1000 {
            break;
        }
    }
    assert_eq!(w, 1000);
    assert!(fleet.now() > t0, "simulated time advanced");
}

#[tokio::test]
async fn a_read_write_request_with_a_bad_read_half_writes_nothing() {
    let running = paused_fleet(1, 1, BaseChoice::Fixed(BaseAddress::B40000)).await;
    let fleet = Arc::clone(running.fleet());
    let mut ctx = connect(running.endpoints()[0], 1).await;
    let r = ctx
        .read_write_multiple_registers(
            40000 + 405,
            10,
            40000 + M704_AT + m704::WSetEna,
            &wset_words(1000, 0),
        )
        .await
        .unwrap();
    assert_eq!(r, Err(ExceptionCode::IllegalDataAddress));
    assert!(
        !fleet.sites()[0]
            .device(1)
            .unwrap()
            .lock()
            .controls()
            .enabled
    );
    // The same write with a good read half goes through and reads back the new WSetEna.
    let r = ctx
        .read_write_multiple_registers(
            40000 + M704_AT + m704::WSetEna,
            1,
            40000 + M704_AT + m704::WSetEna,
            &wset_words(1000, 0),
        )
        .await
        .unwrap();
    assert_eq!(r, Ok(vec![1]));
}
