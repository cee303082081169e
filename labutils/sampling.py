"""generate_text: sample characters one at a time from a trained model, carrying its state.

Also what every sampler here shares: `next_probabilities` (temperature and top-k), `sample_next`,
`check_temperature` (the one check of a temperature, for the functions and the CLI alike),
`vocab_maps`, and the model's one-character step (`step_function`, `step_kernels`). Whole tunes,
guided so that every bar has the meter's length: labutils.guided.
"""
from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Union

import torch
from torch import nn
from tqdm.auto import tqdm

from labutils.corpus import lab_vocab
from labutils.model import LSTMModel

# At most this many characters are generated per sample, and a start string may be this long:
# that many characters take minutes on a CPU and hold hundreds of tunes; more is a typo, not a wish.
MAX_GENERATION_LENGTH = 100_000
PRIME_CHUNK = 1024  # the start string primes the state this many characters at a time (bounded memory)


def check_temperature(temperature, name: str = "temperature") -> float:
    """`temperature` as a float; a ValueError naming `name` unless it is a finite number above 0."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"{name} must be a finite number above 0 (the lab uses 0.6 to 1.0), got {temperature!r}")
    return float(temperature)


@contextmanager
def step_kernels(device: torch.device) -> Iterator[None]:
    """While generating on a CPU: PyTorch's own LSTM/GRU kernel for the one-character steps.

    Why: the CPU default, oneDNN's (mkldnn) kernel, sets up every call afresh, which costs more than
    the step itself for one sample (figures: benchmarks/README.md); training's long windows keep it.
    """
    if device.type != "cpu" or not torch.backends.mkldnn.enabled:
        yield
        return
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = True


def step_function(model):
    """step(inputs (batch, seq), state) -> (logits (batch, seq, vocab), state): model(..., return_state=True).

    For labutils' one-layer LSTMModel in eval mode on a CPU, one character per row (seq 1) takes a
    faster way to the same numbers: each character's input gates (its embedding times the input
    weights, plus both biases) come from a table made here, so a step is one matrix product with
    the recurrent weights (figures: benchmarks/README.md). Any other model (a lookback model
    too) or input is the model's own call. Make it after the weights last changed (as the samplers do, in eval mode).
    """
    lstm = getattr(model, "lstm", None)
    if (not isinstance(model, LSTMModel) or not isinstance(lstm, nn.LSTM) or model.num_layers != 1 or model.training
            or model.lookback_bars
            or not lstm.bias or getattr(lstm, "proj_size", 0) or next(model.parameters()).device.type != "cpu"):
        return lambda inputs, state: model(inputs, state, return_state=True)
    table = torch.addmm(lstm.bias_ih_l0 + lstm.bias_hh_l0, model.embedding.weight, lstm.weight_ih_l0.t())  # (vocab, 4 hidden)
    recurrent = lstm.weight_hh_l0.t()  # (hidden, 4 hidden): gates i, f, g, o side by side

    def step(inputs, state):
        if inputs.size(1) != 1:
            return model(inputs, state, return_state=True)
        h, c = state[0][0], state[1][0]  # (batch, hidden)
        i, f, g, o = torch.addmm(table[inputs[:, 0]], h, recurrent).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return model.fc(h).unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0))  # (batch, 1, vocab)

    return step


def vocab_maps(vocab: Optional[Sequence[str]], char2idx: Optional[Dict[str, int]]):
    """(vocab list, char2idx) from either one; the lab's vocabulary when both are None."""
    if vocab is None and char2idx is None:
        vocab = lab_vocab()[0]
    if vocab is None:
        vocab = [c for c, _ in sorted(char2idx.items(), key=lambda item: item[1])]
    return list(vocab), {c: i for i, c in enumerate(vocab)}


def next_probabilities(logits: torch.Tensor, temperature: float = 1.0, top_k: Optional[int] = None) -> torch.Tensor:
    """Sampling probabilities (batch, vocab), float64, from logits (batch, vocab) with temperature and top-k."""
    temperature = check_temperature(temperature)
    # Shift so the largest logit is 0, and divide in float64 (float32 rounds 1e-300 to 0): a tiny
    # temperature then gives 0 and -inf (the likeliest character for sure), never NaN.
    logits = (logits - logits.max(dim=-1, keepdim=True).values).double() / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}.")
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[:, -1:]  # (batch, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits, dim=-1)  # (batch, vocab)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: Optional[int] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Draw one index per row from logits (batch, vocab) -> (batch, 1), with temperature and top-k."""
    probs = next_probabilities(logits, temperature, top_k)  # (batch, vocab)
    return torch.multinomial(probs, num_samples=1, generator=generator)  # (batch, 1)


def generate_text(
    model,
    start_string: str,
    generation_length: int = 1000,
    *,
    vocab: Optional[Sequence[str]] = None,
    char2idx: Optional[Dict[str, int]] = None,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    num_samples: int = 1,
    seed: Optional[int] = None,
    progress: bool = False,
) -> Union[str, List[str]]:
    """Continue `start_string` by `generation_length` sampled characters.

    The whole start string primes the model's state, then each sampled character is fed
    back in with the carried state. `num_samples` > 1 samples that many texts at once in
    one batch and returns a list. The vocabulary defaults to the lab's (`labutils.corpus.lab_vocab`).
    """
    vocab, char2idx = vocab_maps(vocab, char2idx)
    if not start_string:
        raise ValueError("start_string must not be empty (the lab uses 'X', the start of a tune).")
    unknown = sorted(set(start_string) - char2idx.keys())
    if unknown:
        raise ValueError(
            f"start_string has characters not in the vocabulary: {''.join(unknown)!r}. "
            f"Known characters: {''.join(vocab)!r}"
        )
    if generation_length < 0 or num_samples < 1:
        raise ValueError("generation_length must be >= 0 and num_samples >= 1.")
    for what, size in (("generation_length", generation_length), ("the start string", len(start_string))):
        if size > MAX_GENERATION_LENGTH:
            raise ValueError(f"{what} is {size:,} characters; the limit is {MAX_GENERATION_LENGTH:,} "
                             "(a tune is about 300): ask for fewer")
    device = next(model.parameters()).device
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
    was_training = model.training
    model.eval()
    start = torch.tensor([[char2idx[c] for c in start_string]], dtype=torch.long, device=device)
    input_idx = start.repeat(num_samples, 1)  # (num_samples, len(start_string))
    generated = torch.empty(num_samples, generation_length, dtype=torch.long)
    try:
        with torch.inference_mode(), step_kernels(device):
            state, step = model.init_hidden(num_samples, device), step_function(model)
            while input_idx.size(1) > PRIME_CHUNK:  # prime with all but the last chunk, keeping only the state
                _, state = model(input_idx[:, :PRIME_CHUNK], state, return_state=True)
                input_idx = input_idx[:, PRIME_CHUNK:]
            for i in tqdm(range(generation_length), disable=not progress, desc="generating"):
                logits, state = step(input_idx, state)  # (num_samples, seq, vocab)
                input_idx = sample_next(logits[:, -1, :], temperature, top_k, generator)  # (num_samples, 1)
                generated[:, i] = input_idx[:, 0].cpu()
    finally:
        model.train(was_training)
    texts = [start_string + "".join(vocab[j] for j in row) for row in generated.tolist()]
    return texts[0] if num_samples == 1 else texts
