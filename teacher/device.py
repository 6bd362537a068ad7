"""Where the teacher runs and in which precision, for fine-tuning and inference alike."""

from __future__ import annotations

import torch

from config_core import ConfigError


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def inference_device(setting: str) -> str:
    """Beam's device name ("CPU"/"GPU") for `teacher.inference.device` ("auto" picks)."""
    if setting == "auto":
        return "GPU" if torch.cuda.is_available() else "CPU"
    return setting


def torch_device(beam_device: str) -> torch.device:
    return torch.device("cuda" if str(beam_device).upper() == "GPU" else "cpu")


def use_bf16(precision: str, device: torch.device, key: str) -> bool:
    """Whether to autocast to bfloat16 for the `precision` setting at config key `key`
    ("auto": where `device` supports bf16 natively; emulated bf16 is slower than fp32)."""
    if precision == "fp32":
        return False
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    else:
        supported = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    if precision == "bf16" and not supported:
        raise ConfigError(key, f"bf16 is not supported natively on {device}; use auto or fp32")
    return supported
