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
from labutils.lookback import lookback_ids
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
                   extra_data: Optional[np.ndarray], params: Dict, rng: np.random.Generator,
                   lookbacks: Optional[Dict[int, np.ndarray]] = None):
    """(x, y) of step `step_index`: windows of the lab's tunes (`training_text_at`), and with extra
    tunes (labutils.extra_tunes) `extra_windows_at` of them from those instead. For a lookback
    model, `lookbacks` maps id(text) to that text's lookback input (`lookback_inputs`), and the
    result is (x, y, the lookback input of x), from the same random windows."""
    data = training_text_at(step_index, train_data, train_as_written, params)
    seq, batch = params["seq_length"], params["batch_size"]
    extra = min(extra_windows_at(step_index, extra_data, params), batch)
    sources = [(data, batch - extra), (extra_data, extra)] if extra else [(data, batch)]
    parts = [_windows(text, seq, rows, rng, lookbacks) for text, rows in sources if rows]
    return tuple(torch.cat(items) if len(parts) > 1 else items[0] for items in zip(*parts))


def _windows(text: np.ndarray, seq: int, rows: int, rng: np.random.Generator, lookbacks):
    """get_batch's windows of `text`, and with `lookbacks` the same windows of its lookback input."""
    if lookbacks is None:
        return get_batch(text, seq, rows, rng)
    x, y = get_batch(np.arange(len(text)), seq, rows, rng)  # the windows' positions, drawn as get_batch draws
    look, text = lookbacks[id(text)], np.asarray(text)
    return (torch.from_numpy(text[x.numpy()].astype(np.int64)), torch.from_numpy(text[y.numpy()].astype(np.int64)),
            torch.from_numpy(look[x.numpy()]))


def lookback_inputs(model, *texts: Optional[np.ndarray]) -> Optional[Dict[int, np.ndarray]]:
    """{id(text): its lookback input} for a lookback model (labutils.lookback), None for any other."""
    bars = getattr(model, "lookback_bars", 0)
    if not bars:
        return None
    return {id(text): lookback_ids(text, model.lookback_vocab, bars) for text in texts if text is not None}


def scheduled_step(model, optimizer, x_batch, y_batch, step_index: int, params: Dict, average=None,
                   lookback=None) -> float:
    """One step of the training loop: the scheduled learning rate for `step_index` (0-based),
    `train_step` with the params' clipping and precision (and a lookback model's input), then the
    weight average's update (a labutils.training_loop.WeightAverage, if any). Returns the loss."""
    set_learning_rate(optimizer, learning_rate_at(step_index, params))
    loss = train_step(model, optimizer, x_batch, y_batch, params["grad_clip"], params["cpu_bf16"], lookback)
    if average is not None:
        average.update(model)
    return loss
