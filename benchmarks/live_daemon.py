"""The live path: CPU seconds per hour of 50 Hz data for the whole daemon, and where they go (issue 12).

1. **Recorded BLE packets through the real daemon.** One hour of simulated thigh data at 50 Hz is
   encoded once as the notifications a do-it-yourself board sends (the generic decoder's ``<hhh``
   int16 records, 20 samples per packet, 1/4096 g per LSB) with their arrival times. A source hands
   them to the real generic decoder and the real pipeline built by ``sitless.daemon.build_pipeline``
   as ``sitless run`` builds it (``live=True``: the live clock and its timer task; classifier, SQLite
   store, alert policy, MQTT publisher against a private Mosquitto), as fast as it takes them. CPU is
   the whole process's (``time.process_time``: every thread).
2. **Its parts on the same packets**, each alone: the decoder, the classifier fed 20-sample packets
   (its per-second labeller, analysis/labeller.py, and its per-second sums, analysis/features.py, each
   shown on its own line), the store's writes as the pipeline makes them (``PostureBatch``: the
   postures and the policy's state every ``SAVE_EVERY_S`` data seconds), and the policy.
   Then the daemon once more with decoding and classifying done beforehand: what the pipeline's glue,
   asyncio and MQTT cost by themselves, so "the rest" is split into that and what the parts cost more
   when they run interleaved than each alone.
3. **What only wall time costs:** a fixed ticker (``TICK_S``, if the pipeline had one again: it woke
   every 0.25 s, 14,400 times an hour, until 03ab2c2) is costed per wake-up and multiplied. The simulator
   (``sitless run --simulate``) is costed on its own, so its share is not mistaken for the daemon's.
4. **Optionally, the real thing in real time** (``--realtime-s N``): ``sitless run --simulate`` (25 Hz)
   against the private Mosquitto for N seconds; CPU from ``/proc`` between 10 s and the end (start-up
   excluded), scaled to an hour.

Targets: the whole daemon <= 5 s CPU per hour of 50 Hz data, the classifier alone <= 0.7 s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE_HZ = 50.0
PACKET_SAMPLES = 20
LSB_G = 1.0 / 4096.0
CHARACTERISTIC = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
HOUR_S = 3600.0


def recorded_hour(seed: int) -> list[tuple[bytes, float]]:
    """One hour of 50 Hz data from the middle of a simulated workday, as (notification, arrival time)."""
    import numpy as np

    from sitless.firmware_bridge.simulate import SimulationConfig, simulate

    day = simulate(SimulationConfig(hours=2.0, rate_hz=RATE_HZ, seed=seed, schedule="workday")).samples
    hour = day.slice(int(0.5 * HOUR_S * RATE_HZ), int(1.5 * HOUR_S * RATE_HZ))
    counts = np.clip(np.rint(hour.xyz.astype(np.float64) / LSB_G), -32768, 32767).astype("<i2")
    packets = []
    for start in range(0, len(hour), PACKET_SAMPLES):
        stop = min(start + PACKET_SAMPLES, len(hour))
        packets.append((counts[start:stop].tobytes(), float(hour.t[stop - 1])))
    return packets


def decoder():
    from sitless.firmware_bridge.decoders.generic import GenericDecoder, GenericProfile

    profile = GenericProfile(
        service_uuid="6e400001-b5a3-f393-e0a9-e50e24dcca9e",
        characteristic_uuid=CHARACTERISTIC,
        struct_format="<hhh",
        scale=LSB_G,
        rate_hz=RATE_HZ,
    )
    return GenericDecoder(profile=profile)


def samples_of(decoded):
    """The samples of one notification: decoders return events (``Samples``, ``Gap``...) since issue 10.3,
    a ``SampleChunk`` before."""
    from sitless.analysis.samples import SampleChunk

    if isinstance(decoded, SampleChunk):
        return decoded
    chunks = [event.chunk for event in decoded if hasattr(event, "chunk")]
    return chunks[0] if len(chunks) == 1 else SampleChunk.concat(chunks)


class RecordedPackets:
    """A ``SampleSource`` that decodes recorded notifications with the real decoder, as fast as taken."""

    def __init__(self, packets: list[tuple[bytes, float]]) -> None:
        self.packets = packets
        self.name = "recorded BLE packets (generic <hhh, 50 Hz)"
        self.sensor_id = "bench-thigh"
        self.battery_percent: int | None = 90
        self.temperature_readings: list = []

    async def chunks(self, start_at: float | None = None):
        decode = decoder()
        for index, (data, arrival) in enumerate(self.packets):
            chunk = samples_of(decode.receive_data(CHARACTERISTIC, data, arrival))
            if index % 64 == 0:
                await asyncio.sleep(0)
            yield chunk


def write_config(folder: Path, url: str) -> Path:
    path = folder / "config.toml"
    path.write_text(f'[mqtt]\nurl = "{url}"\ndevice_id = "bench"\n\n[alerts]\ntimezone = "UTC"\n')
    path.chmod(0o600)
    return path


class DecodedPackets(RecordedPackets):
    """The same packets decoded beforehand (for the glue's own cost)."""

    def __init__(self, chunks) -> None:
        super().__init__([])
        self.decoded = chunks

    async def chunks(self, start_at: float | None = None):
        for index, chunk in enumerate(self.decoded):
            if index % 64 == 0:
                await asyncio.sleep(0)
            yield chunk


class ClassifiedBeforehand:
    """Hands the pipeline, chunk by chunk, what the real classifier gave for the same chunks."""

    def __init__(self, outputs, last) -> None:
        self.outputs, self.last, self.index = outputs, last, 0

    def feed(self, chunk):
        self.index += 1
        return self.outputs[self.index - 1]

    def flush(self):
        return self.last

    def feed_temperature(self, timestamps, celsius) -> None:
        pass


def run_daemon(packets, folder: Path, url: str, beforehand=None) -> dict:
    """The real pipeline on the packets; CPU of the whole process (all threads). ``beforehand``:
    (decoded chunks, classifier outputs, flush) to run it without decoding and classifying."""
    from sitless.daemon import build_pipeline, load_settings, open_store, run_until_done

    settings = load_settings(write_config(folder, url))
    store = open_store(settings, folder / "sitless.db")
    try:
        source = RecordedPackets(packets) if beforehand is None else DecodedPackets(beforehand[0])
        pipeline = build_pipeline(settings, store, source, device_id="bench", live=True)
        if beforehand is not None:
            pipeline.classifier = ClassifiedBeforehand(*beforehand[1:])
        cpu, wall = time.process_time(), time.perf_counter()
        run_until_done(pipeline)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        prompts = pipeline.prompts_sent
    finally:
        store.close()
    return {"cpu_s": cpu, "wall_s": wall, "prompts": prompts}


def glue_cost(packets, folder: Path, url: str, repeats: int) -> float:
    """The daemon with decoding and classifying done beforehand (median CPU): the pipeline's glue,
    asyncio, MQTT, and the store and policy again (the caller subtracts those)."""
    from sitless.analysis.classify import StreamingClassifier

    decode = decoder()
    chunks = [samples_of(decode.receive_data(CHARACTERISTIC, data, arrival)) for data, arrival in packets]
    classifier = StreamingClassifier()
    beforehand = (chunks, [classifier.feed(chunk) for chunk in chunks], classifier.flush())
    runs = []
    for index in range(repeats):
        run = folder / f"glue{index}"
        run.mkdir()
        runs.append(run_daemon(packets, run, url, beforehand)["cpu_s"])
    return statistics.median(runs)


def cost_of_parts(packets, folder: Path) -> dict:
    """Each part alone on the same packets (CPU seconds for the hour)."""
    from sitless.alerts.policy import AlertPolicy, AlertSettings
    from sitless.analysis.classify import StreamingClassifier
    from sitless.pipeline import SAVE_EVERY_S
    from sitless.posture_batch import PostureBatch
    from sitless.store import Store

    parts: dict[str, float] = {}
    decode = decoder()
    cpu = time.process_time()
    chunks = [samples_of(decode.receive_data(CHARACTERISTIC, data, arrival)) for data, arrival in packets]
    parts["decoder"] = time.process_time() - cpu

    classifier = StreamingClassifier()
    cpu = time.process_time()
    outputs = [classifier.feed(chunk) for chunk in chunks]
    parts["classifier (20-sample packets)"] = time.process_time() - cpu
    seconds = [out for out in outputs if len(out)]
    parts["  of which labeller.label (once a second)"] = labeller_cost(chunks)
    parts["  of which SecondAccumulator.push"] = accumulator_cost(chunks)

    state = AlertPolicy(AlertSettings(timezone="UTC")).export_state()
    store = Store.open(folder / "parts.db")
    try:
        batch, saved, writes = PostureBatch(store, "bench-thigh"), seconds[0].start, 0
        cpu = time.process_time()
        for series in seconds:
            batch.add(series)
            if series.end - saved >= SAVE_EVERY_S:
                batch.write()
                store.save_state("alerts.policy/bench-thigh", state)
                saved, writes = series.end, writes + 1
        batch.write()
        parts[f"store writes ({writes} x postures + state)"] = time.process_time() - cpu
    finally:
        store.close()

    policy = AlertPolicy(AlertSettings(timezone="UTC"))
    cpu = time.process_time()
    for series in seconds:
        policy.receive(series)
    parts["policy (per completed second)"] = time.process_time() - cpu
    return parts


def labeller_cost(chunks) -> float:
    """CPU of the classifier's per-second labelling alone (``SecondLabeller.label`` on each completed
    second's row, as ``StreamingClassifier.feed`` calls it)."""
    from sitless.analysis.features import SecondAccumulator
    from sitless.analysis.labeller import SecondLabeller
    from sitless.analysis.settings import ClassifierSettings

    accumulator = SecondAccumulator()
    rows = [(first, sums) for first, sums in map(accumulator.push, chunks) if len(sums)]
    labeller = SecondLabeller(ClassifierSettings(), None)
    cpu = time.process_time()
    for first, sums in rows:
        labeller.label(first, sums)
    return time.process_time() - cpu


def accumulator_cost(chunks) -> float:
    """CPU of summing the packets per second alone (``SecondAccumulator.push`` on every packet, as
    ``StreamingClassifier.feed`` calls it)."""
    from sitless.analysis.features import SecondAccumulator

    accumulator = SecondAccumulator()
    cpu = time.process_time()
    for chunk in chunks:
        accumulator.push(chunk)
    return time.process_time() - cpu


def ticker_cost(wakeups: int = 2000) -> float:
    """CPU of one live ticker wake-up: an asyncio timer firing and the tick body on a quiet policy."""
    from sitless.alerts.policy import AlertPolicy, AlertSettings

    policy = AlertPolicy(AlertSettings(timezone="UTC"))
    now = time.time()

    async def ticks() -> None:
        for index in range(wakeups):
            await asyncio.sleep(0.0001)
            policy.tick(now + index * 0.25)

    cpu = time.process_time()
    asyncio.run(ticks())
    return (time.process_time() - cpu) / wakeups


def simulator_cost() -> float:
    """CPU of simulating one hour at 50 Hz in the packets ``sitless run --simulate`` streams."""
    from sitless.firmware_bridge.simulate import SimulationConfig, Simulator

    simulator = Simulator(SimulationConfig(hours=1.0, rate_hz=RATE_HZ, seed=2))
    cpu = time.process_time()
    step = 60 * int(RATE_HZ) * 5
    for n0 in range(0, simulator.n_samples, step):
        simulator.sample_range(n0, min(n0 + step, simulator.n_samples))
    return time.process_time() - cpu


def realtime(seconds: float, folder: Path, url: str) -> float:
    """``sitless run --simulate`` for ``seconds``; CPU per wall hour after the first 10 s (start-up)."""
    script = Path(sys.executable).with_name("sitless")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sitless"]
    env = {**os.environ, "XDG_DATA_HOME": str(folder / "xdg"), "XDG_CONFIG_HOME": str(folder / "xdg")}
    process = subprocess.Popen(
        [
            *command,
            "run",
            "--simulate",
            "--config",
            str(write_config(folder, url)),
            "--store",
            str(folder / "rt.db"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        time.sleep(10.0)
        first, started = _cpu_of(process.pid), time.monotonic()
        time.sleep(seconds)
        last, ended = _cpu_of(process.pid), time.monotonic()
    finally:
        process.terminate()
        process.wait(15)
    return (last - first) / (ended - started) * HOUR_S


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of the daemon (median)")
    parser.add_argument(
        "--realtime-s", type=float, default=0.0, help="also run `sitless run --simulate` this long"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import sitless.pipeline
    from sitless.broker import start_private_broker

    # The fixed 0.25-s ticker was replaced by wake-ups when the policy's next moment is due (03ab2c2);
    # with it gone there is nothing to add per wall hour.
    tick_s = getattr(sitless.pipeline, "TICK_S", None)

    packets = recorded_hour(seed=4)
    with tempfile.TemporaryDirectory(prefix="sitless-live-") as tmp:
        broker = start_private_broker(Path(tmp) / "broker")
        try:
            runs = []
            for index in range(args.repeats):
                folder = Path(tmp) / f"run{index}"
                folder.mkdir()
                runs.append(run_daemon(packets, folder, broker.url))
            parts = cost_of_parts(packets, Path(tmp))
            glue = glue_cost(packets, Path(tmp), broker.url, args.repeats)
            tick = ticker_cost() if tick_s else 0.0
            simulator = simulator_cost()
            live = realtime(args.realtime_s, Path(tmp), broker.url) if args.realtime_s else None
        finally:
            broker.stop()
    cpu = statistics.median(run["cpu_s"] for run in runs)
    ticks_per_hour = HOUR_S / tick_s if tick_s else 0.0
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(
        f"\none hour of 50 Hz data, {len(packets):,} BLE packets of {PACKET_SAMPLES} samples; CPU s per hour of data"
    )
    each = ", ".join(f"{run['cpu_s']:.2f}" for run in runs)
    print(
        f"  whole daemon (decode, classify, store, policy, MQTT), median of {len(runs)}: {cpu:.2f} s "
        f"(runs: {each}; {runs[0]['prompts']} prompts)"
    )
    for name, value in parts.items():
        print(f"    {name:<40}{value:7.2f} s  ({100 * value / cpu:4.0f} %)")
    rest = cpu - sum(value for name, value in parts.items() if not name.startswith(" "))
    print(f"    {'the rest':<40}{rest:7.2f} s  ({100 * rest / cpu:4.0f} %)")
    own = glue - parts[next(name for name in parts if name.startswith("store"))] - parts[
        "policy (per completed second)"
    ]
    print(
        f"      {'of which pipeline glue, asyncio, MQTT':<38}{own:7.2f} s  ({100 * own / cpu:4.0f} %)  (the daemon "
        "with decoding and classifying done beforehand, store and policy taken off)"
    )
    print(
        f"      {'and what the parts cost more together':<38}{rest - own:7.2f} s  ({100 * (rest - own) / cpu:4.0f} %)"
        "  (interleaved in one process rather than each alone in a loop)"
    )
    if tick_s:
        print(
            f"  + the live ticker: {tick * 1e6:.0f} us per wake-up x {ticks_per_hour:,.0f} wake-ups = "
            f"{tick * ticks_per_hour:.2f} s per hour of wall time"
        )
    else:
        print("  + no fixed ticker (the policy wakes the daemon only when its next moment is due)")
    print(f"  = the live daemon on BLE: {cpu + tick * ticks_per_hour:.2f} s CPU per hour (target <= 5 s)")
    print(
        f"  not the daemon's: the simulator makes an hour at 50 Hz in {simulator:.2f} s CPU "
        "(`sitless run --simulate` pays it)"
    )
    if live is not None:
        print(
            f"  `sitless run --simulate` (25 Hz) in real time for {args.realtime_s:.0f} s: {live:.1f} s CPU per hour"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
