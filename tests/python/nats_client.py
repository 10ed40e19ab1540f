"""A non-Rust client of vpp's bus, written only from docs/wire.md: reads one telemetry message,
sends one setpoint and waits for its acknowledgement. Prints both as JSON.

usage: nats_client.py NATS_URL ASSET_PATH POWER_KW
"""
import asyncio
import datetime as dt
import json
import sys

import nats


async def main(url, asset, power_kw):
    region, _substation, _feeder, site, leaf = asset.split("/")
    nc = await nats.connect(url)
    telemetry = await nc.subscribe(f"vpp.v1.telemetry.{region}.{site}.{leaf}")
    acks = await nc.subscribe(f"vpp.v1.setpoint_ack.{site}.{leaf}")
    await nc.flush()

    first = await telemetry.next_msg(timeout=10)
    sample = json.loads(first.data)

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
    print(json.dumps({"subject": first.subject, "telemetry": sample, "ack": ack}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
