"""The training loop: `train` runs the lab's pieces (labutils.training) for many steps, with a
learning-rate schedule, an optional moving average of the weights, held-out evaluation,
atomic checkpoints, exact resume and a Ctrl-C that finishes the current step first."""
from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

import numpy as np
import torch
from tqdm.auto import tqdm

from labutils.batches import get_batch
from labutils.checkpoints import load_checkpoint, save_checkpoint
from labutils.model import init_output_bias
from labutils.params import with_defaults
from labutils.threads import thread_chooser
from labutils.training import evaluate_bpc, make_optimizer, train_step

PathLike = Union[str, Path]


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


class WeightAverage:
    """An exponential moving average of a model's weights, kept beside them.

    For the first `start` updates the average simply follows the weights; after that each
    `update(model)` moves it towards the weights by (1 - decay), an average over roughly the
    last 1/(1 - decay) steps. Late in training that lowers the held-out loss of weights that
    bounce around a minimum; early on it lags behind them (see `evaluate_kept`).
    """

    def __init__(self, model: torch.nn.Module, decay: float, start: int = 0):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must be between 0 and 1, got {decay}.")
        if start < 0:
            raise ValueError(f"ema_start must be 0 or more, got {start}.")
        self.decay, self.start = decay, start

        def average(averaged, current, num_averaged):
            weight = decay if int(num_averaged) >= start else 0.0
            return averaged + (current - averaged) * (1.0 - weight)

        self.averaged = torch.optim.swa_utils.AveragedModel(model, avg_fn=average, use_buffers=True)
        for module in self.averaged.module.modules():
            if isinstance(module, torch.nn.RNNBase):
                # The copy's recurrent weights are separate tensors; on a CUDA GPU cuDNN wants them
                # in one block, else it copies them at every call and warns (a no-op on a CPU).
                module.flatten_parameters()

    @property
    def module(self) -> torch.nn.Module:
        """The averaged model (same class and config as the trained one)."""
        return self.averaged.module

    def update(self, model: torch.nn.Module) -> None:
        self.averaged.update_parameters(model)

    def state_dict(self) -> Dict:
        return self.averaged.state_dict()

    def load_state_dict(self, state: Dict) -> None:
        self.averaged.load_state_dict(state)


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


def scheduled_step(model, optimizer, x_batch, y_batch, step_index: int, params: Dict,
                   average: Optional[WeightAverage] = None) -> float:
    """One step of the training loop: the scheduled learning rate for `step_index` (0-based),
    `train_step` with the params' clipping and precision, then the weight average. Returns the loss."""
    set_learning_rate(optimizer, learning_rate_at(step_index, params))
    loss = train_step(model, optimizer, x_batch, y_batch, params["grad_clip"], params["cpu_bf16"])
    if average is not None:
        average.update(model)
    return loss


def evaluate_kept(model, average: Optional[WeightAverage], vectorized: np.ndarray, seq_length: int = 256):
    """(held-out bits/char, model, "weights" or "average"): the better of the trained weights
    and their moving average on held-out data, the model training keeps at this point."""
    bpc = evaluate_bpc(model, vectorized, seq_length)
    if average is None:
        return bpc, model, "weights"
    averaged_bpc = evaluate_bpc(average.module, vectorized, seq_length)
    return (averaged_bpc, average.module, "average") if averaged_bpc <= bpc else (bpc, model, "weights")


class TrainingDiverged(ValueError):
    """The loss blew up (not a number, or far worse than guessing): training stopped, the last good
    checkpoint is kept."""


def divergence_limit(model) -> float:
    """The loss above which training has blown up: 10 x that of guessing every character uniformly,
    ln(vocab_size) (4.4 for the lab's 83; a lab run starts there and falls). inf when unknown."""
    vocab_size = getattr(model, "vocab_size", None)
    return 10 * math.log(vocab_size) if isinstance(vocab_size, int) and vocab_size > 1 else math.inf


def _diverged(step: int, loss: float, params: Dict, last_saved: Optional[int], path) -> TrainingDiverged:
    rate = learning_rate_at(step - 1, params)
    kept = (f"the checkpoint of step {last_saved} is kept ({path})" if last_saved is not None
            else "no checkpoint was written")
    return TrainingDiverged(
        f"the training loss blew up to {loss:.4g} at step {step} (learning rate {rate:g}), so training stopped; "
        f"{kept}. Try a smaller --learning-rate (e.g. {rate / 10:g}) or --grad-clip 1.")


