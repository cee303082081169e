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


def test_training_autocast_uses_bfloat16_only_where_asked_and_supported(monkeypatch):
    layer = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with lab_device.training_autocast(torch.device("cpu"), False):
        assert layer(x).dtype == torch.float32
    monkeypatch.setattr(lab_device, "cpu_supports_bf16", lambda: True)
    with lab_device.training_autocast(torch.device("cpu"), True):
        assert layer(x).dtype == torch.bfloat16
    assert layer(x).dtype == torch.float32  # only inside the block
    monkeypatch.setattr(lab_device, "cpu_supports_bf16", lambda: False)
    with lab_device.training_autocast(torch.device("cpu"), True):  # no native support: stay in float32
        assert layer(x).dtype == torch.float32


def test_cpu_supports_bf16_survives_missing_or_failing_probes(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: (_ for _ in ()).throw(RuntimeError("x")),
                        raising=False)
    assert lab_device.cpu_supports_bf16() is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert lab_device.cpu_supports_bf16() is True
