import math

import numpy as np
import pytest
import torch

from labutils import checkpoints, params as lab_params, training
from labutils.model import LSTMModel

TINY = {**lab_params.SEED_PARAMS, "num_training_iterations": 20, "batch_size": 8, "seq_length": 32,
        "embedding_dim": 16, "hidden_size": 32, "learning_rate": 1e-2, "eval_every": 10, "checkpoint_every": 5}


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    pattern = np.array([0, 1, 2, 3, 4, 5, 4, 3, 2, 1], dtype=np.int64)
    noisy = np.tile(pattern, 300)
    flip = rng.random(noisy.size) < 0.05
    noisy[flip] = rng.integers(0, 12, flip.sum())
    return noisy[:2500], noisy[2500:]


def make_model(**kw):
    torch.manual_seed(0)
    return LSTMModel(12, **lab_params.model_kwargs({**TINY, **kw}))


def test_compute_loss_matches_uniform_and_flattening():
    logits = torch.zeros(2, 3, 12)
    labels = torch.randint(0, 12, (2, 3))
    assert training.compute_loss(labels, logits).item() == pytest.approx(math.log(12))
    logits = torch.randn(2, 3, 12)
    expected = torch.nn.functional.cross_entropy(logits.permute(0, 2, 1), labels)
    assert training.compute_loss(labels, logits).item() == pytest.approx(expected.item())


def test_training_lowers_loss_and_reports_bpc(corpus, tmp_path):
    train_data, val_data = corpus
    model = make_model()
    before = training.evaluate_bpc(model, val_data, 32, 4)
    result = training.train(model, train_data, {**TINY, "num_training_iterations": 60}, val_data=val_data,
                            checkpoint_path=tmp_path / "c.pt", progress=False)
    assert result.final_val_bpc < before - 1.0  # bits/char falls by more than a bit
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert [r["step"] for r in result.history] == list(range(1, 61))
    assert (tmp_path / "c.pt").is_file() and not list(tmp_path.glob("*.tmp"))


def test_resume_equals_uninterrupted_run(corpus, tmp_path):
    train_data, val_data = corpus
    whole = make_model(dropout=0.2)
    training.train(whole, train_data, TINY, val_data=val_data, progress=False)
    half = make_model(dropout=0.2)
    training.train(half, train_data, {**TINY, "num_training_iterations": 10}, val_data=val_data,
                   checkpoint_path=tmp_path / "half.pt", progress=False)
    resumed = make_model(dropout=0.2)
    result = training.train(resumed, train_data, TINY, val_data=val_data, checkpoint_path=tmp_path / "half.pt",
                            resume_from=tmp_path / "half.pt", progress=False)
    assert result.steps == 20 and len(result.history) == 20
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_seeded_runs_are_reproducible(corpus):
    train_data, _ = corpus
    runs = []
    for _ in range(2):
        model = make_model()
        runs.append([r["loss"] for r in training.train(model, train_data, TINY, progress=False).history])
    assert runs[0] == runs[1]


def test_ctrl_c_keeps_a_checkpoint_at_the_last_step(corpus, tmp_path):
    train_data, _ = corpus

    def interrupt(step, history):
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        training.train(make_model(), train_data, TINY, checkpoint_path=tmp_path / "c.pt", on_step=interrupt,
                       progress=False)
    ckpt = checkpoints.load_checkpoint(tmp_path / "c.pt")
    assert ckpt["step"] == 7 and len(ckpt["history"]) == 7


def test_gradient_clipping_bounds_the_update():
    model = make_model()
    x = torch.randint(0, 12, (4, 8))
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    training.train_step(model, opt, x, x, grad_clip=1e-3)
    step_norm = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert step_norm.item() == pytest.approx(1e-3, rel=1e-3)


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


def test_small_settings_env(monkeypatch, capsys):
    monkeypatch.delenv(lab_params.SMALL_ENV, raising=False)
    assert lab_params.maybe_small(lab_params.SEED_PARAMS) == lab_params.SEED_PARAMS
    monkeypatch.setenv(lab_params.SMALL_ENV, "1")
    small = lab_params.maybe_small(lab_params.SEED_PARAMS)
    assert small["num_training_iterations"] < 100 and small["hidden_size"] < 1024
    assert "LABUTILS_SMALL=1" in capsys.readouterr().out


def test_atomic_write_leaves_old_file_on_failure_and_normal_permissions(tmp_path):
    target = tmp_path / "keep.txt"
    checkpoints.atomic_write_text(target, "old")

    def broken(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        checkpoints.atomic_write_bytes(target, broken)
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    assert target.stat().st_mode & 0o044  # readable by group/others like any file the user writes


def test_best_checkpoint_tracks_the_lowest_held_out_loss(corpus, tmp_path):
    train_data, val_data = corpus
    result = training.train(make_model(), train_data, {**TINY, "num_training_iterations": 30, "eval_every": 5},
                            val_data=val_data, best_checkpoint_path=tmp_path / "best.pt", progress=False)
    scored = [(r["val_bpc"], r["step"]) for r in result.history if r["val_bpc"] is not None]
    assert (result.best_val_bpc, result.best_step) == min(scored)
    best = checkpoints.load_checkpoint(tmp_path / "best.pt")
    assert best["step"] == result.best_step
    model = make_model()
    model.load_state_dict(best["model_state"])
    assert training.evaluate_bpc(model, val_data, TINY["seq_length"]) == pytest.approx(result.best_val_bpc, abs=1e-4)


def test_export_model_is_small_float16_and_loads(tmp_path):
    model = make_model()
    opt = torch.optim.Adam(model.parameters())
    training.train_step(model, opt, torch.randint(0, 12, (2, 8)), torch.randint(0, 12, (2, 8)))
    checkpoints.save_checkpoint(tmp_path / "full.pt", model, opt, step=3, vocab=list("abcdefghijkl"))
    out = checkpoints.export_model(tmp_path / "full.pt", tmp_path / "small.pt")
    ckpt = checkpoints.load_checkpoint(out)
    assert "optimizer_state" not in ckpt and ckpt["model_state"]["fc.weight"].dtype == torch.float16
    assert out.stat().st_size < (tmp_path / "full.pt").stat().st_size / 2
    loaded, vocab = checkpoints.model_from_checkpoint(out)
    x = torch.randint(0, 12, (1, 5))
    assert vocab == list("abcdefghijkl")
    assert torch.allclose(loaded(x), model.eval()(x), atol=2e-2)
