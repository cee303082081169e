"""The reference's optimizer steps without torch.optim, for the judges' own models.

The first torch.optim optimizer in a process imports torch._dynamo, seconds of CPU in every grading
process; the judges step a tiny model with plain SGD instead (students' code still gets torch.optim.SGD).
"""
from __future__ import annotations

import copy
from typing import Dict

import torch

from labutils.training import train_step as reference_train_step


class PlainSGD:
    """torch.optim.SGD(params, lr) as it runs on a CPU (no momentum: the gradient times -lr added in place,
    zero_grad sets gradients to None)."""

    def __init__(self, params, lr: float):
        self.params, self.lr = list(params), lr

    def zero_grad(self) -> None:
        """Set every gradient to None, as torch.optim does by default."""
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Add -lr times the gradient to each parameter that has one."""
        for param in self.params:
            if param.grad is not None:
                param.add_(param.grad, alpha=-self.lr)


def stepped(model: torch.nn.Module, before: Dict[str, torch.Tensor], x: torch.Tensor, labels: torch.Tensor,
            lr: float) -> torch.nn.Module:
    """A copy of `model` with the parameters `before`, after one reference train_step on (x, labels)."""
    copied = copy.deepcopy(model)
    copied.load_state_dict(before)
    reference_train_step(copied, PlainSGD(copied.parameters(), lr=lr), x, labels)
    return copied
