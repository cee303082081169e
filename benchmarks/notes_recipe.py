"""The lab notes' recipe, as the notes write it: the baseline every benchmark compares against.

This file reproduces the code of the lab notes (shared/seeds/000_728f11a72461191e.txt)
on purpose, slow parts included: `get_batch` builds Python lists and calls
`torch.tensor(list)`, the training loop re-wraps the batch with `torch.tensor(x_batch)`,
`generate_text` samples one character at a time. Only what is needed to run outside
their notebook is changed, each marked "ADAPTED": the notebook globals (`model`,
`optimizer`, `char2idx`, `idx2char`, `device`) become arguments, tqdm is left out, and
`init_hidden` / `train_step` / `cross_entropy`, which the notes use without printing,
are written as in the MIT 6.S191 PyTorch lab they come from. `play_song` is the
notes' `mdl.lab1.play_song` (mitdeeplearning 0.7.5): it runs the package's own
`bin/abc2wav` script (abc2midi then timidity) on a tmp.abc file. Do not "fix" this file.
"""
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

cross_entropy = nn.CrossEntropyLoss()  # ADAPTED: the notes call it without showing its definition

# The notes' hyperparameters (vocab_size, 83, comes from the data).
params = dict(
    num_training_iterations=3000,
    batch_size=8,
    seq_length=100,
    learning_rate=5e-3,
    embedding_dim=256,
    hidden_size=1024,
)


def vectorize_string(string, char2idx):  # ADAPTED: char2idx was a notebook global
    """The notes' vectorize_string: a Python list comprehension turned into an array."""
    vector = [char2idx[char] for char in string]
    return np.array(vector)


def get_batch(vectorized_songs, seq_length, batch_size):
    """The notes' get_batch: windows gathered into Python lists, then torch.tensor(list)."""
    n = vectorized_songs.shape[0] - 1
    idx = np.random.choice(n - seq_length, batch_size)
    input_batch = [vectorized_songs[i:i + seq_length] for i in idx]
    output_batch = [vectorized_songs[i + 1:i + seq_length + 1] for i in idx]
    x_batch = torch.tensor(input_batch, dtype=torch.long)
    y_batch = torch.tensor(output_batch, dtype=torch.long)
    return x_batch, y_batch


class LSTMModel(nn.Module):
    """The notes' model: Embedding -> one LSTM layer -> Linear."""

    def __init__(self, vocab_size, embedding_dim, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(input_size=embedding_dim, hidden_size=hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def init_hidden(self, batch_size, device):
        """ADAPTED: not printed in the notes; the MIT lab's zero (h, c) of shape (1, batch, hidden)."""
        return (torch.zeros(1, batch_size, self.hidden_size).to(device),
                torch.zeros(1, batch_size, self.hidden_size).to(device))

    def forward(self, x, state=None, return_state=False):
        """Logits (batch, seq, vocab), and the state when return_state is True."""
        x = self.embedding(x)
        if state is None:
            state = self.init_hidden(x.size(0), x.device)
        out, state = self.lstm(x, state)
        out = self.fc(out)
        return out if not return_state else (out, state)


def compute_loss(labels, logits):
    """The notes' compute_loss: flatten and apply CrossEntropyLoss."""
    batched_labels = labels.view(-1)
    batched_logits = logits.view(-1, logits.size(-1))
    loss = cross_entropy(batched_logits, batched_labels)
    return loss


def make_optimizer(model):
    """The notes' optimizer: Adam at params['learning_rate'] (5e-3)."""
    return torch.optim.Adam(model.parameters(), lr=params['learning_rate'])


def train_step(model, optimizer, x, y):  # ADAPTED: model and optimizer were notebook globals
    """The MIT lab's train_step (not printed in the notes): zero_grad, forward, loss, backward, step."""
    model.train()
    optimizer.zero_grad()
    y_hat = model(x)
    loss = compute_loss(y, y_hat)
    loss.backward()
    optimizer.step()
    return loss


def training_iteration(model, optimizer, vectorized_songs, device):
    """One pass of the notes' training loop body, tqdm left out (ADAPTED: globals as arguments)."""
    x_batch, y_batch = get_batch(vectorized_songs, params["seq_length"], params["batch_size"])
    x_batch = torch.tensor(x_batch, dtype=torch.long).to(device)
    y_batch = torch.tensor(y_batch, dtype=torch.long).to(device)
    loss = train_step(model, optimizer, x_batch, y_batch)
    return loss


def generate_text(model, start_string, generation_length=1000, *, char2idx, idx2char, device):
    """The notes' generate_text, one character per model call, tqdm left out (ADAPTED: globals as arguments)."""
    input_idx = [char2idx[s] for s in start_string]
    input_idx = torch.tensor([input_idx], dtype=torch.long).to(device)
    state = model.init_hidden(input_idx.size(0), device)
    text_generated = []
    for _ in range(generation_length):
        predictions, state = model(input_idx, state, return_state=True)
        predicted_logits = predictions[0, -1, :]
        predicted_probs = torch.nn.functional.softmax(predicted_logits, dim=-1)
        predicted_idx = torch.multinomial(predicted_probs, num_samples=1)
        predicted_char = idx2char[predicted_idx.item()]
        text_generated.append(predicted_char)
        input_idx = predicted_idx.unsqueeze(0)
    return (start_string + ''.join(text_generated))


def play_song(song):
    """mdl.lab1.play_song: write tmp.abc, run bin/abc2wav (abc2midi + timidity), return an Audio or None.

    ADAPTED: the package writes tmp.abc into the current folder and runs the script with
    os.system; here it runs in a temporary folder, through subprocess with a timeout, and
    the package is located without importing it (its __init__ imports TensorFlow). Where
    timidity's default config names a sound font this machine lacks (Debian's names
    fluid-soundfont-gm), a `timidity` first on PATH adds labutils' freepats config, so the
    script's own commands still run; without it timidity writes no WAV at all.
    """
    from IPython.display import Audio

    from labutils.music.synth import timidity_config

    package = Path(importlib.util.find_spec("mitdeeplearning").submodule_search_locations[0])
    with tempfile.TemporaryDirectory(prefix="notes-play-") as folder:
        env = dict(os.environ)
        config = timidity_config()
        if config:
            (Path(folder) / "sounds.cfg").write_text(config)
            wrapper = Path(folder) / "bin" / "timidity"
            wrapper.parent.mkdir()
            wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("timidity")} -c {folder}/sounds.cfg "$@"\n')
            wrapper.chmod(0o755)
            env["PATH"] = f"{wrapper.parent}{os.pathsep}{env.get('PATH', '')}"
        with open(Path(folder) / "tmp.abc", "w") as f:
            f.write(song)
        ret = subprocess.run(["bash", str(package / "bin" / "abc2wav"), "tmp.abc"], cwd=folder,
                             capture_output=True, timeout=60, env=env).returncode
        if ret == 0 and (Path(folder) / "tmp.wav").is_file():  # ADAPTED: the script exits 0 either way
            return Audio(str(Path(folder) / "tmp.wav"))
    return None
