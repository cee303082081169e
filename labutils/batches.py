"""get_batch: random training windows (x, y) where y is x shifted one character ahead."""
from __future__ import annotations

from typing import Tuple, Union

import numpy as np
import torch

RngLike = Union[None, int, np.random.Generator]


def get_batch(
    vectorized_songs: np.ndarray,
    seq_length: int,
    batch_size: int,
    rng: RngLike = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Sample `batch_size` windows: x = text[i:i+L], y = text[i+1:i+L+1], LongTensors (batch, L).

    `rng` may be a numpy Generator, an int seed, or None (numpy's global random state,
    so `np.random.seed` makes it reproducible as in the seed notes).
    """
    data = np.asarray(vectorized_songs)
    if data.ndim != 1:
        raise ValueError(f"vectorized_songs must be 1-D, got shape {data.shape}.")
    if not np.issubdtype(data.dtype, np.integer):  # a float index would be cut to an int silently
        raise TypeError(f"vectorized_songs must hold integer character indices, got dtype {data.dtype}: "
                        "make it with vectorize_string (int64).")
    if seq_length < 1 or batch_size < 1:
        raise ValueError(f"seq_length and batch_size must be >= 1, got {seq_length}, {batch_size}.")
    num_starts = data.shape[0] - seq_length  # i can go up to len - seq_length - 1
    if num_starts < 1:
        raise ValueError(
            f"seq_length={seq_length} is too long for {data.shape[0]} characters of data: "
            f"it must be at most {data.shape[0] - 1}."
        )
    if rng is None:
        starts = np.random.randint(0, num_starts, size=batch_size)
    else:
        starts = np.random.default_rng(rng).integers(0, num_starts, size=batch_size)
    window = starts[:, None] + np.arange(seq_length)[None, :]  # (batch, seq)
    x_batch = torch.from_numpy(data[window].astype(np.int64))
    y_batch = torch.from_numpy(data[window + 1].astype(np.int64))
    return x_batch, y_batch
