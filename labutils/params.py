"""Hyperparameters: the lab notes' values, our CPU default, the small CI settings, the presets
that choose among them and the checks a run's settings pass before training starts.

"seed" in this package means a random seed only; the lab notes' settings are NOTES_PARAMS."""
from __future__ import annotations

import math
import os
from typing import Dict, Mapping, Optional, Sequence

# The lab notes' hyperparameters, unchanged (vocab_size comes from the data).
NOTES_PARAMS: Dict = {
    "num_training_iterations": 3000,
    "batch_size": 8,
    "seq_length": 100,
    "learning_rate": 5e-3,
    "embedding_dim": 256,
    "hidden_size": 1024,
}

# What `make run` uses on a CPU: the best held-out loss we found for ten minutes of training on
# 2 cores (how it was chosen: benchmarks/tuning/README.md): a wider LSTM reading longer windows,
# regularised against memorising the training tunes (dropout, copies of the tunes moved into
# the keys the tradition plays for their mode, and for part of the run half of each batch from
# music21's Irish collections), with a cosine learning-rate schedule, and the lookback input
# (labutils.lookback: the character at the same place four bars back) that lets it restate a phrase.
CPU_PARAMS: Dict = {
    "num_training_iterations": 2200,
    "batch_size": 16,
    "seq_length": 256,
    "learning_rate": 6e-3,
    "embedding_dim": 128,
    "hidden_size": 640,
    "dropout": 0.5,
    "weight_dropout": 0.0,
    "grad_clip": 1.0,
    "lr_schedule": "cosine",
    "warmup_steps": 30,
    "transpose": "tradition",
    "transpose_from": 300,
    "init_output_bias": True,
    "cpu_bf16": True,
    "extra_tunes": ["oneills", "ryans"],
    "extra_share": 0.5,
    "extra_from": 300,
    "extra_until": 1100,
    "lookback_bars": 4,
}

# Settings of the training loop that the notes do not name; any params dict may override them.
# The notes' recipe is: constant learning rate, no dropout, no weight average, float32.
TRAINING_DEFAULTS: Dict = {
    "num_layers": 1,
    "dropout": 0.0,
    "cell": "lstm",
    "weight_dropout": 0.0,
    "lr_schedule": "constant",
    "warmup_steps": 0,
    "ema_decay": None,
    "ema_start": 0,
    "cpu_bf16": False,
    "grad_clip": None,
    "weight_decay": 0.0,
    "eval_every": 100,
    "checkpoint_every": 200,
    "seed": 0,
    "transpose": [],  # semitones: train on each tune also moved by these (labutils.music.transpose),
    # or "tradition": into the keys the tunes are played in for their mode (labutils.music.keys)
    "transpose_from": 0,  # ... from this step on; the tunes as written before it
    "init_output_bias": False,  # a fresh start sets the output bias to log character frequencies
    "threads": None,  # CPU threads; None: measured at 1 and 2 during the run (labutils.threads)
    "extra_tunes": [],  # music21 collections added to the training half (labutils.extra_tunes)
    "extra_share": 0.25,  # ... read as this share of each batch's windows
    "extra_from": 0,  # ... from this step
    "extra_until": None,  # ... until this step (None: to the end)
    "played_share": 0.0,  # this share of the training tunes also written as played (labutils.music.played)
    "lookback_bars": 0,  # > 0: the model also reads the character at the same place that many bars back
    # (labutils.lookback), so that it can restate a phrase
}

# One environment variable shrinks every notebook's settings so CI runs in minutes.
SMALL_ENV = "LABUTILS_SMALL"
SMALL_PARAMS: Dict = {
    "num_training_iterations": 30,
    "batch_size": 8,
    "seq_length": 64,
    "embedding_dim": 32,
    "hidden_size": 64,
    "eval_every": 10,
    "checkpoint_every": 10,
}

# A model for the steps after training when no trained one is at hand (labutils.pretrained):
# small enough to train quickly on a CPU.
QUICK_PARAMS: Dict = {
    "num_training_iterations": 600,
    "batch_size": 32,
    "seq_length": 100,
    "learning_rate": 5e-3,
    "embedding_dim": 64,
    "hidden_size": 256,
}

MODEL_KEYS = ("embedding_dim", "hidden_size", "num_layers", "dropout", "cell", "weight_dropout", "lookback_bars")


