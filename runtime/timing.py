"""Milliseconds per call and the machine they were measured on: what the review report
(`review.speed`) and the benchmarks (`bench/`) time with, so their numbers compare."""

from __future__ import annotations

import os
import platform
import time
from typing import TYPE_CHECKING, Callable, Dict

if TYPE_CHECKING:
    import numpy as np


def timed(fn: Callable[[int], object], n: int, warmup: int = 2) -> np.ndarray:
    """Milliseconds per call of fn(i), i = 0..n-1, after `warmup` untimed calls (tracing, allocation)."""
    import numpy as np  # here, so that `machine` also runs where only the standard library is

    for i in range(warmup):
        fn(i)
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1e3)
    return np.array(times)


def latency(fn: Callable[[int], object], n: int) -> Dict[str, float]:
    """p50 and p90 single-call latency of fn(i) in milliseconds (see `timed`)."""
    import numpy as np

    times = timed(fn, n)
    return {"p50_ms": float(np.percentile(times, 50)), "p90_ms": float(np.percentile(times, 90))}


def gpu_count() -> int:
    """GPUs TensorFlow sees; without TensorFlow (a cold CI timing starts before the venv has
    it), the NVIDIA driver's list."""
    try:
        import tensorflow as tf
    except ImportError:
        driver = "/proc/driver/nvidia/gpus"
        return len(os.listdir(driver)) if os.path.isdir(driver) else 0
    return len(tf.config.list_physical_devices("GPU"))


def machine() -> str:
    """The machine timings are measured on, in words (host, cores, CPU model, GPUs, load)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    # The load tells whether other work shared the cores while timings were taken.
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (
        f"{platform.node() or 'this machine'}: {os.cpu_count()} CPU cores ({cpu}), {gpu_count()} GPU(s), "
        f"{platform.system()}{load}"
    )