@dataclass
class TrainResult:
    """What a training run returns: loss history, last held-out bits/char, checkpoint path."""

    history: List[Dict] = field(default_factory=list)
    final_val_bpc: Optional[float] = None
    checkpoint_path: Optional[Path] = None
    steps: int = 0
    best_val_bpc: Optional[float] = None
    best_step: Optional[int] = None
    kept_model: Optional[torch.nn.Module] = None


def train(
    model,
    train_data: np.ndarray,
    params: Dict,
    *,
    val_data: Optional[np.ndarray] = None,
    optimizer: Optional[torch.optim.Optimizer] = None,
    checkpoint_path: Optional[PathLike] = None,
    best_checkpoint_path: Optional[PathLike] = None,
    resume_from: Optional[PathLike] = None,
    tracker=None,
    extra_checkpoint: Optional[Dict] = None,
    on_step: Optional[Callable[[int, List[Dict]], None]] = None,
    progress: bool = True,
    train_as_written: Optional[np.ndarray] = None,
    extra_data: Optional[np.ndarray] = None,
) -> TrainResult:
    """Train `model` on `train_data` (int64 array) for params["num_training_iterations"] steps.

    Every `eval_every` steps the held-out bits/char on `val_data` is recorded; every
    `checkpoint_every` steps, at the end and on Ctrl-C a checkpoint is written atomically
    to `checkpoint_path`; whenever the held-out bits/char reaches a new best, the model is
    also saved to `best_checkpoint_path` (if given). `resume_from` continues a checkpoint
    exactly where it stopped (model, optimizer, step, random state, history).

    With params["ema_decay"] set, a moving average of the weights (`WeightAverage`) is kept
    beside them, and each evaluation keeps the better of the two on held-out data
    (`evaluate_kept`): early on the weights, later usually the average. The recorded
    held-out figure, the best checkpoint and `result.kept_model` are the kept model's; the
    periodic checkpoint holds both (and which was kept, for `model_from_checkpoint`).

    When `train_data` also holds transposed copies of the tunes (params["transpose"]),
    `train_as_written` (the tunes as written) is read instead for the steps before
    params["transpose_from"]: the model learns the common keys first. `extra_data` (more tunes,
    labutils.extra_tunes) gives params["extra_share"] of each batch's windows, from step
    params["extra_from"] until step params["extra_until"] (`training_batch`).

    With params["init_output_bias"], a fresh start (not a resume) first sets the output
    layer's bias to the log frequency of each character in the tunes as written
    (`labutils.model.init_output_bias`). Leave it off to continue training a trained model.
    """
    params = with_defaults(params)
    device = next(model.parameters()).device
    optimizer = optimizer or make_optimizer(model, params)
    rng = np.random.default_rng(params["seed"])
    torch.manual_seed(params["seed"])
    history: List[Dict] = []
    start_step, elapsed_before = 0, 0.0
    if resume_from is None and params["init_output_bias"]:
        init_output_bias(model, train_as_written if train_as_written is not None else train_data)
    average = WeightAverage(model, params["ema_decay"], params["ema_start"]) if params["ema_decay"] else None
    kept, kept_name = model, "weights"
    if resume_from is not None:
        ckpt = load_checkpoint(resume_from, device)
        model.load_state_dict(ckpt["model_state"])
        optimizer.load_state_dict(ckpt["optimizer_state"])
        rng.bit_generator.state = ckpt["numpy_rng_state"]
        torch.set_rng_state(ckpt["torch_rng_state"])
        history = list(ckpt["history"])
        start_step = ckpt["step"]
        if average is not None:
            if "ema_state" not in ckpt:
                raise ValueError(f"{str(resume_from)!r} kept no weight average; resume it without ema_decay.")
            average.load_state_dict(ckpt["ema_state"])
            if ckpt.get("kept") == "average":
                kept, kept_name = average.module, "average"
        elapsed_before = history[-1]["elapsed_s"] if history else 0.0

    last_saved = [start_step if resume_from is not None else None]  # step of the last periodic checkpoint

    def checkpoint(step: int, best: bool = False) -> None:
        """The periodic checkpoint (to resume: weights, and average if any), or the best model."""
        path = best_checkpoint_path if best else checkpoint_path
        if path is None:
            return
        if not best:
            last_saved[0] = step
        extra = dict(extra_checkpoint or {})
        if average is not None and not best:
            extra.update(ema_state=average.state_dict(), kept=kept_name)
        save_checkpoint(
            path, kept if best else model, optimizer, step=step, history=history, params=params,
            numpy_rng_state=rng.bit_generator.state, torch_rng_state=torch.get_rng_state(), extra=extra,
        )

    total_steps = params["num_training_iterations"]
    eval_every, ckpt_every = params["eval_every"], params["checkpoint_every"]
    threads = thread_chooser(params, device, say=tqdm.write)  # CPU threads by measurement (labutils.threads)
    t0 = time.perf_counter()
    step, whole_step = start_step, True
    blown_up = divergence_limit(model)
    bar = tqdm(range(start_step, total_steps), initial=start_step, total=total_steps,
               disable=not progress, desc="training")
    try:
        with _finish_step_on_ctrl_c() as interrupted:
            for step_index in bar:
                whole_step = False
                x_batch, y_batch = training_batch(step_index, train_data, train_as_written, extra_data, params, rng)
                loss = threads.run(functools.partial(scheduled_step, model, optimizer, x_batch.to(device),
                                                     y_batch.to(device), step_index, params, average))
                if not loss <= blown_up:  # NaN, inf or exploding: the weights are ruined: keep the checkpoint on disk as it is
                    bar.close()
                    raise _diverged(step_index + 1, loss, params, last_saved[0], checkpoint_path)
                step = step_index + 1
                record = {"step": step, "loss": loss, "val_bpc": None,
                          "elapsed_s": elapsed_before + time.perf_counter() - t0}
                if val_data is not None and eval_every and (step % eval_every == 0 or step == total_steps):
                    record["val_bpc"], kept, kept_name = evaluate_kept(model, average, val_data, params["seq_length"])
                    if average is not None:
                        record["kept"] = kept_name
                    bar.set_postfix(loss=f"{loss:.3f}", val_bpc=f"{record['val_bpc']:.3f}")
                history.append(record)
                whole_step = True  # model, random state and history agree from here on
                if record["val_bpc"] is not None and record["val_bpc"] <= _best(history)[0]:
                    checkpoint(step, best=True)
                if tracker is not None:
                    metrics = {"loss": loss}
                    if record["val_bpc"] is not None:
                        metrics["val_bpc"] = record["val_bpc"]
                    tracker.log_metrics(metrics, step=step)
                if on_step is not None:
                    on_step(step, history)
                if ckpt_every and step % ckpt_every == 0 and step < total_steps:
                    checkpoint(step)
                if interrupted():  # Ctrl-C arrived during this step: stop now that it is whole
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        bar.close()
        if whole_step:
            checkpoint(step)
        if checkpoint_path is not None:
            print(f"\nInterrupted after step {step}; checkpoint saved to {checkpoint_path}." if whole_step else
                  "\nInterrupted in the middle of a step: the last periodic checkpoint is kept.")
        raise
    bar.close()
    checkpoint(step)
    final = next((r["val_bpc"] for r in reversed(history) if r["val_bpc"] is not None), None)
    best_bpc, best_step = _best(history)
    return TrainResult(history=history, final_val_bpc=final,
                       checkpoint_path=Path(checkpoint_path) if checkpoint_path else None, steps=step,
                       best_val_bpc=best_bpc, best_step=best_step,
                       kept_model=kept)


@contextlib.contextmanager
def _finish_step_on_ctrl_c():
    """Within the block, a first Ctrl-C only sets a flag (the loop stops after the current
    step, so the checkpoint never holds half a step); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    received = []

    def handler(signum, frame):
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(received)
    finally:
        signal.signal(signal.SIGINT, previous)


def _best(history: List[Dict]):
    """(lowest held-out bits/char, its step) in a history, or (None, None)."""
    scored = [(r["val_bpc"], r["step"]) for r in history if r.get("val_bpc") is not None]
    return min(scored) if scored else (None, None)
