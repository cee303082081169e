import math

import numpy as np
import pytest
import torch

from labutils import checkpoints, trainer, training
from labutils import params as lab_params
from labutils.model import LSTMModel

TINY = {**lab_params.NOTES_PARAMS, "num_training_iterations": 20, "batch_size": 8, "seq_length": 32,
        "embedding_dim": 16, "hidden_size": 32, "learning_rate": 1e-2, "eval_every": 10, "checkpoint_every": 5}


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    pattern = np.array([0, 1, 2, 3, 4, 5, 4, 3, 2, 1], dtype=np.int64)
    noisy = np.tile(pattern, 300)
    flip = rng.random(noisy.size) < 0.05
    noisy[flip] = rng.integers(0, 12, flip.sum())
    return noisy[:2500], noisy[2500:]


def stop_at(last_step):
    """An on_step callback that interrupts training after `last_step`, as Ctrl-C would."""
    def on_step(step, history):
        if step == last_step:
            raise KeyboardInterrupt
    return on_step


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
    result = trainer.train(model, train_data, {**TINY, "num_training_iterations": 60}, val_data=val_data,
                            checkpoint_path=tmp_path / "c.pt", progress=False)
    assert result.final_val_bpc < before - 1.0  # bits/char falls by more than a bit
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert [r["step"] for r in result.history] == list(range(1, 61))
    assert (tmp_path / "c.pt").is_file() and not list(tmp_path.glob("*.tmp"))


def test_resume_equals_uninterrupted_run(corpus, tmp_path):
    train_data, val_data = corpus
    whole = make_model(dropout=0.2)
    trainer.train(whole, train_data, TINY, val_data=val_data, progress=False)
    half = make_model(dropout=0.2)
    trainer.train(half, train_data, {**TINY, "num_training_iterations": 10}, val_data=val_data,
                   checkpoint_path=tmp_path / "half.pt", progress=False)
    resumed = make_model(dropout=0.2)
    result = trainer.train(resumed, train_data, TINY, val_data=val_data, checkpoint_path=tmp_path / "half.pt",
                            resume_from=tmp_path / "half.pt", progress=False)
    assert result.steps == 20 and len(result.history) == 20
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_seeded_runs_are_reproducible(corpus):
    train_data, _ = corpus
    runs = []
    for _ in range(2):
        model = make_model()
        runs.append([r["loss"] for r in trainer.train(model, train_data, TINY, progress=False).history])
    assert runs[0] == runs[1]


def test_ctrl_c_keeps_a_checkpoint_at_the_last_step(corpus, tmp_path):
    train_data, _ = corpus

    def interrupt(step, history):
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        trainer.train(make_model(), train_data, TINY, checkpoint_path=tmp_path / "c.pt", on_step=interrupt,
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
    assert lab_params.maybe_small(lab_params.NOTES_PARAMS) == lab_params.NOTES_PARAMS
    monkeypatch.setenv(lab_params.SMALL_ENV, "1")
    small = lab_params.maybe_small(lab_params.NOTES_PARAMS)
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
    result = trainer.train(make_model(), train_data, {**TINY, "num_training_iterations": 30, "eval_every": 5},
                            val_data=val_data, best_checkpoint_path=tmp_path / "best.pt", progress=False)
    scored = [(r["val_bpc"], r["step"]) for r in result.history if r["val_bpc"] is not None]
    assert (result.best_val_bpc, result.best_step) == min(scored)
    best = checkpoints.load_checkpoint(tmp_path / "best.pt")
    assert best["step"] == result.best_step
    model = make_model()
    model.load_state_dict(best["model_state"])
    assert training.evaluate_bpc(model, val_data, TINY["seq_length"]) == pytest.approx(result.best_val_bpc, abs=1e-4)


def test_cosine_schedule_warms_up_then_decays_to_zero():
    params = {"learning_rate": 1e-2, "num_training_iterations": 110, "lr_schedule": "cosine", "warmup_steps": 10}
    rates = [trainer.learning_rate_at(step, params) for step in range(110)]
    assert rates[0] == pytest.approx(1e-3) and rates[9] == pytest.approx(1e-2)
    assert rates[10] == pytest.approx(1e-2) and rates[60] == pytest.approx(5e-3)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:])) and rates[-1] < 1e-5
    assert trainer.learning_rate_at(5, {"learning_rate": 3e-3}) == 3e-3  # constant, as in the notes
    with pytest.raises(ValueError, match="lr_schedule must be"):
        trainer.learning_rate_at(0, {**params, "lr_schedule": "step"})


