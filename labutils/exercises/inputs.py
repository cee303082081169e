"""Fresh random inputs for each exercise's probe: plain data that torch.save can store and send."""
from __future__ import annotations

from typing import Dict

import numpy as np
import torch

from labutils.corpus import lab_vocab
from labutils.exercises import EXERCISES


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
        # The sampling probe starts from "X": none of its likely characters is "X", so a text without the
        # start string never begins with it by chance.
        likely = rng.choice([i for i, char in enumerate(vocab) if char != "X"], 3, replace=False)
        logits = np.full(len(vocab), -40.0)
        logits[likely] = np.log([0.6, 0.3, 0.1])
        step, size = int(rng.integers(1, len(vocab))), len(vocab)
        # The counting model's prediction after the start's first character must differ from the one after its
        # last: else a generate_text that samples from the first position passes by chance (1 start in 80).
        while True:
            start = rng.choice(size, size=int(rng.integers(2, 6)))
            if (start[0] + step) % size != (start[-1] + step * len(start)) % size:
                break
        return {"vocab": vocab, "start": "".join(vocab[i] for i in start),
                "length": int(rng.integers(40, 80)), "step": step,
                "seed": int(rng.integers(2**31)), "logits": logits.tolist(), "sample_length": 600}
    raise ValueError(f"Unknown exercise {name!r}; known: {', '.join(EXERCISES)}")
