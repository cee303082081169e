"""The lab's training pieces: the loss, one optimisation step, held-out evaluation, the optimizer.

These are the names of the lab notes and of the exercises (compute_loss, train_step). The loop that
puts them together (schedule, weight average, checkpoints, Ctrl-C) is labutils.training_loop.train."""
from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F

from labutils.device import training_autocast
from labutils.lookback import lookback_ids


def compute_loss(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (in nats) of logits (batch, seq, vocab) against labels (batch, seq)."""
    batched_labels = labels.reshape(-1)  # (batch * seq,)
    batched_logits = logits.reshape(-1, logits.size(-1))  # (batch * seq, vocab)
    return F.cross_entropy(batched_logits, batched_labels)


def nats_to_bits(loss: float) -> float:
    """Convert a cross-entropy in nats (PyTorch's unit) to bits per character."""
    return loss / math.log(2)


def train_step(model, optimizer, x_batch, y_batch, grad_clip: Optional[float] = None,
               cpu_bf16: bool = False, lookback: Optional[torch.Tensor] = None) -> float:
    """One Adam step on a batch: forward, loss, backward, (clip), update. Returns the loss.

    `cpu_bf16=True` runs the forward pass in bfloat16 mixed precision on a CPU with native
    support (see `labutils.device.training_autocast`); the loss is computed in float32. A
    lookback model (labutils.lookback) takes the batch's lookback input as `lookback`.
    """
    model.train()
    optimizer.zero_grad()
    with training_autocast(x_batch.device, cpu_bf16):
        logits = model(x_batch) if lookback is None else model(x_batch, lookback=lookback)  # (batch, seq, vocab)
    loss = compute_loss(y_batch, logits.float())
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


@torch.inference_mode()
def evaluate_bpc(model, vectorized: np.ndarray, seq_length: int = 256, num_streams: int = 16) -> float:
    """Held-out loss in bits per character, reading the text once as parallel streams with carried state."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    data = torch.as_tensor(np.asarray(vectorized), dtype=torch.long)
    stream_len = (data.numel() - 1) // num_streams
    if stream_len < 2:
        raise ValueError(f"Too little held-out data ({data.numel()} characters) for {num_streams} streams.")
    x_all = data[: num_streams * stream_len].view(num_streams, stream_len).to(device)  # (streams, len)
    y_all = data[1 : num_streams * stream_len + 1].view(num_streams, stream_len).to(device)
    look_all = None
    if getattr(model, "lookback_bars", 0):  # read from the text's start, as in training
        look_all = torch.from_numpy(lookback_ids(data.numpy(), model.lookback_vocab, model.lookback_bars))
        look_all = look_all[: num_streams * stream_len].view(num_streams, stream_len).to(device)
    state, total, count = None, 0.0, 0
    for start in range(0, stream_len, seq_length):
        x = x_all[:, start : start + seq_length]
        if look_all is None:
            logits, state = model(x, state, return_state=True)  # (streams, chunk, vocab)
        else:
            logits, state = model(x, state, return_state=True, lookback=look_all[:, start : start + seq_length])
        loss = compute_loss(y_all[:, start : start + seq_length], logits)
        total += loss.item() * x.numel()
        count += x.numel()
    model.train(was_training)
    return nats_to_bits(total / count)


FUSED_ADAM_DEVICES = ("cpu", "cuda")


def make_optimizer(model, params: Dict) -> torch.optim.Optimizer:
    """Adam with the lab's learning rate (and optional weight decay).

    Where every parameter is a float tensor on a CPU or a CUDA GPU, PyTorch's fused Adam
    kernel does the update: the same arithmetic as the notes' `torch.optim.Adam(...)` in one
    pass over each tensor instead of about ten (what it saves: benchmarks/README.md). Other
    devices keep the default.
    """
    parameters = list(model.parameters())
    fused = all(p.device.type in FUSED_ADAM_DEVICES and p.is_floating_point() for p in parameters)
    return torch.optim.Adam(
        parameters, lr=params["learning_rate"], weight_decay=params.get("weight_decay", 0.0),
        fused=fused or None)