def test_training_follows_the_schedule_and_resumes_on_it(corpus, tmp_path):
    train_data, val_data = corpus
    params = {**TINY, "lr_schedule": "cosine", "warmup_steps": 4}
    model = make_model()
    optimizer = training.make_optimizer(model, params)
    seen = []
    trainer.train(model, train_data, params, optimizer=optimizer, progress=False,
                   on_step=lambda step, history: seen.append(optimizer.param_groups[0]["lr"]))
    assert seen == pytest.approx([trainer.learning_rate_at(step, params) for step in range(20)])
    whole = make_model(weight_dropout=0.3)
    trainer.train(whole, train_data, params, progress=False)
    half = make_model(weight_dropout=0.3)
    with pytest.raises(KeyboardInterrupt):  # interrupted mid-schedule, then resumed on the same schedule
        trainer.train(half, train_data, params, progress=False, checkpoint_path=tmp_path / "half.pt",
                       on_step=stop_at(10))
    resumed = make_model(weight_dropout=0.3)
    trainer.train(resumed, train_data, params, resume_from=tmp_path / "half.pt", progress=False)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_weight_average_is_kept_when_better_saved_and_resumed(corpus, tmp_path):
    train_data, val_data = corpus
    params = {**TINY, "ema_decay": 0.9}
    model = make_model()
    result = trainer.train(model, train_data, params, val_data=val_data, checkpoint_path=tmp_path / "c.pt",
                            best_checkpoint_path=tmp_path / "best.pt", progress=False)
    evaluated = [r for r in result.history if r["val_bpc"] is not None]
    assert evaluated and all(r["kept"] in ("weights", "average") for r in evaluated)
    kept = result.kept_model
    assert (kept is model) == (evaluated[-1]["kept"] == "weights")
    # the recorded held-out figure is the kept model's, and so is the model a checkpoint gives back
    assert result.final_val_bpc == pytest.approx(training.evaluate_bpc(kept, val_data, TINY["seq_length"]))
    loaded, _ = checkpoints.model_from_checkpoint(tmp_path / "c.pt")
    assert torch.equal(loaded.fc.weight, kept.fc.weight)
    raw = checkpoints.load_checkpoint(tmp_path / "c.pt")["model_state"]
    assert torch.equal(raw["fc.weight"], model.fc.weight)  # resume needs the trained weights too
    assert checkpoints.load_checkpoint(tmp_path / "best.pt")["step"] == result.best_step
    # stopped halfway and resumed: the same weights and the same kept model as one run
    half = make_model()
    with pytest.raises(KeyboardInterrupt):
        trainer.train(half, train_data, params, val_data=val_data, checkpoint_path=tmp_path / "h.pt",
                       progress=False, on_step=stop_at(10))
    resumed = make_model()
    again = trainer.train(resumed, train_data, params, val_data=val_data, resume_from=tmp_path / "h.pt",
                           progress=False)
    assert torch.equal(resumed.fc.weight, model.fc.weight)
    assert torch.equal(again.kept_model.fc.weight, kept.fc.weight)
    trainer.train(make_model(), train_data, {**TINY, "num_training_iterations": 2},
                   checkpoint_path=tmp_path / "plain.pt", progress=False)
    with pytest.raises(ValueError, match="kept no weight average"):
        trainer.train(make_model(), train_data, params, resume_from=tmp_path / "plain.pt", progress=False)
    with pytest.raises(ValueError, match="ema_decay must be"):
        trainer.WeightAverage(model, 1.0)


@pytest.mark.parametrize("better", ["weights", "average"])
def test_evaluate_kept_returns_the_better_model(monkeypatch, better):
    model = make_model()
    average = trainer.WeightAverage(model, 0.9)
    scores = {id(model): 2.0 if better == "average" else 1.0, id(average.module): 1.0 if better == "average" else 2.0}
    monkeypatch.setattr(trainer, "evaluate_bpc", lambda m, data, seq_length=256: scores[id(m)])
    bpc, kept, name = trainer.evaluate_kept(model, average, np.zeros(10, dtype=np.int64))
    assert (bpc, name) == (1.0, better)
    assert kept is (average.module if better == "average" else model)
    assert trainer.evaluate_kept(model, None, np.zeros(10, dtype=np.int64))[1:] == (model, "weights")


