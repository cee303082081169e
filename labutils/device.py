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
        print(
            f"Using CPU ({torch.get_num_threads()} threads): everything works, training is slower. "
            "The notebooks use smaller CPU settings or a pretrained model where it matters."
        )
    return torch.device("cpu")
