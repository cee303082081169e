"""LSTMModel: embedding -> recurrent layer(s) -> linear, as in the lab notes, plus variants."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from labutils.lookback import BarReaders

State = Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor], Tuple[torch.Tensor, torch.Tensor, BarReaders]]


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout, as F.dropout, with a cheaper mask on CPU.

    Why: PyTorch's CPU dropout draws its mask with `bernoulli_`, several times slower than
    comparing `torch.rand` with p (figures: benchmarks/README.md). Other devices keep
    F.dropout's fused kernel.
    """
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training)
    if p >= 1.0:
        return x * 0.0
    mask = torch.rand(x.shape, device=x.device).ge_(p).mul_(1.0 / (1.0 - p))  # 0 or 1/(1-p)
    return x * mask.to(x.dtype)


class LSTMModel(nn.Module):
    """Character model: (batch, seq) indices -> (batch, seq, vocab_size) logits.

    The defaults are the lab's model (one LSTM layer). `num_layers`, `dropout` (on the
    embeddings, between layers and before the output layer), `weight_dropout` (drops
    recurrent weights, the hidden-to-hidden matrices, afresh for each training batch) and
    `cell="gru"` are options for the CPU default and the experiments notebook; they keep
    the same calls. `lookback_bars=N` (LSTM only; labutils.lookback) adds an input: beside each
    character the model reads the one at the same place in the bar N bars back, through a second
    embedding added to the first. Its state is then (h, c, BarReaders), and `forward` works out
    that input from the characters it reads (or takes it as `lookback`, as training does); it
    needs the vocabulary as `lookback_vocab` (a string).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        cell: str = "lstm",
        weight_dropout: float = 0.0,
        lookback_bars: int = 0,
        lookback_vocab: Optional[str] = None,
    ):
        super().__init__()
        if cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}.")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell = cell
        if not 0.0 <= weight_dropout < 1.0:
            raise ValueError(f"weight_dropout must be in [0, 1), got {weight_dropout}.")
        self.weight_dropout = weight_dropout
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lookback_bars, self.lookback_vocab = _check_lookback(lookback_bars, lookback_vocab, vocab_size, cell)
        if self.lookback_bars:  # the lookback character, "no bar back there" and "that bar ended here"
            self.lookback = nn.Embedding(vocab_size + 2, embedding_dim)
        rnn_class = nn.LSTM if cell == "lstm" else nn.GRU
        self.lstm = rnn_class(
            input_size=embedding_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def init_hidden(self, batch_size: int, device: Union[str, torch.device]) -> State:
        """Zero initial state: (h, c) for an LSTM, h for a GRU, each (layers, batch, hidden)."""
        if self.lookback_bars:
            return (*self._zero_state(batch_size, device), BarReaders(self.lookback_vocab, self.lookback_bars,
                                                                     batch_size))
        return self._zero_state(batch_size, device)

    def _zero_state(self, batch_size: int, device) -> State:
        """The recurrent layer's zero state alone: (h, c) for an LSTM, h for a GRU."""
        zeros = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def forward(self, x: torch.Tensor, state: Optional[State] = None, return_state: bool = False,
                lookback: Optional[torch.Tensor] = None):
        """Logits (batch, seq, vocab_size) for indices x (batch, seq); optionally the new state.

        A lookback model takes its lookback input (batch, seq) as `lookback` when given (training
        reads it from `labutils.lookback.lookback_ids` of the whole text), else from the readers in
        `state`, which follow the text: the state returned holds new readers, the given ones stay
        as they were."""
        readers = None
        if self.lookback_bars:
            state, readers, lookback = self._lookback_input(x, state, lookback)
        elif lookback is not None:
            raise ValueError("this model has no lookback input (lookback_bars=0)")
        embedded = self.embedding(x)
        if lookback is not None:
            embedded = embedded + self.lookback(lookback)
        x = fast_dropout(embedded, self.dropout.p, self.training)  # (batch, seq, embedding_dim)
        if state is None:
            state = self._zero_state(x.size(0), x.device)
        if self.training and self.weight_dropout > 0:  # same dropped weights at every time step
            dropped = {name: fast_dropout(getattr(self.lstm, name), self.weight_dropout)
                       for name in self.lstm._flat_weights_names if name.startswith("weight_hh")}
            out, state = torch.func.functional_call(self.lstm, dropped, (x, state))
        else:
            out, state = self.lstm(x, state)  # (batch, seq, hidden_size)
        out = self.fc(fast_dropout(out, self.dropout.p, self.training))  # (batch, seq, vocab_size)
        if readers is not None:
            state = (*state, readers)
        return out if not return_state else (out, state)

    def _lookback_input(self, x: torch.Tensor, state: Optional[State], lookback: Optional[torch.Tensor]):
        """(the LSTM's (h, c) or None, the readers for the new state or None, the lookback input)."""
        readers = None
        if isinstance(state, tuple) and len(state) == 3 and isinstance(state[2], BarReaders):
            state, readers = state[:2], state[2].clone()
        elif state is not None and not (lookback is not None and isinstance(state, tuple) and len(state) == 2):
            raise ValueError("a lookback model's state is (h, c, BarReaders), as init_hidden makes it "
                             "((h, c) only with the lookback input given)")
        if lookback is None:
            if readers is None:
                readers = BarReaders(self.lookback_vocab, self.lookback_bars, x.size(0))
            lookback = torch.from_numpy(readers.read(x.cpu())).to(x.device)
        elif readers is not None:
            readers.read(x.cpu())
        if lookback.shape != x.shape:
            raise ValueError(f"lookback input of shape {tuple(lookback.shape)} for characters of shape {tuple(x.shape)}")
        return state, readers, lookback

    def config(self) -> dict:
        """The constructor arguments, to rebuild the model from a checkpoint."""
        return {
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout.p,
            "cell": self.cell,
            "weight_dropout": self.weight_dropout,
            **({"lookback_bars": self.lookback_bars, "lookback_vocab": self.lookback_vocab} if self.lookback_bars
               else {}),
        }


