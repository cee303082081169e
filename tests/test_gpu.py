"""On a CUDA GPU only (`make test-gpu`; skipped elsewhere): what differs from the CPU path."""
import warnings

import pytest
import torch

from labutils import device as lab_device
from labutils import training, training_loop
from labutils.model import LSTMModel

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (make test-gpu)")


def cuda_model(**kw):
    torch.manual_seed(0)
    return LSTMModel(83, 32, 64, **kw).cuda()


def test_get_device_finds_the_gpu_when_one_is_required(monkeypatch):
    monkeypatch.setenv(lab_device.REQUIRE_GPU_ENV, "1")
    assert lab_device.get_device(verbose=False).type == "cuda"


def test_make_optimizer_is_the_notes_adam_fused_on_the_gpu():
    ours, notes = cuda_model(), cuda_model()
    optimizer = training.make_optimizer(ours, {"learning_rate": 5e-3})
    notes_optimizer = torch.optim.Adam(notes.parameters(), lr=5e-3)
    assert optimizer.defaults["fused"] is True
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        x = torch.randint(0, 83, (4, 20), generator=generator).cuda()
        y = torch.randint(0, 83, (4, 20), generator=generator).cuda()
        ours_loss, notes_loss = training.train_step(ours, optimizer, x, y), training.train_step(notes, notes_optimizer, x, y)
    assert ours_loss == pytest.approx(notes_loss, abs=1e-4)


@pytest.mark.parametrize("weight_dropout", [0.0, 0.2])
def test_weight_average_trains_and_evaluates_without_cudnn_warnings(weight_dropout):
    # A plain copy of a CUDA LSTM makes cuDNN copy its weights at every call and warn about it.
    model = cuda_model(weight_dropout=weight_dropout)
    average = training_loop.WeightAverage(model, 0.9)
    optimizer = training.make_optimizer(model, {"learning_rate": 1e-2})
    x = torch.randint(0, 83, (4, 20)).cuda()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            training.train_step(model, optimizer, x, x)
            average.update(model)
        average.module.eval()(x)
    assert [str(w.message) for w in caught] == []
    lstm = average.module.lstm
    assert lstm.weight_hh_l0.untyped_storage().data_ptr() == lstm.weight_ih_l0.untyped_storage().data_ptr()
    assert not torch.equal(lstm.weight_hh_l0, cuda_model(weight_dropout=weight_dropout).lstm.weight_hh_l0)
