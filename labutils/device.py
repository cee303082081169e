"""Choosing the device, with one plain sentence about what it means for training time."""
from __future__ import annotations

import os
from typing import Optional

import torch

REQUIRE_GPU_ENV = "LABUTILS_REQUIRE_GPU"


class GPUNotAvailableError(RuntimeError):
    """Raised when a GPU was required (require_gpu=True or LABUTILS_REQUIRE_GPU=1) but none is found."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def get_device(require_gpu: Optional[bool] = None, verbose: bool = True) -> torch.device:
    """Return cuda when available, else cpu, printing which and what it means."""
    if require_gpu is None:
        require_gpu = _env_flag(REQUIRE_GPU_ENV)
    if torch.cuda.is_available():
        device = torch.device("cuda")
        if verbose:
            print(f"Using GPU: {torch.cuda.get_device_name(0)}. Full lab settings train in a few minutes.")
        return device
    if require_gpu:
        raise GPUNotAvailableError(
            "A GPU was required (require_gpu=True or LABUTILS_REQUIRE_GPU=1) but PyTorch sees none. "
            "In Colab: Runtime > Change runtime type > GPU. Locally: install a CUDA build of torch."
        )
    if verbose:
        threads = torch.get_num_threads()
        print(
            f"Using CPU ({threads} thread{'' if threads == 1 else 's'}): everything works, training is slower. "
            "The notebooks use smaller CPU settings or a pretrained model where it matters."
        )
    return torch.device("cpu")


def cpu_supports_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AVX512-BF16 or AMX), so mixed precision pays."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, probe, None)  # private helpers of torch.cpu; absent means unknown
        try:
            if check is not None and check():
                return True
        except Exception:  # a probe that fails tells us nothing: stay in float32
            continue
    return False


def training_autocast(device: torch.device, cpu_bf16: bool):
    """Autocast context for a training step: bfloat16 mixed precision on a CPU that supports it
    natively when `cpu_bf16` is set (faster steps; figures in benchmarks/README.md), else a no-op.

    Matrix products then run in bfloat16 while the weights, the optimizer and the loss stay in
    float32; evaluation and sampling always run in float32.
    """
    enabled = bool(cpu_bf16) and torch.device(device).type == "cpu" and cpu_supports_bf16()
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled)
