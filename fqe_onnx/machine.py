"""The machine a figure came from: CPU model, cores, and the SIMD levels that change float results.

OpenCV, NumPy and ONNX Runtime pick their SIMD code by CPU at run time. Integer steps give the same
bits everywhere; float steps (OpenCV 5's warp, ONNX Runtime's convolutions) can round differently on
an AVX-512 machine than on an AVX2 one. So every benchmark and every set of conformance vectors
names the flags of the machine that made it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

#: The /proc/cpuinfo flags that decide which kernels the libraries run (in this order when shown).
SIMD_FLAGS = (
    "sse4_2",
    "avx",
    "fma",
    "avx2",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
)


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """(model name, flags) of the first CPU listed; ("", empty) where there is no /proc/cpuinfo."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "", set()
    model, flags = "", set[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def describe(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The CPU model, the cores this process may use, and which of SIMD_FLAGS the CPU has."""
    model, flags = _cpuinfo(cpuinfo)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "cores": cores,
        "simd": [flag for flag in SIMD_FLAGS if flag in flags],
    }


def describe_line(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """One line for a benchmark's header: ``machine: MODEL, N cores, SIMD avx2 fma ... (no AVX-512)``."""
    info = describe(cpuinfo)
    simd = " ".join(info["simd"]) or "none listed"
    avx512 = "AVX-512" if "avx512f" in info["simd"] else "no AVX-512"
    return f"machine: {info['cpu']}, {info['cores']} cores, SIMD {simd} ({avx512})"
