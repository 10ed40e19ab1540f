"""Scan one SunSpec device with the SunSpec Alliance reference client (pysunspec2) and print
what it decoded as JSON. Used by vpp's end-to-end conformance test; it knows nothing of vpp.

usage: sunspec_scan.py HOST PORT UNIT [--write-watts W --revert-s S]
"""
import argparse
import json
import time

import sunspec2.modbus.client as client


def decoded(model):
    return {name: point.cvalue for name, point in model.points.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("unit", type=int)
    ap.add_argument("--write-watts", type=int)
    ap.add_argument("--revert-s", type=int, default=0)
    args = ap.parse_args()

    dev = client.SunSpecModbusClientDeviceTCP(
        slave_id=args.unit, ipaddr=args.host, ipport=args.port, timeout=5
    )
    dev.scan()
    out = {
        "base_addr": dev.base_addr,
        "model_ids": [k for k in dev.models if isinstance(k, int)],
        "models": {str(mid): decoded(dev.models[mid][0]) for mid in (1, 701, 702, 704, 802)},
    }
    if args.write_watts is not None:
        ctl = dev.models[704][0]
        ctl.WSetMod.value = 1
        ctl.WSet.value = args.write_watts
        ctl.WSetRvrtTms.value = args.revert_s
        ctl.WSetEna.value = 1
        ctl.write()
        meas = dev.models[701][0]
        deadline = time.monotonic() + 10
        while True:
            meas.read()
            if meas.W.cvalue == args.write_watts or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        dev.models[802][0].read()
        ctl.read()
        out["after_write"] = {
            "701": decoded(meas),
            "704": decoded(ctl),
            "802": decoded(dev.models[802][0]),
        }
    dev.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
