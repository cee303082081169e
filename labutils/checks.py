"""The exercise checks students run: [PASS] <what was verified>, or CheckFailed("[FAIL] <what> — hint: <where>").

Each check is judge(probe(student code)): `labutils.grading_probe` runs the student's code on
fresh random inputs and returns plain data; `labutils.grading_judges` compares that data with
the reference. The grader runs the same probes inside the student's kernel and the same judges
in its own process.
"""
from __future__ import annotations

import random
from typing import Dict, Optional

import numpy as np
import torch

from labutils import grading_probe
from labutils.grading_judges import judge
from labutils.grading_probe import EXERCISES
from labutils.text import lab_vocab

__all__ = ["CheckFailed", "check_vectorize_string", "check_get_batch", "check_lstm_model", "check_compute_loss",
           "check_train_step", "check_generate_text", "make_inputs"]


class CheckFailed(AssertionError):
    """A failed exercise check; the message says what is wrong and where to look."""


def make_inputs(name: str, rng: np.random.Generator, **given) -> Dict:
    """Fresh random inputs for one exercise's probe (plain data that torch.save can store)."""
    if name == "vectorize_string":
        char2idx = given.get("char2idx") or lab_vocab()[1]
        chars = sorted(char2idx)
        strings = ["".join(rng.choice(chars, size=n)) for n in (1, int(rng.integers(5, 20)), int(rng.integers(150, 300)))]
        return {"strings": strings, "char2idx": dict(char2idx)}
    if name == "get_batch":
        songs = given.get("vectorized_songs")
        songs = torch.from_numpy(rng.integers(0, 83, 3000)) if songs is None else songs
        seq1, seq2, seq3 = int(rng.integers(5, 20)), int(rng.integers(30, 60)), int(rng.integers(3, 10))
        calls = [{"source": "data", "length": 1000, "seq_length": seq1, "batch_size": 32},
                 {"source": "data", "length": 1000, "seq_length": seq1, "batch_size": 32},
                 {"source": "data", "length": 1000, "seq_length": seq2, "batch_size": 4},
                 {"source": "data", "length": seq3 + 2, "seq_length": seq3, "batch_size": 64},
                 {"source": "songs", "length": len(songs), "seq_length": int(rng.integers(20, 100)), "batch_size": 8}]
        return {"data": torch.from_numpy(rng.permutation(1000)), "songs": songs, "calls": calls,
                "seed": int(rng.integers(2**31))}
    if name == "LSTMModel":
        vocab_size, embedding_dim, hidden_size = (int(v) for v in rng.choice(np.arange(4, 40), 3, replace=False))
        vocab_size += 40
        batch, seq = (int(v) for v in rng.choice(np.arange(2, 9), 2, replace=False))
        state = torch.from_numpy(rng.standard_normal((2, 1, batch, hidden_size)).astype(np.float32))
        return {"vocab_size": vocab_size, "embedding_dim": embedding_dim, "hidden_size": hidden_size,
                "x": torch.from_numpy(rng.integers(0, vocab_size, (batch, seq))), "h0": state[0], "c0": state[1],
                "seed": int(rng.integers(2**31))}
    if name == "compute_loss":
        shapes = [(3, 5, 83), (2, 6, 6), (1, int(rng.integers(2, 9)), int(rng.integers(10, 40)))]
        return {"cases": [{"labels": torch.from_numpy(rng.integers(0, v, (b, s))),
                           "logits": torch.from_numpy((3 * rng.standard_normal((b, s, v))).astype(np.float32))}
                          for b, s, v in shapes]}
    if name == "train_step":
        vocab_size = int(rng.integers(10, 30))
        batches = [tuple(torch.from_numpy(rng.integers(0, vocab_size, (4, 6))) for _ in range(2)) for _ in range(2)]
        return {"vocab_size": vocab_size, "seed": int(rng.integers(2**31)), "lr": 0.5, "batches": batches}
    if name == "generate_text":
        vocab = list(lab_vocab()[0])
        likely = rng.choice(len(vocab), 3, replace=False)
        logits = np.full(len(vocab), -40.0)
        logits[likely] = np.log([0.6, 0.3, 0.1])
        return {"vocab": vocab, "start": "".join(rng.choice(vocab, size=int(rng.integers(2, 6)))),
                "length": int(rng.integers(40, 80)), "step": int(rng.integers(1, len(vocab))),
                "seed": int(rng.integers(2**31)), "logits": logits.tolist(), "sample_length": 600}
    raise ValueError(f"Unknown exercise {name!r}; known: {', '.join(EXERCISES)}")


def _check(name: str, student, inputs: Dict) -> None:
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        verdict = judge(name, inputs, grading_probe.run_probe(name, student, inputs))
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
    if not verdict.passed:
        raise CheckFailed(verdict.message)
    print(verdict.message)


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
