"""LSTMModel: embedding -> recurrent layer(s) -> linear, as in the lab notes, plus variants."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

State = Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]


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
    the same calls.
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
        zeros = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def forward(self, x: torch.Tensor, state: Optional[State] = None, return_state: bool = False):
        """Logits (batch, seq, vocab_size) for indices x (batch, seq); optionally the new state."""
        x = fast_dropout(self.embedding(x), self.dropout.p, self.training)  # (batch, seq, embedding_dim)
        if state is None:
            state = self.init_hidden(x.size(0), x.device)
        if self.training and self.weight_dropout > 0:  # same dropped weights at every time step
            dropped = {name: fast_dropout(getattr(self.lstm, name), self.weight_dropout)
                       for name in self.lstm._flat_weights_names if name.startswith("weight_hh")}
            out, state = torch.func.functional_call(self.lstm, dropped, (x, state))
        else:
            out, state = self.lstm(x, state)  # (batch, seq, hidden_size)
        out = self.fc(fast_dropout(out, self.dropout.p, self.training))  # (batch, seq, vocab_size)
        return out if not return_state else (out, state)

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
        }


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
