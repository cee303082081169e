"""The schedule of a training run: what step N reads and at which learning rate.

Step N (0-based) reads the tunes as written before params["transpose_from"] and the tunes with
their transposed copies after it; from params["extra_from"] until params["extra_until"] a share
of its batch (params["extra_share"]) comes from the extra tunes. Its learning rate is constant
(the notes) or follows a warm-up and a half cosine (params["lr_schedule"]).
"""
from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np
import torch

from labutils.batches import get_batch
from labutils.params import with_defaults
from labutils.training import train_step


def learning_rate_at(step: int, params: Dict) -> float:
    """Learning rate for optimisation step `step` (0-based) under params["lr_schedule"].

    "constant" (the notes): always params["learning_rate"]. "cosine": a linear warm-up over
    `warmup_steps`, then a half cosine from the learning rate down to zero at
    `num_training_iterations`, so the last steps settle instead of bouncing.
    """
    params = with_defaults(params)
    base, schedule = params["learning_rate"], params["lr_schedule"]
    if schedule == "constant":
        return base
    if schedule != "cosine":
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {schedule!r}.")
    total, warmup = params["num_training_iterations"], params["warmup_steps"]
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def training_text_at(step_index: int, train_data: np.ndarray, train_as_written: Optional[np.ndarray],
                     params: Dict) -> np.ndarray:
    """The text step `step_index` (0-based) reads: the tunes as written before params["transpose_from"]."""
    if train_as_written is not None and step_index < params.get("transpose_from", 0):
        return train_as_written
    return train_data


def extra_windows_at(step_index: int, extra_data: Optional[np.ndarray], params: Dict) -> int:
    """How many of the batch's windows step `step_index` (0-based) reads from the extra tunes:
    params["extra_share"] of the batch, from step params["extra_from"] until params["extra_until"]
    (None: to the end of the run)."""
    if extra_data is None or not len(extra_data):
        return 0
    until = params.get("extra_until")
    if step_index < params.get("extra_from", 0) or (until is not None and step_index >= until):
        return 0
    return int(round(params["batch_size"] * params.get("extra_share", 0.0)))


def training_batch(step_index: int, train_data: np.ndarray, train_as_written: Optional[np.ndarray],
                   extra_data: Optional[np.ndarray], params: Dict, rng: np.random.Generator):
    """(x, y) of step `step_index`: windows of the lab's tunes (`training_text_at`), and with extra
    tunes (labutils.extra_tunes) `extra_windows_at` of them from those instead."""
    data = training_text_at(step_index, train_data, train_as_written, params)
    seq, batch = params["seq_length"], params["batch_size"]
    extra = min(extra_windows_at(step_index, extra_data, params), batch)
    if not extra:
        return get_batch(data, seq, batch, rng)
    if extra == batch:
        return get_batch(extra_data, seq, batch, rng)
    x_lab, y_lab = get_batch(data, seq, batch - extra, rng)
    x_extra, y_extra = get_batch(extra_data, seq, extra, rng)
    return torch.cat([x_lab, x_extra]), torch.cat([y_lab, y_extra])


def scheduled_step(model, optimizer, x_batch, y_batch, step_index: int, params: Dict, average=None) -> float:
    """One step of the training loop: the scheduled learning rate for `step_index` (0-based),
    `train_step` with the params' clipping and precision, then the weight average's update
    (a labutils.training_loop.WeightAverage, if any). Returns the loss."""
    set_learning_rate(optimizer, learning_rate_at(step_index, params))
    loss = train_step(model, optimizer, x_batch, y_batch, params["grad_clip"], params["cpu_bf16"])
    if average is not None:
        average.update(model)
    return loss
