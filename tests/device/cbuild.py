"""Builds the C port of device/ for the tests: the golden-vector test program, and a shared
library of the projection that Python drives through ctypes."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from typing import List, Tuple

import numpy as np
import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DEVICE = os.path.join(ROOT, "device")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", f"-I{DEVICE}"]


def compiler() -> str:
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no C compiler (cc, gcc or clang) on this machine")


def build_test_program(directory: str) -> str:
    binary = os.path.join(directory, "test_projection")
    sources = [os.path.join(DEVICE, "pqrnn_projection.c"), os.path.join(DEVICE, "test_projection.c")]
    subprocess.run([compiler(), *CFLAGS, "-o", binary, *sources], check=True, capture_output=True, text=True)
    return binary


class Span(ctypes.Structure):
    _fields_ = [("start", ctypes.c_size_t), ("end", ctypes.c_size_t)]


class Params(ctypes.Structure):
    _fields_ = [("feature_size", ctypes.c_int), ("max_tokens", ctypes.c_int), ("add_bos_eos", ctypes.c_int)]


class CProjection:
    """`pqrnn_project` of device/pqrnn_projection.c, compiled as a shared library."""

    def __init__(self, directory: str, feature_size: int, max_tokens: int, add_bos_eos: bool = True):
        library = os.path.join(directory, "libpqrnn_projection.so")
        if not os.path.exists(library):
            source = os.path.join(DEVICE, "pqrnn_projection.c")
            subprocess.run(
                [compiler(), *CFLAGS, "-shared", "-fPIC", "-o", library, source],
                check=True,
                capture_output=True,
                text=True,
            )
        self.lib = ctypes.CDLL(library)
        self.lib.pqrnn_project.restype = ctypes.c_int
        self.params = Params(feature_size, max_tokens, int(add_bos_eos))

    def __call__(self, text: bytes) -> Tuple[np.ndarray, List[bytes]]:
        """Features [1, T, B] (float32, what the encoder takes) and the kept words' bytes."""
        p = self.params
        features = np.zeros((p.max_tokens, p.feature_size), np.int8)
        words = (Span * p.max_tokens)()
        num_words = ctypes.c_int()
        scratch = ctypes.create_string_buffer(3 * len(text) + 16)
        rows = self.lib.pqrnn_project(
            ctypes.byref(p),
            ctypes.c_char_p(text),
            ctypes.c_size_t(len(text)),
            features.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)),
            words,
            ctypes.byref(num_words),
            scratch,
            ctypes.c_size_t(len(scratch)),
        )
        assert rows >= 0, rows
        kept = [text[words[i].start : words[i].end] for i in range(num_words.value)]
        return features[None, :rows].astype(np.float32), kept
