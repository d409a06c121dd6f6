"""Load on `fqe-onnx serve`, on loopback, against an offline `fqe-onnx score` of the same files in the same run.

The files are the first --images 250x250 LFW frames of ../shared/data/lfw-dev (default model, default
options: --align auto, so every frame goes through the face detector). In each of --rounds interleaved
rounds: one offline `fqe-onnx score` (its rate from the first row to the last, so model loading is
not counted), then 1, 8, 32 and 128 concurrent clients, each sending one-image multipart requests
back to back (closed loop) until the level has sent max(--requests, 4 x clients) requests or
--level-seconds passed. Reported per level: throughput (images/s, median over rounds), its ratio to
the offline rate, p50/p99 latency (over every request of every round), errors, and the server's CPU
time per image against the offline run's (a ratio that holds on a machine shared with other work,
where throughput depends on what else runs).

Then, once:
- overload: requests sent at 2x the offline rate (open loop, for --overload-seconds) to a server with
  --max-queue --overload-queue (so that the queue fills within the phase): every request must be answered 200 or 503, none lost, and the server's memory
  (RSS, sampled every 0.5 s) flat;
- SIGTERM during load: 32 clients, then SIGTERM; every request the server answered reaches its
  client (the server's own count in its shutdown log equals the clients' count of 200s), and the
  server exits 0.

Loopback only, every loop bounded in count and time.

    python benchmarks/serve_load.py [--images 200] [--rounds 2] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from serving import FQE, Server
from verification import LFW_DEV as LFW  # $FQE_LFW_DEV, else ../shared/data/lfw-dev
from fqe_onnx.machine import describe_line


def lfw_files(count: int) -> list[Path]:
    files = sorted(LFW.rglob("*.jpg"))[:count]
    if len(files) < count:
        sys.exit(f"need {count} images under {LFW}, found {len(files)}")
    return files


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def offline_rate(files: list[Path], root: Path) -> tuple[float, float]:
    """`fqe-onnx score` over the files: images/s and CPU ms per image, from its first row to its last."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(str(f.relative_to(root)) for f in files))
    process = subprocess.Popen(
        FQE + ["score", str(root), "--from-list", listing.name, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.readline()  # the header
    times, cpu = [], []
    for _ in process.stdout:
        times.append(time.perf_counter())
        with contextlib.suppress(OSError):  # the process may be gone after its last row
            cpu.append(cpu_seconds(process.pid))
    process.wait(600)
    Path(listing.name).unlink()
    rows = len(times) - 1
    return rows / (times[-1] - times[0]), 1000 * (cpu[-1] - cpu[0]) / max(1, len(cpu) - 1)


async def closed_loop(url: str, images: list[bytes], clients: int, requests: int, seconds: float, pid: int) -> dict:
    """``clients`` tasks, each sending one request after the other, until ``requests`` are sent or time
    is up; also the server's (``pid``) CPU ms per image answered."""
    sent = 0
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent
        while sent < requests and time.perf_counter() < deadline:
            data = images[sent % len(images)]
            sent += 1
            start = time.perf_counter()
            try:
                response = await http.post("/v1/score", files=[("images", ("face.jpg", data, "image/jpeg"))])
                key = str(response.status_code)
                if response.status_code == 200 and response.json()["rows"][0]["error_kind"] not in ("", "no-face"):
                    key = "200 with an unexpected error row"
            except httpx.TransportError as exc:
                key = type(exc).__name__
            latencies.append(time.perf_counter() - start)
            statuses[key] = statuses.get(key, 0) + 1

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        start, cpu = time.perf_counter(), cpu_seconds(pid)
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall, cpu = time.perf_counter() - start, cpu_seconds(pid) - cpu
    ok = statuses.get("200", 0)
    return {"rate": ok / wall, "latencies": latencies, "statuses": statuses, "cpu_ms": 1000 * cpu / max(1, ok)}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def open_loop(url: str, images: list[bytes], rate: float, seconds: float, pid: int) -> dict:
    """Requests started at ``rate`` per second for ``seconds``, whatever the answers; RSS sampled."""
    statuses: dict[str, int] = {}
    memory: list[float] = []
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)

    async def one(http: httpx.AsyncClient, data: bytes) -> None:
        try:
            key = str((await http.post("/v1/score", files=[("images", ("face.jpg", data, "image/jpeg"))])).status_code)
        except httpx.TransportError as exc:
            key = type(exc).__name__
        statuses[key] = statuses.get(key, 0) + 1

    async def sample() -> None:
        while True:
            memory.append(rss_mib(pid))
            await asyncio.sleep(0.5)

    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:
        sampler = asyncio.create_task(sample())
        tasks, start, count = [], time.perf_counter(), int(rate * seconds)
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(http, images[i % len(images)])))
        await asyncio.wait_for(asyncio.gather(*tasks), 300)
        sampler.cancel()
    return {"sent": count, "statuses": statuses, "memory": memory}


