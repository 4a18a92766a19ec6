"""``sitless sensors``: the supported sensor families and what each one needs."""

from __future__ import annotations

import argparse
import json

DESCRIPTION = """\
Every sensor family sitless can stream from, with the BLE service that identifies it, the rates it
offers, and anything it needs before it works (a firmware app, a profile in the configuration).
Set one with `family = "..."` in the [sensor] table or `sitless record --family ...`; without it,
sitless recognises the family from the sensor's advertisement.
"""

EPILOG = """\
examples:
  sitless sensors            the table
  sitless sensors --json     for scripts: family, model, service UUID, rates, notes
"""

#: What a user must know before buying or setting up each family (decoder docstrings say the protocol).
NOTES = {
    "polar_h10": "The chest-strap module clips onto a thigh strap; streams 25-200 Hz without pairing. "
    "Close Polar Beat/Flow first: one connection at a time.",
    "polar_verity": "Arm band worn on the thigh; 52 Hz accelerometer. Close Polar Flow first.",
    "movesense": "Needs the Movesense firmware with the GATT SensorData Protocol app "
    "(gatt_sensordata_app); the stock firmware does not stream over plain GATT.",
    "witmotion": "Streams as soon as it is connected; the rate command (unlock, then FF AA 03) is not "
    "verified on every firmware.",
    "microbit": "Needs a hex with the Bluetooth accelerometer service (MakeCode: Bluetooth extension, "
    "'No pairing required').",
    "metamotion": "MetaWear firmware; the board says which accelerometer it has (MetaMotionS: BMI270, "
    'RL/R/C: BMI160); option chip = "bmi160" or "bmi270" only overrides that.',
    "thingy52": "Stock Nordic Thingy:52 firmware (2.1.0 or newer for a correct battery level); 5-200 Hz, "
    "+-2 g; the first 10 s after each connect are dropped while its motion processing settles.",
    "generic": "An ESP32/nRF board of your own: describe it in the [sensor.generic] table (service and "
    "characteristic UUID, struct format, scale in g per LSB, rate).",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sensors",
        help="list the supported sensor families and what each needs",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def describe_families() -> list[dict]:
    from sitless.firmware_bridge.decoders.registry import FAMILIES

    families = []
    for family, cls in FAMILIES.items():
        rates = [float(r) for r in getattr(cls, "supported_rates_hz", ()) or ()]
        families.append(
            {
                "family": family,
                "model": cls.display_name,
                "service_uuid": cls.service_uuid or None,
                "notify_uuids": list(cls.notify_uuids),
                "name_prefixes": list(getattr(cls, "name_prefixes", ()) or ()),
                "rates_hz": rates,
                "notes": NOTES.get(family, (cls.__doc__ or "").strip().split("\n")[0]),
            }
        )
    return families


def _rates(rates: list[float]) -> str:
    if not rates:
        return "any"
    ordered = sorted(set(rates))  # a family may list its rates by period (the micro:bit: 1 ms ... 640 ms)
    text = [f"{r:g}" for r in ordered]
    return ", ".join(text) + " Hz" if len(text) <= 4 else f"{text[0]}-{text[-1]} Hz ({len(text)} rates)"


def run(args: argparse.Namespace) -> int:
    families = describe_families()
    if args.json:
        print(json.dumps(families, indent=2))
        return 0
    for item in families:
        print(f"{item['family']}: {item['model']}")
        service = item["service_uuid"] or "from your [sensor.generic] profile"
        print(f"  service   {service}")
        if item["name_prefixes"]:
            print(f"  names     {', '.join(item['name_prefixes'])}...")
        print(f"  rates     {_rates(item['rates_hz'])}")
        print(f"  needs     {item['notes']}")
        print()
    print('Set one with family = "..." in the [sensor] table, or let `sitless scan` recognise it.')
    return 0
