"""labutils.training: the lab's pieces (the loss, one step, the optimizer)."""
import math

import pytest
import torch

from labutils import training
from labutils.model import LSTMModel


def make_model():
    torch.manual_seed(0)
    return LSTMModel(12, 16, 32)


def test_compute_loss_matches_uniform_and_flattening():
    logits = torch.zeros(2, 3, 12)
    labels = torch.randint(0, 12, (2, 3))
    assert training.compute_loss(labels, logits).item() == pytest.approx(math.log(12))
    logits = torch.randn(2, 3, 12)
    expected = torch.nn.functional.cross_entropy(logits.permute(0, 2, 1), labels)
    assert training.compute_loss(labels, logits).item() == pytest.approx(expected.item())


def test_gradient_clipping_bounds_the_update():
    model = make_model()
    x = torch.randint(0, 12, (4, 8))
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    training.train_step(model, opt, x, x, grad_clip=1e-3)
    step_norm = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert step_norm.item() == pytest.approx(1e-3, rel=1e-3)


def test_make_optimizer_is_the_notes_adam_in_one_fused_kernel():
    params = {"learning_rate": 5e-3}
    ours, notes = make_model(), make_model()
    optimizer = training.make_optimizer(ours, params)
    assert optimizer.defaults["fused"] is True  # CPU parameters: PyTorch's fused Adam
    notes_optimizer = torch.optim.Adam(notes.parameters(), lr=params["learning_rate"])  # the notes' line
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        x, y = torch.randint(0, 12, (4, 16), generator=generator), torch.randint(0, 12, (4, 16), generator=generator)
        loss = training.train_step(ours, optimizer, x, y)
        assert loss == pytest.approx(training.train_step(notes, notes_optimizer, x, y), abs=1e-5)
    for a, b in zip(ours.parameters(), notes.parameters()):
        assert torch.allclose(a, b, atol=1e-5)
    assert not torch.equal(ours.fc.weight, make_model().fc.weight)  # the steps moved the weights
