import pytest
import torch

from labutils import device as lab_device


def test_cpu_when_no_gpu_says_so(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(lab_device.REQUIRE_GPU_ENV, raising=False)
    assert lab_device.get_device().type == "cpu"
    assert "Using CPU" in capsys.readouterr().out


def test_require_gpu_by_argument_or_environment(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(lab_device.GPUNotAvailableError, match="Runtime > Change runtime type"):
        lab_device.get_device(require_gpu=True)
    monkeypatch.setenv(lab_device.REQUIRE_GPU_ENV, "1")
    with pytest.raises(lab_device.GPUNotAvailableError):
        lab_device.get_device()
    assert lab_device.get_device(require_gpu=False, verbose=False).type == "cpu"


def test_cuda_chosen_when_present(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake GPU")
    assert lab_device.get_device(require_gpu=True).type == "cuda"
    assert "Fake GPU" in capsys.readouterr().out