def small_settings_enabled() -> bool:
    """True when LABUTILS_SMALL=1 (CI, grading): notebooks shrink their settings."""
    return os.environ.get(SMALL_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def maybe_small(params: Dict, verbose: bool = True) -> Dict:
    """Return `params`, or a shrunk copy when LABUTILS_SMALL=1, saying so."""
    if not small_settings_enabled():
        return dict(params)
    small = {**params, **{k: v for k, v in SMALL_PARAMS.items() if k in params or k in TRAINING_DEFAULTS}}
    if verbose:
        changed = {k: small[k] for k in small if params.get(k) != small[k]}
        print(f"{SMALL_ENV}=1: small settings for a quick check, not for good music: {changed}")
    return small


def with_defaults(params: Dict) -> Dict:
    """A copy of `params` with TRAINING_DEFAULTS filled in where a key is missing."""
    return {**TRAINING_DEFAULTS, **params}


def model_kwargs(params: Dict, vocab: Optional[Sequence[str]] = None) -> Dict:
    """The LSTMModel keyword arguments found in a params dict (embedding_dim, hidden_size, ...);
    with params["lookback_bars"] also `lookback_vocab`, made from `vocab` (needed then)."""
    merged = with_defaults(params)
    kwargs = {k: merged[k] for k in MODEL_KEYS}
    if kwargs["lookback_bars"]:
        if vocab is None:
            raise ValueError("lookback_bars needs the vocabulary: model_kwargs(params, vocab)")
        kwargs["lookback_vocab"] = "".join(vocab)
    return kwargs


def choose_params(preset: str, device) -> Dict:
    """The hyperparameters of a preset (notes, cpu, small; "preset" says which) with TRAINING_DEFAULTS
    filled in; "auto" = notes on a GPU (`device`, a torch.device), cpu on a CPU, small under LABUTILS_SMALL=1."""
    if preset == "auto":
        preset = "small" if small_settings_enabled() else ("notes" if device.type == "cuda" else "cpu")
    presets = {"notes": NOTES_PARAMS, "cpu": CPU_PARAMS, "small": {**NOTES_PARAMS, **SMALL_PARAMS}}
    if preset not in presets:
        raise ValueError(f"preset must be auto or one of {', '.join(presets)}, got {preset!r}")
    return {**with_defaults(presets[preset]), "preset": preset}


def check_params(params: Dict, names: Optional[Mapping[str, str]] = None) -> None:
    """Refuse, in one line, settings training cannot run with (whole `params`, defaults filled in).

    The message names the setting as `names` does (the CLI passes its flags, {"batch_size":
    "--batch-size", ...}), else by its key."""
    def name(key: str) -> str:
        return (names or {}).get(key, key)

    for key in ("num_training_iterations", "batch_size", "seq_length", "embedding_dim", "hidden_size", "num_layers"):
        if not isinstance(params.get(key), int) or params[key] < 1:
            raise ValueError(f"{name(key)} must be a whole number of at least 1, got {params.get(key)!r}")
    bars = params.get("lookback_bars", 0)
    if isinstance(bars, bool) or not isinstance(bars, int) or bars < 0:
        raise ValueError(f"{name('lookback_bars')} must be a whole number of 0 (off) or more, got {bars!r}")
    if bars and params.get("cell", "lstm") != "lstm":
        raise ValueError(f"{name('lookback_bars')} needs the LSTM cell, not {params.get('cell')!r}")
    for key in ("eval_every", "checkpoint_every"):
        if params.get(key) is not None and params[key] < 0:
            raise ValueError(f"{name(key)} must be 0 (never) or more, got {params[key]}")
    rate = params.get("learning_rate")
    if not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"{name('learning_rate')} must be a finite number above 0 (the lab uses 5e-3), got {rate!r}")
    if not 0.0 <= params.get("dropout", 0.0) < 1.0:
        raise ValueError(f"{name('dropout')} must be in [0, 1), got {params['dropout']}")
    for key, what in (("extra_share", "of the batch"), ("played_share", "of the training tunes")):
        share = params.get(key, 0.0)
        if not (isinstance(share, (int, float)) and 0.0 <= share <= 1.0):
            raise ValueError(f"{name(key)} must be a share {what} in [0, 1], got {share!r}")
    for key in ("extra_from", "extra_until"):
        step = params.get(key)
        if step is not None and (not isinstance(step, int) or step < 0):
            raise ValueError(f"{name(key)} must be a step number of 0 or more, got {step!r}")
    transpose = params.get("transpose", [])
    if transpose != "tradition" and not (isinstance(transpose, (list, tuple))
                                         and all(isinstance(shift, int) for shift in transpose)):
        raise ValueError(f"{name('transpose')} must be semitones (e.g. [-2, 2]) or 'tradition', got {transpose!r}")
    clip = params.get("grad_clip")
    if clip is not None and not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"{name('grad_clip')} must be a finite number above 0, got {clip}")

# How `make run` samples tunes. The notes sample at temperature 1; slightly below 1 more
# of the generated tunes are clean ABC (benchmarks/README.md). Guided tunes draw their header
# (title, meter, key: which tune to write) at header_temperature: at 1 the keys and tune types
# come as often as the model learnt them; below 1 the commonest (D and G major) crowd out the rest.
GENERATION_DEFAULTS: Dict = {"temperature": 0.7, "top_k": None, "header_temperature": 1.0}
