"""labutils.checkpoints: saved, loaded back, refused when not one."""
import pytest
import torch

from labutils import checkpoints
from labutils.model import LSTMModel


def make_model():
    torch.manual_seed(0)
    return LSTMModel(12, 16, 32)


def test_checkpoint_round_trip_and_bad_file(tmp_path):
    model = make_model()
    checkpoints.save_checkpoint(tmp_path / "m.pt", model, vocab=list("abcdefghijkl"))
    loaded, vocab = checkpoints.model_from_checkpoint(tmp_path / "m.pt")
    assert vocab == list("abcdefghijkl") and not loaded.training
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "none.pt")
