"""The training loop: `train` runs the lab's pieces (labutils.training) for many steps on the
schedule of labutils.schedule, with an optional moving average of the weights, held-out
evaluation, atomic checkpoints, exact resume and a Ctrl-C that finishes the current step first."""
from __future__ import annotations

import contextlib
import functools
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from tqdm.auto import tqdm

from labutils.checkpoints import load_checkpoint, save_checkpoint
from labutils.model import init_output_bias
from labutils.params import with_defaults
from labutils.schedule import learning_rate_at, lookback_inputs, scheduled_step, training_batch
from labutils.threads import thread_chooser
from labutils.training import evaluate_bpc, make_optimizer

PathLike = Union[str, Path]


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
        """Move the average towards the model's current weights (after each optimisation step)."""
        self.averaged.update_parameters(model)

    def state_dict(self) -> Dict:
        """The average's weights and update count, for a checkpoint."""
        return self.averaged.state_dict()

    def load_state_dict(self, state: Dict) -> None:
        """Restore what `state_dict` returned (a resume)."""
        self.averaged.load_state_dict(state)


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
    ln(vocab_size) (where a fresh model starts, and falls from). inf when unknown."""
    vocab_size = getattr(model, "vocab_size", None)
    return 10 * math.log(vocab_size) if isinstance(vocab_size, int) and vocab_size > 1 else math.inf


def _diverged(step: int, loss: float, params: Dict, last_saved: Optional[int], path) -> TrainingDiverged:
    """The error of a loss that blew up at `step`: what is kept on disk and what to try."""
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


@dataclass
class RunState:
    """Where a run stands: its history, its last whole step, the model it keeps (the weights, or
    their average when that did better on held-out data) and the seconds trained before a resume."""

    kept: torch.nn.Module
    kept_name: str = "weights"
    history: List[Dict] = field(default_factory=list)
    step: int = 0
    elapsed_before: float = 0.0


def resume_state(path: PathLike, model, optimizer, rng: np.random.Generator,
                 average: Optional[WeightAverage] = None) -> RunState:
    """Load the checkpoint at `path` into the model, optimizer, random state and weight average,
    and return where that run stood."""
    ckpt = load_checkpoint(path, next(model.parameters()).device)
    if ckpt.get("optimizer_state") is None:
        raise ValueError(f"{str(path)!r} holds a model only (e.g. best.pt), not a run to resume: "
                         "resume from the run's checkpoint.pt.")
    model.load_state_dict(ckpt["model_state"])
    optimizer.load_state_dict(ckpt["optimizer_state"])
    rng.bit_generator.state = ckpt["numpy_rng_state"]
    torch.set_rng_state(ckpt["torch_rng_state"])
    history = list(ckpt["history"])
    state = RunState(kept=model, history=history, step=ckpt["step"],
                     elapsed_before=history[-1]["elapsed_s"] if history else 0.0)
    if average is not None:
        if "ema_state" not in ckpt:
            raise ValueError(f"{str(path)!r} kept no weight average; resume it without ema_decay.")
        average.load_state_dict(ckpt["ema_state"])
        if ckpt.get("kept") == "average":
            state.kept, state.kept_name = average.module, "average"
    return state


class Checkpoints:
    """Where a run saves itself: the periodic checkpoint at `path` (all an exact resume needs: weights,
    optimizer, step, history, random state, and the weight average with the name of the model kept)
    and the kept model at each new best held-out loss at `best_path`. A path of None saves nothing."""

    def __init__(self, path: Optional[PathLike], best_path: Optional[PathLike], optimizer, params: Dict,
                 rng: np.random.Generator, average: Optional[WeightAverage] = None, extra: Optional[Dict] = None,
                 last_saved: Optional[int] = None):
        self.path, self.best_path = path, best_path
        self.optimizer, self.params, self.rng, self.average = optimizer, params, rng, average
        self.extra = dict(extra or {})  # more entries for every file, e.g. the vocabulary
        self.last_saved = last_saved  # step of the last periodic checkpoint (None: none yet)

    def save(self, model, state: RunState) -> None:
        """Write the periodic checkpoint of `model` at `state.step`."""
        if self.path is None:
            return
        self.last_saved = state.step
        extra = dict(self.extra)
        if self.average is not None:
            extra.update(ema_state=self.average.state_dict(), kept=state.kept_name)
        self._write(self.path, model, state, extra)

    def save_best(self, state: RunState) -> None:
        """Write the model the run keeps, at a new lowest held-out loss: the model only (no optimizer
        state, twice the model's size; a resume reads the periodic checkpoint)."""
        if self.best_path is not None:
            self._write(self.best_path, state.kept, state, self.extra, with_optimizer=False)

    def _write(self, path: PathLike, model, state: RunState, extra: Dict, with_optimizer: bool = True) -> None:
        """One atomic checkpoint of `model` with the run's random state, history and (by default) optimizer."""
        save_checkpoint(path, model, self.optimizer if with_optimizer else None, step=state.step, history=state.history, params=self.params,
                        numpy_rng_state=self.rng.bit_generator.state, torch_rng_state=torch.get_rng_state(),
                        extra=extra)


class _Loop:
    """The steps of one `train` call: what each reads and updates, what it records and reports."""

    def __init__(self, model, optimizer, params: Dict, rng: np.random.Generator, average: Optional[WeightAverage],
                 saver: Checkpoints, texts: Tuple, val_data: Optional[np.ndarray], tracker=None,
                 on_step: Optional[Callable[[int, List[Dict]], None]] = None):
        self.model, self.optimizer, self.params, self.rng, self.average = model, optimizer, params, rng, average
        self.saver, self.val_data, self.tracker, self.on_step = saver, val_data, tracker, on_step
        self.texts = texts  # (train_data, train_as_written, extra_data), as `training_batch` reads them
        self.lookbacks = lookback_inputs(model, *texts)  # a lookback model's input for each, else None
        self.device = next(model.parameters()).device
        self.blown_up = divergence_limit(model)

    def step(self, step_index: int, threads) -> float:
        """Optimisation step `step_index` (0-based) on its scheduled batch; a blown-up loss raises."""
        x_batch, y_batch, *lookback = training_batch(step_index, *self.texts, self.params, self.rng, self.lookbacks)
        lookback = lookback[0].to(self.device) if lookback else None
        loss = threads.run(functools.partial(scheduled_step, self.model, self.optimizer, x_batch.to(self.device),
                                             y_batch.to(self.device), step_index, self.params, self.average,
                                             lookback))
        if not loss <= self.blown_up:  # NaN, inf or exploding: the weights are ruined; the checkpoint on disk stays
            raise _diverged(step_index + 1, loss, self.params, self.saver.last_saved, self.saver.path)
        return loss

    def record(self, state: RunState, step: int, loss: float, elapsed: float) -> Dict:
        """The history record of `step`, with the held-out bits/char of the kept model when one is due."""
        record = {"step": step, "loss": loss, "val_bpc": None, "elapsed_s": state.elapsed_before + elapsed}
        every, total = self.params["eval_every"], self.params["num_training_iterations"]
        if self.val_data is not None and every and (step % every == 0 or step == total):
            record["val_bpc"], state.kept, state.kept_name = evaluate_kept(
                self.model, self.average, self.val_data, self.params["seq_length"])
            if self.average is not None:
                record["kept"] = state.kept_name
        return record

    def report(self, state: RunState, record: Dict) -> None:
        """After a whole step: the best model, the tracker, `on_step`, the periodic checkpoint."""
        step, total, every = record["step"], self.params["num_training_iterations"], self.params["checkpoint_every"]
        if record["val_bpc"] is not None and record["val_bpc"] <= _best(state.history)[0]:
            self.saver.save_best(state)
        if self.tracker is not None:
            metrics = {"loss": record["loss"]}
            if record["val_bpc"] is not None:
                metrics["val_bpc"] = record["val_bpc"]
            self.tracker.log_metrics(metrics, step=step)
        if self.on_step is not None:
            self.on_step(step, state.history)
        if every and step % every == 0 and step < total:
            self.saver.save(self.model, state)

    def run(self, state: RunState, progress: bool = True) -> None:
        """Step from `state.step` to the last step. A Ctrl-C ends the current step, saves it and re-raises."""
        total = self.params["num_training_iterations"]
        threads = thread_chooser(self.params, self.device, say=tqdm.write)  # CPU threads by measurement
        bar = tqdm(range(state.step, total), initial=state.step, total=total, disable=not progress, desc="training")
        t0, whole_step = time.perf_counter(), True
        try:
            with bar, _finish_step_on_ctrl_c() as interrupted:
                for step_index in bar:
                    whole_step = False
                    loss = self.step(step_index, threads)
                    record = self.record(state, step_index + 1, loss, time.perf_counter() - t0)
                    if record["val_bpc"] is not None:
                        bar.set_postfix(loss=f"{loss:.3f}", val_bpc=f"{record['val_bpc']:.3f}")
                    state.history.append(record)
                    state.step, whole_step = record["step"], True  # model, random state and history agree
                    self.report(state, record)
                    if interrupted():  # Ctrl-C arrived during this step: stop now that it is whole
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            if whole_step:
                self.saver.save(self.model, state)
            if self.saver.path is not None:
                print(f"\nInterrupted after step {state.step}; checkpoint saved to {self.saver.path}." if whole_step
                      else "\nInterrupted in the middle of a step: the last periodic checkpoint is kept.")
            raise


def train(model, train_data: np.ndarray, params: Dict, *, val_data: Optional[np.ndarray] = None,
          optimizer: Optional[torch.optim.Optimizer] = None, checkpoint_path: Optional[PathLike] = None,
          best_checkpoint_path: Optional[PathLike] = None, resume_from: Optional[PathLike] = None, tracker=None,
          extra_checkpoint: Optional[Dict] = None, on_step: Optional[Callable[[int, List[Dict]], None]] = None,
          progress: bool = True, train_as_written: Optional[np.ndarray] = None,
          extra_data: Optional[np.ndarray] = None, threads: Optional[int] = None) -> TrainResult:
    """Train `model` on `train_data` (int64 array) for params["num_training_iterations"] steps.

    Every `eval_every` steps the held-out bits/char on `val_data` is recorded; every
    `checkpoint_every` steps, at the end and on Ctrl-C a checkpoint is written atomically to
    `checkpoint_path`, and at each new best held-out loss the model to `best_checkpoint_path`
    (`Checkpoints`). `resume_from` continues a checkpoint exactly where it stopped (`resume_state`).
    With params["ema_decay"], a moving average of the weights (`WeightAverage`) is kept beside
    them and each evaluation keeps the better of the two (`evaluate_kept`): the recorded held-out
    figure, the best checkpoint and `result.kept_model` are the kept model's. `train_as_written`
    (the tunes without transposed copies) and `extra_data` (more tunes) are read on the schedule of
    labutils.schedule. With params["init_output_bias"], a fresh start first sets the output bias
    to the log character frequencies (`labutils.model.init_output_bias`). `threads` fixes the CPU
    threads (params["threads"]); by default they are measured (labutils.threads).
    """
    params = with_defaults(params if threads is None else {**params, "threads": threads})
    optimizer = optimizer or make_optimizer(model, params)
    rng = np.random.default_rng(params["seed"])
    torch.manual_seed(params["seed"])
    if resume_from is None and params["init_output_bias"]:
        init_output_bias(model, train_as_written if train_as_written is not None else train_data)
    average = WeightAverage(model, params["ema_decay"], params["ema_start"]) if params["ema_decay"] else None
    state = RunState(kept=model) if resume_from is None else resume_state(resume_from, model, optimizer, rng, average)
    saver = Checkpoints(checkpoint_path, best_checkpoint_path, optimizer, params, rng, average, extra_checkpoint,
                        last_saved=None if resume_from is None else state.step)
    _Loop(model, optimizer, params, rng, average, saver, (train_data, train_as_written, extra_data), val_data,
          tracker, on_step).run(state, progress)
    saver.save(model, state)
    best_bpc, best_step = _best(state.history)
    return TrainResult(history=state.history, final_val_bpc=_last_val_bpc(state.history),
                       checkpoint_path=Path(checkpoint_path) if checkpoint_path else None, steps=state.step,
                       best_val_bpc=best_bpc, best_step=best_step, kept_model=state.kept)


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


def _last_val_bpc(history: List[Dict]) -> Optional[float]:
    """The last held-out bits/char in a history, or None."""
    return next((r["val_bpc"] for r in reversed(history) if r["val_bpc"] is not None), None)
