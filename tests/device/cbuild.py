"""Builds the C port of device/ for the tests: the golden-vector test program, and a shared
library of the projection that Python drives through ctypes (`bench.device_agreement`'s)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from bench import device_agreement
from bench.device_agreement import CFLAGS, DEVICE

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def compiler() -> str:
    path = device_agreement.find_compiler()
    if path is None:
        pytest.skip("no C compiler (cc, gcc or clang) on this machine")
    return path


def build_test_program(directory: str) -> str:
    binary = os.path.join(directory, "test_projection")
    sources = [os.path.join(DEVICE, "pqrnn_projection.c"), os.path.join(DEVICE, "test_projection.c")]
    subprocess.run([compiler(), *CFLAGS, "-o", binary, *sources], check=True, capture_output=True, text=True)
    return binary


class CProjection(device_agreement.CProjection):
    """The C projection; the test is skipped where there is no C compiler."""

    def __init__(self, directory: str, *args: Any) -> None:
        compiler()
        super().__init__(directory, *args)
