"""The exercise checks students run: [PASS] <what was verified>, or CheckFailed("[FAIL] <what> — hint: <where>").

Each check is judge(probe(student code)) from labutils.exercises: `probes` runs the student's code
on fresh random inputs (`inputs`) and returns plain data; `judges` compares that data with the
reference. The grader uses the same inputs, probes and judges (the probes in a fresh process, the
judges in its own). Messages come in the language set by `set_language("zh")` (the Chinese
notebooks call it) or LABUTILS_LANG, English otherwise (labutils.messages).
"""
from __future__ import annotations

import random
from typing import Dict, Optional

import numpy as np
import torch

from labutils.exercises.inputs import make_inputs
from labutils.exercises.judges import judge
from labutils.exercises.probes import run_probe
from labutils.messages import get_language, localize, set_language

__all__ = ["CheckFailed", "check_vectorize_string", "check_get_batch", "check_lstm_model", "check_compute_loss",
           "check_train_step", "check_generate_text", "set_language", "get_language"]


class CheckFailed(AssertionError):
    """A failed exercise check; the message says what is wrong and where to look."""


def _check(name: str, student, inputs: Dict) -> None:
    """Probe and judge one exercise; print [PASS] or raise CheckFailed, in the student's language."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        verdict = judge(name, inputs, run_probe(name, student, inputs))
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
    message = localize(verdict.message)  # the student's language (set_language / LABUTILS_LANG)
    if not verdict.passed:
        raise CheckFailed(message)
    print(message)


def check_vectorize_string(vectorize_string, char2idx, seed: Optional[int] = None) -> None:
    """Check vectorize_string(string) against char2idx on random strings."""
    _check("vectorize_string", vectorize_string,
           make_inputs("vectorize_string", np.random.default_rng(seed), char2idx=char2idx))


def check_get_batch(get_batch, vectorized_songs, seed: Optional[int] = None) -> None:
    """Check get_batch(vectorized_songs, seq_length, batch_size) on random texts and on vectorized_songs."""
    _check("get_batch", get_batch,
           make_inputs("get_batch", np.random.default_rng(seed), vectorized_songs=np.asarray(vectorized_songs)))


def check_lstm_model(LSTMModel, seed: Optional[int] = None) -> None:
    """Check the LSTMModel class: layers, init_hidden, forward with and without state."""
    _check("LSTMModel", LSTMModel, make_inputs("LSTMModel", np.random.default_rng(seed)))


def check_compute_loss(compute_loss, seed: Optional[int] = None) -> None:
    """Check compute_loss(labels, logits) against the reference cross-entropy and its gradient."""
    _check("compute_loss", compute_loss, make_inputs("compute_loss", np.random.default_rng(seed)))


def check_train_step(train_step, seed: Optional[int] = None) -> None:
    """Check two train_step(model, optimizer, x_batch, y_batch) calls against the reference."""
    _check("train_step", train_step, make_inputs("train_step", np.random.default_rng(seed)))


def check_generate_text(generate_text, seed: Optional[int] = None) -> None:
    """Check generate_text(model, start_string, generation_length) on two crafted models."""
    _check("generate_text", generate_text, make_inputs("generate_text", np.random.default_rng(seed)))