def test_bf16_training_learns_and_keeps_float32_weights(corpus, monkeypatch):
    from labutils import device as lab_device

    monkeypatch.setattr(lab_device, "cpu_supports_bf16", lambda: True)  # the path runs on any CPU
    train_data, val_data = corpus
    model = make_model()
    before = training.evaluate_bpc(model, val_data, 32, 4)
    result = trainer.train(model, train_data, {**TINY, "num_training_iterations": 60, "cpu_bf16": True},
                            val_data=val_data, progress=False)
    assert result.final_val_bpc < before - 1.0
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_weight_average_follows_the_weights_until_its_start():
    model = make_model()
    average = trainer.WeightAverage(model, 0.9, start=3)
    for update in range(1, 6):
        with torch.no_grad():
            model.fc.weight.add_(1.0)
        average.update(model)
        same = torch.equal(average.module.fc.weight, model.fc.weight)
        assert same == (update <= 3)  # updates 1-3 copy; from the 4th on it lags behind
    with pytest.raises(ValueError, match="ema_start must be"):
        trainer.WeightAverage(model, 0.9, start=-1)


@pytest.mark.parametrize("transpose_from,learnt", [(0, 7), (20, 3), (10, 7)])
def test_steps_before_transpose_from_read_the_tunes_as_written(transpose_from, learnt):
    written, with_copies = np.full(2000, 3, dtype=np.int64), np.full(2000, 7, dtype=np.int64)
    model = make_model()
    trainer.train(model, with_copies, {**TINY, "transpose": [2], "transpose_from": transpose_from},
                   train_as_written=written, progress=False)
    with torch.no_grad():
        predicted = model.eval()(torch.zeros(1, 5, dtype=torch.long))[0, -1].argmax().item()
    assert predicted == learnt  # the last steps' text is what the model predicts


def test_training_text_at():
    plain, moved = np.zeros(3), np.ones(9)
    params = {"transpose_from": 300}
    assert trainer.training_text_at(299, moved, plain, params) is plain
    assert trainer.training_text_at(300, moved, plain, params) is moved
    assert trainer.training_text_at(0, moved, None, params) is moved
    assert trainer.training_text_at(0, moved, plain, {}) is moved


def test_init_output_bias_on_a_fresh_start_only(corpus, tmp_path):
    train_data, val_data = corpus
    params = {**TINY, "init_output_bias": True, "learning_rate": 0.0, "num_training_iterations": 2}
    model = make_model()
    trainer.train(model, train_data, params, progress=False)  # learning rate 0: the bias stays as set
    counts = np.bincount(train_data, minlength=12) + 1.0
    assert model.fc.bias.detach().numpy() == pytest.approx(np.log(counts / counts.sum()), abs=1e-5)
    # the tunes as written set it when transposed copies come with them
    written = np.full(500, 3, dtype=np.int64)
    model = make_model()
    trainer.train(model, train_data, params, train_as_written=written, progress=False)
    assert model.fc.bias.argmax().item() == 3
    # a resumed run continues its own weights: same end as the uninterrupted run
    params = {**TINY, "init_output_bias": True}
    whole = make_model()
    trainer.train(whole, train_data, params, progress=False)
    half = make_model()
    with pytest.raises(KeyboardInterrupt):
        trainer.train(half, train_data, params, progress=False, checkpoint_path=tmp_path / "half.pt",
                       on_step=stop_at(10))
    resumed = make_model()
    trainer.train(resumed, train_data, params, resume_from=tmp_path / "half.pt", progress=False)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_init_output_bias_lowers_the_first_steps_loss(corpus):
    train_data, _ = corpus
    losses = {}
    for on in (False, True):
        model = make_model()
        history = trainer.train(model, train_data, {**TINY, "init_output_bias": on}, progress=False).history
        losses[on] = history[0]["loss"]
    assert losses[True] < losses[False] - 0.1


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