async def sigterm_under_load(server: Server, images: list[bytes], clients: int, after: float) -> dict:
    """``clients`` closed-loop clients on fresh connections; SIGTERM after ``after`` seconds."""
    statuses: dict[str, int] = {}
    stop = time.perf_counter() + 60
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)

    async def client(http: httpx.AsyncClient, offset: int) -> None:
        i = offset
        while time.perf_counter() < stop:
            try:
                key = str(
                    (
                        await http.post(
                            "/v1/score", files=[("images", ("f.jpg", images[i % len(images)], "image/jpeg"))]
                        )
                    ).status_code
                )
            except httpx.ConnectError:
                key = "refused (not accepted)"
                statuses[key] = statuses.get(key, 0) + 1
                return
            except httpx.TransportError as exc:
                key = f"lost ({type(exc).__name__})"
            statuses[key] = statuses.get(key, 0) + 1
            i += clients

    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as http:
        tasks = [asyncio.create_task(client(http, i)) for i in range(clients)]
        await asyncio.sleep(after)
        start = time.perf_counter()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
    status = server.process.wait(60)
    seconds = time.perf_counter() - start
    match = re.search(r"stopped: (\d+) scoring requests answered", server.output())
    return {
        "statuses": statuses,
        "exit": status,
        "seconds": seconds,
        "server_answered": int(match[1]) if match else None,
    }


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def main(argv: Optional[list[str]] = None) -> None:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200, help="requests per level at least")
    parser.add_argument("--levels", default="1,8,32,128")
    parser.add_argument("--level-seconds", type=float, default=40)
    parser.add_argument("--overload-seconds", type=float, default=15)
    parser.add_argument(
        "--overload-queue",
        type=int,
        default=32,
        help="--max-queue of the overload server (the default 256 takes long to fill on a CPU)",
    )
    parser.add_argument("--serve-args", default="", help="extra options for fqe-onnx serve, e.g. '--threads 2'")
    args = parser.parse_args(argv)
    levels = [int(v) for v in args.levels.split(",")]
    files = lfw_files(args.images)
    images = [f.read_bytes() for f in files]
    print(f"{len(files)} LFW frames (250x250 JPEG), default model and options, {args.rounds} interleaved rounds")

    offline: list[float] = []
    offline_cpu: list[float] = []
    results: dict[int, list[dict]] = {c: [] for c in levels}
    server = Server(*args.serve_args.split())
    try:
        for round_ in range(args.rounds):
            rate, cpu = offline_rate(files, LFW)
            offline.append(rate)
            offline_cpu.append(cpu)
            print(f"round {round_ + 1}: offline score {rate:.1f} images/s, {cpu:.1f} CPU ms/image", flush=True)
            for clients in levels:
                result = asyncio.run(
                    closed_loop(
                        server.url,
                        images,
                        clients,
                        max(args.requests, 4 * clients),
                        args.level_seconds,
                        server.process.pid,
                    )
                )
                results[clients].append(result)
                print(
                    f"round {round_ + 1}: {clients:4d} clients {result['rate']:6.1f} images/s "
                    f"{result['cpu_ms']:.1f} server CPU ms/image {result['statuses']}",
                    flush=True,
                )
    finally:
        assert server.stop() == 0, server.output()[-2000:]
    base, base_cpu = float(np.median(offline)), float(np.median(offline_cpu))
    print(
        f"\noffline `fqe-onnx score`: {base:.1f} images/s (median of {', '.join(f'{r:.1f}' for r in offline)}), "
        f"{base_cpu:.1f} CPU ms/image"
    )
    print(
        "| clients | images/s | x offline | p50 ms | p99 ms | p99/p50 | server CPU ms/image (x offline) | requests | errors |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for clients in levels:
        rate = float(np.median([r["rate"] for r in results[clients]]))
        latencies = [v for r in results[clients] for v in r["latencies"]]
        errors: dict[str, int] = {}
        for r in results[clients]:
            for key, n in r["statuses"].items():
                if key != "200":
                    errors[key] = errors.get(key, 0) + n
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        cpu = float(np.median([r["cpu_ms"] for r in results[clients]]))
        print(
            f"| {clients} | {rate:.1f} | {rate / base:.2f} | {p50:.0f} | {p99:.0f} | {p99 / p50:.1f} | "
            f"{cpu:.1f} ({cpu / base_cpu:.2f}) | {len(latencies)} | {errors or 'none'} |"
        )

    server = Server(
        *args.serve_args.split(), "--max-queue", str(args.overload_queue), "--max-images", str(args.overload_queue)
    )
    try:
        over = asyncio.run(open_loop(server.url, images, 2 * base, args.overload_seconds, server.process.pid))
    finally:
        assert server.stop() == 0, server.output()[-2000:]
    answered = sum(n for k, n in over["statuses"].items() if k in ("200", "503"))
    memory = over["memory"]
    half = len(memory) // 2
    print(
        f"\n2x overload ({2 * base:.0f} requests/s for {args.overload_seconds:g} s, open loop, --max-queue "
        f"{args.overload_queue}): {over['sent']} sent, "
        f"{over['statuses']}; answered 200 or 503: {answered}/{over['sent']}; server RSS MiB: start "
        f"{memory[0]:.0f}, max of first half {max(memory[:half] or memory):.0f}, max of second half "
        f"{max(memory[half:]):.0f}, end {memory[-1]:.0f}"
    )

    server = Server(*args.serve_args.split())
    drain = asyncio.run(sigterm_under_load(server, images, 32, 3.0))
    ok = drain["statuses"].get("200", 0)
    print(
        f"\nSIGTERM after 3 s of 32 clients: {drain['statuses']}; the server answered {drain['server_answered']} "
        f"scoring requests, the clients got {ok} 200s; exit status {drain['exit']} "
        f"{drain['seconds']:.1f} s after the signal"
    )


if __name__ == "__main__":
    main()
