"""A non-Rust client of vpp's bus, written only from docs/wire.md: reads one telemetry message
of the battery and one of its site's meter (and checks the meter's fields), sends one setpoint
and waits for its acknowledgement. Prints what it read as JSON.

usage: nats_client.py NATS_URL ASSET_PATH POWER_KW
"""
import asyncio
import datetime as dt
import json
import math
import sys

import nats


def expect(ok, what):
    """Fails loudly (also under `python -O`, which drops asserts)."""
    if not ok:
        raise ValueError(f"unexpected message: {what}")


def check_site_meter(msg, site_path):
    """Checks a site meter's telemetry against docs/wire.md; raises on the first mismatch."""
    site_token = site_path.split("/")[-1]
    expect(msg["v"] == 1, msg)
    expect(msg["kind"] == "site_meter", msg)
    expect(msg["asset"] == f"{site_path}/{site_token}-meter", msg)
    expect(isinstance(msg["seq"], int) and msg["seq"] > 0, msg)
    measured = dt.datetime.fromisoformat(msg["measured_at"].replace("Z", "+00:00"))
    received = dt.datetime.fromisoformat(msg["received_at"].replace("Z", "+00:00"))
    expect(received >= measured, msg)
    expect(msg["stale"] is False, msg)
    readings = msg["readings"]
    # A meter has no state of charge; its power is the site's import (> 0 imports).
    expect(readings["soc"] is None, msg)
    power = readings["power"]
    expect(power is None or (isinstance(power, (int, float)) and math.isfinite(power)), msg)
    # Lifetime counters: imported (energy_absorbed) and exported (energy_injected), kWh.
    for key in ("energy_absorbed", "energy_injected"):
        value = readings[key]
        expect(value is None or (isinstance(value, (int, float)) and value >= 0), msg)


async def main(url, asset, power_kw):
    region, substation, feeder, site, leaf = asset.split("/")
    site_path = "/".join([region, substation, feeder, site])
    meter_leaf = f"{site}-meter"
    nc = await nats.connect(url)
    telemetry = await nc.subscribe(f"vpp.v1.telemetry.{region}.{site}.{leaf}")
    meters = await nc.subscribe(f"vpp.v1.telemetry.{region}.{site}.{meter_leaf}")
    acks = await nc.subscribe(f"vpp.v1.setpoint_ack.{site}.{leaf}")
    await nc.flush()

    first = await telemetry.next_msg(timeout=10)
    sample = json.loads(first.data)
    # A receiver that cares about batteries only checks `kind`: absent means a battery.
    expect(sample.get("kind", "battery") == "battery", sample)

    meter_msg = await meters.next_msg(timeout=10)
    meter = json.loads(meter_msg.data)
    check_site_meter(meter, site_path)

    now = dt.datetime.now(dt.timezone.utc)
    setpoint = {
        "v": 1,
        "asset": asset,
        "power_kw": power_kw,
        "issued_at": now.isoformat(),
        "valid_until": (now + dt.timedelta(seconds=120)).isoformat(),
        "correlation_id": "from-python-1",
    }
    await nc.publish(f"vpp.v1.setpoint.{site}.{leaf}", json.dumps(setpoint).encode())
    while True:
        msg = await acks.next_msg(timeout=10)
        ack = json.loads(msg.data)
        if ack.get("correlation_id") == "from-python-1":
            break
    await nc.drain()
    print(
        json.dumps(
            {
                "subject": first.subject,
                "telemetry": sample,
                "meter_subject": meter_msg.subject,
                "meter": meter,
                "ack": ack,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
