"""Tests of labutils.pretrained: the shipped model, its export, and the model steps 6-8 use."""
import pytest
import torch

from labutils import checkpoints, pretrained, training
from labutils.model import LSTMModel


def test_the_shipped_model_loads_with_the_lab_vocabulary():
    model, vocab = pretrained.load_pretrained()
    assert len(vocab) == 83 and model.fc.out_features == 83 and not model.training


def test_export_model_is_small_float16_and_loads(tmp_path):
    model = LSTMModel(12, 8, 16)
    opt = torch.optim.Adam(model.parameters())
    training.train_step(model, opt, torch.randint(0, 12, (2, 8)), torch.randint(0, 12, (2, 8)))
    checkpoints.save_checkpoint(tmp_path / "full.pt", model, opt, step=3, vocab=list("abcdefghijkl"))
    out = pretrained.export_model(tmp_path / "full.pt", tmp_path / "small.pt")
    ckpt = checkpoints.load_checkpoint(out)
    assert "optimizer_state" not in ckpt and ckpt["model_state"]["fc.weight"].dtype == torch.float16
    assert out.stat().st_size < (tmp_path / "full.pt").stat().st_size / 2
    loaded, vocab = checkpoints.model_from_checkpoint(out)
    x = torch.randint(0, 12, (1, 5))
    assert vocab == list("abcdefghijkl")
    assert torch.allclose(loaded(x), model.eval()(x), atol=2e-2)


def test_trained_model_loads_my_checkpoint(tmp_path, capsys):
    from labutils.checkpoints import save_checkpoint
    from labutils.model import LSTMModel

    path = save_checkpoint(tmp_path / "checkpoint.pt", LSTMModel(83, 8, 16), vocab=list("x" * 83))
    model, vocab = pretrained.trained_model("mine", "cpu", checkpoint=path)
    assert model.hidden_size == 16 and len(vocab) == 83 and not model.training
    assert "Using your model from step 5" in capsys.readouterr().out


def test_trained_model_falls_back_to_a_quick_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABUTILS_SMALL", "1")
    monkeypatch.setattr(pretrained, "PRETRAINED_PATH", tmp_path / "missing.pt")
    model, vocab = pretrained.trained_model("mine", "cpu", checkpoint=tmp_path / "none.pt")
    said = capsys.readouterr().out
    assert "No checkpoint at" in said and "not in this copy of labutils" in said and "Training a quick model" in said
    assert len(vocab) == 83 and model.fc.out_features == 83 and not model.training


def test_trained_model_rejects_an_unknown_choice():
    with pytest.raises(ValueError, match="'pretrained', 'mine' or 'quick'"):
        pretrained.trained_model("best")


def test_notebooks_written_before_the_move_still_import_trained_model():
    from labutils.notebooks import trained_model

    assert trained_model is pretrained.trained_model


def test_export_model_does_not_replace_a_file_unless_asked(tmp_path):
    model = LSTMModel(12, 8, 16)
    checkpoints.save_checkpoint(tmp_path / "full.pt", model, step=1, vocab=list("abcdefghijkl"))
    out = tmp_path / "small.pt"
    out.write_bytes(b"the user's file")
    with pytest.raises(FileExistsError, match="--force"):
        pretrained.export_model(tmp_path / "full.pt", out)
    assert out.read_bytes() == b"the user's file"
    with pytest.raises(FileExistsError, match="is the input"):
        pretrained.export_model(tmp_path / "full.pt", tmp_path / "full.pt", overwrite=True)
    pretrained.export_model(tmp_path / "full.pt", out, overwrite=True)
    assert pretrained.model_from_checkpoint(out)[1] == list("abcdefghijkl")