def _check_lookback(bars: int, vocab: Optional[str], vocab_size: int, cell: str):
    """(bars, vocab) for LSTMModel, or a ValueError saying what is wrong."""
    if isinstance(bars, bool) or not isinstance(bars, int) or bars < 0:
        raise ValueError(f"lookback_bars must be a whole number >= 0, got {bars!r}.")
    if not bars:
        return 0, None
    if cell != "lstm":
        raise ValueError("lookback_bars needs cell='lstm'.")
    if not isinstance(vocab, str) or len(vocab) != vocab_size:
        raise ValueError(f"lookback_bars needs lookback_vocab, the {vocab_size} characters as one string.")
    return bars, vocab


def clone_state(state: State) -> State:
    """A copy of a model state (LSTM (h, c), GRU h, or a lookback model's (h, c, BarReaders))."""
    if isinstance(state, tuple):
        return tuple(s.clone() for s in state)
    return state.clone()


def copy_state_rows(target: State, source: State, rows: Sequence[int]) -> None:
    """target's batch rows `rows` become copies of source's, in place."""
    if not rows:
        return
    targets, sources = (target, source) if isinstance(target, tuple) else ((target,), (source,))
    index = torch.tensor(list(rows), dtype=torch.long, device=targets[0].device)
    for t, s in zip(targets, sources):
        if isinstance(t, BarReaders):
            t.copy_rows(s, rows)
        else:
            t.index_copy_(1, index, s.index_select(1, index))


def reset_state_rows(state: State, rows: Sequence[int]) -> None:
    """These batch rows of `state` go back to the start (zeros; readers before a tune), in place."""
    if rows:
        for s in state if isinstance(state, tuple) else (state,):
            if isinstance(s, BarReaders):
                s.reset_rows(rows)
            else:
                s[:, rows] = 0


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def init_output_bias(model: nn.Module, train_data) -> torch.Tensor:
    """Set the output layer's bias to the log frequency of each character in `train_data`.

    Why: a fresh model predicts every character about equally often; with this bias it
    starts out predicting them as often as the training text has them, so the first steps go
    to learning which character follows which (what it buys: benchmarks/README.md). Counts get
    one added, so a character absent from the text still has a finite bias. `model.fc` must be
    the output nn.Linear with one output per character; `train_data` is an int64 array or
    tensor of character indices. Returns the new bias (float32).
    """
    fc = getattr(model, "fc", None)
    if not isinstance(fc, nn.Linear) or fc.bias is None:
        raise ValueError("init_output_bias needs model.fc, an nn.Linear with a bias (one output per character).")
    data = torch.as_tensor(train_data).reshape(-1).long()
    if data.numel() == 0:
        raise ValueError("init_output_bias needs training text; got no characters.")
    if int(data.min()) < 0 or int(data.max()) >= fc.out_features:
        raise ValueError(f"train_data holds character indices outside 0..{fc.out_features - 1} "
                         f"(model.fc has {fc.out_features} outputs): wrong vocabulary?")
    counts = torch.bincount(data.cpu(), minlength=fc.out_features).double() + 1.0
    bias = torch.log(counts / counts.sum()).float()
    with torch.no_grad():
        fc.bias.copy_(bias.to(fc.bias.device))
    return bias
