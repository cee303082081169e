"""labutils.training_loop: train, resume, checkpoints, the weight average, Ctrl-C."""
import numpy as np
import pytest
import torch

from labutils import checkpoints, training, training_loop
from labutils import params as lab_params
from labutils.model import LSTMModel
from labutils.schedule import learning_rate_at

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


def test_training_lowers_loss_and_reports_bpc(corpus, tmp_path):
    train_data, val_data = corpus
    model = make_model()
    before = training.evaluate_bpc(model, val_data, 32, 4)
    result = training_loop.train(model, train_data, {**TINY, "num_training_iterations": 60}, val_data=val_data,
                            checkpoint_path=tmp_path / "c.pt", progress=False)
    assert result.final_val_bpc < before - 1.0  # bits/char falls by more than a bit
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert [r["step"] for r in result.history] == list(range(1, 61))
    assert (tmp_path / "c.pt").is_file() and not list(tmp_path.glob("*.tmp"))


def test_resume_equals_uninterrupted_run(corpus, tmp_path):
    train_data, val_data = corpus
    whole = make_model(dropout=0.2)
    training_loop.train(whole, train_data, TINY, val_data=val_data, progress=False)
    half = make_model(dropout=0.2)
    training_loop.train(half, train_data, {**TINY, "num_training_iterations": 10}, val_data=val_data,
                   checkpoint_path=tmp_path / "half.pt", progress=False)
    resumed = make_model(dropout=0.2)
    result = training_loop.train(resumed, train_data, TINY, val_data=val_data, checkpoint_path=tmp_path / "half.pt",
                            resume_from=tmp_path / "half.pt", progress=False)
    assert result.steps == 20 and len(result.history) == 20
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_seeded_runs_are_reproducible(corpus):
    train_data, _ = corpus
    runs = []
    for _ in range(2):
        model = make_model()
        runs.append([r["loss"] for r in training_loop.train(model, train_data, TINY, progress=False).history])
    assert runs[0] == runs[1]


def test_ctrl_c_keeps_a_checkpoint_at_the_last_step(corpus, tmp_path):
    train_data, _ = corpus

    def interrupt(step, history):
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        training_loop.train(make_model(), train_data, TINY, checkpoint_path=tmp_path / "c.pt", on_step=interrupt,
                       progress=False)
    ckpt = checkpoints.load_checkpoint(tmp_path / "c.pt")
    assert ckpt["step"] == 7 and len(ckpt["history"]) == 7


def test_best_checkpoint_tracks_the_lowest_held_out_loss(corpus, tmp_path):
    train_data, val_data = corpus
    result = training_loop.train(make_model(), train_data, {**TINY, "num_training_iterations": 30, "eval_every": 5},
                            val_data=val_data, best_checkpoint_path=tmp_path / "best.pt", progress=False)
    scored = [(r["val_bpc"], r["step"]) for r in result.history if r["val_bpc"] is not None]
    assert (result.best_val_bpc, result.best_step) == min(scored)
    best = checkpoints.load_checkpoint(tmp_path / "best.pt")
    assert best["step"] == result.best_step
    model = make_model()
    model.load_state_dict(best["model_state"])
    assert training.evaluate_bpc(model, val_data, TINY["seq_length"]) == pytest.approx(result.best_val_bpc, abs=1e-4)


def test_best_checkpoint_holds_the_model_only(corpus, tmp_path):
    train_data, val_data = corpus
    training_loop.train(make_model(), train_data, {**TINY, "num_training_iterations": 10, "eval_every": 5},
                        val_data=val_data, checkpoint_path=tmp_path / "checkpoint.pt",
                        best_checkpoint_path=tmp_path / "best.pt", progress=False)
    assert checkpoints.load_checkpoint(tmp_path / "best.pt")["optimizer_state"] is None
    # Adam keeps two numbers per weight: the resumable checkpoint is about three models, best.pt one
    assert (tmp_path / "best.pt").stat().st_size < (tmp_path / "checkpoint.pt").stat().st_size / 2
    with pytest.raises(ValueError, match="holds a model only.*checkpoint.pt"):
        training_loop.train(make_model(), train_data, TINY, resume_from=tmp_path / "best.pt", progress=False)


def test_training_follows_the_schedule_and_resumes_on_it(corpus, tmp_path):
    train_data, val_data = corpus
    params = {**TINY, "lr_schedule": "cosine", "warmup_steps": 4}
    model = make_model()
    optimizer = training.make_optimizer(model, params)
    seen = []
    training_loop.train(model, train_data, params, optimizer=optimizer, progress=False,
                   on_step=lambda step, history: seen.append(optimizer.param_groups[0]["lr"]))
    assert seen == pytest.approx([learning_rate_at(step, params) for step in range(20)])
    whole = make_model(weight_dropout=0.3)
    training_loop.train(whole, train_data, params, progress=False)
    half = make_model(weight_dropout=0.3)
    with pytest.raises(KeyboardInterrupt):  # interrupted mid-schedule, then resumed on the same schedule
        training_loop.train(half, train_data, params, progress=False, checkpoint_path=tmp_path / "half.pt",
                       on_step=stop_at(10))
    resumed = make_model(weight_dropout=0.3)
    training_loop.train(resumed, train_data, params, resume_from=tmp_path / "half.pt", progress=False)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_weight_average_is_kept_when_better_saved_and_resumed(corpus, tmp_path):
    train_data, val_data = corpus
    params = {**TINY, "ema_decay": 0.9}
    model = make_model()
    result = training_loop.train(model, train_data, params, val_data=val_data, checkpoint_path=tmp_path / "c.pt",
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
        training_loop.train(half, train_data, params, val_data=val_data, checkpoint_path=tmp_path / "h.pt",
                       progress=False, on_step=stop_at(10))
    resumed = make_model()
    again = training_loop.train(resumed, train_data, params, val_data=val_data, resume_from=tmp_path / "h.pt",
                           progress=False)
    assert torch.equal(resumed.fc.weight, model.fc.weight)
    assert torch.equal(again.kept_model.fc.weight, kept.fc.weight)
    training_loop.train(make_model(), train_data, {**TINY, "num_training_iterations": 2},
                   checkpoint_path=tmp_path / "plain.pt", progress=False)
    with pytest.raises(ValueError, match="kept no weight average"):
        training_loop.train(make_model(), train_data, params, resume_from=tmp_path / "plain.pt", progress=False)
    with pytest.raises(ValueError, match="ema_decay must be"):
        training_loop.WeightAverage(model, 1.0)


@pytest.mark.parametrize("better", ["weights", "average"])
def test_evaluate_kept_returns_the_better_model(monkeypatch, better):
    model = make_model()
    average = training_loop.WeightAverage(model, 0.9)
    scores = {id(model): 2.0 if better == "average" else 1.0, id(average.module): 1.0 if better == "average" else 2.0}
    monkeypatch.setattr(training_loop, "evaluate_bpc", lambda m, data, seq_length=256: scores[id(m)])
    bpc, kept, name = training_loop.evaluate_kept(model, average, np.zeros(10, dtype=np.int64))
    assert (bpc, name) == (1.0, better)
    assert kept is (average.module if better == "average" else model)
    assert training_loop.evaluate_kept(model, None, np.zeros(10, dtype=np.int64))[1:] == (model, "weights")


def test_bf16_training_learns_and_keeps_float32_weights(corpus, monkeypatch):
    from labutils import device as lab_device

    monkeypatch.setattr(lab_device, "cpu_supports_bf16", lambda: True)  # the path runs on any CPU
    train_data, val_data = corpus
    model = make_model()
    before = training.evaluate_bpc(model, val_data, 32, 4)
    result = training_loop.train(model, train_data, {**TINY, "num_training_iterations": 60, "cpu_bf16": True},
                            val_data=val_data, progress=False)
    assert result.final_val_bpc < before - 1.0
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_weight_average_follows_the_weights_until_its_start():
    model = make_model()
    average = training_loop.WeightAverage(model, 0.9, start=3)
    for update in range(1, 6):
        with torch.no_grad():
            model.fc.weight.add_(1.0)
        average.update(model)
        same = torch.equal(average.module.fc.weight, model.fc.weight)
        assert same == (update <= 3)  # updates 1-3 copy; from the 4th on it lags behind
    with pytest.raises(ValueError, match="ema_start must be"):
        training_loop.WeightAverage(model, 0.9, start=-1)


@pytest.mark.parametrize("transpose_from,learnt", [(0, 7), (20, 3), (10, 7)])
def test_steps_before_transpose_from_read_the_tunes_as_written(transpose_from, learnt):
    written, with_copies = np.full(2000, 3, dtype=np.int64), np.full(2000, 7, dtype=np.int64)
    model = make_model()
    training_loop.train(model, with_copies, {**TINY, "transpose": [2], "transpose_from": transpose_from},
                   train_as_written=written, progress=False)
    with torch.no_grad():
        predicted = model.eval()(torch.zeros(1, 5, dtype=torch.long))[0, -1].argmax().item()
    assert predicted == learnt  # the last steps' text is what the model predicts


def test_init_output_bias_on_a_fresh_start_only(corpus, tmp_path):
    train_data, val_data = corpus
    params = {**TINY, "init_output_bias": True, "learning_rate": 0.0, "num_training_iterations": 2}
    model = make_model()
    training_loop.train(model, train_data, params, progress=False)  # learning rate 0: the bias stays as set
    counts = np.bincount(train_data, minlength=12) + 1.0
    assert model.fc.bias.detach().numpy() == pytest.approx(np.log(counts / counts.sum()), abs=1e-5)
    # the tunes as written set it when transposed copies come with them
    written = np.full(500, 3, dtype=np.int64)
    model = make_model()
    training_loop.train(model, train_data, params, train_as_written=written, progress=False)
    assert model.fc.bias.argmax().item() == 3
    # a resumed run continues its own weights: same end as the uninterrupted run
    params = {**TINY, "init_output_bias": True}
    whole = make_model()
    training_loop.train(whole, train_data, params, progress=False)
    half = make_model()
    with pytest.raises(KeyboardInterrupt):
        training_loop.train(half, train_data, params, progress=False, checkpoint_path=tmp_path / "half.pt",
                       on_step=stop_at(10))
    resumed = make_model()
    training_loop.train(resumed, train_data, params, resume_from=tmp_path / "half.pt", progress=False)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_init_output_bias_lowers_the_first_steps_loss(corpus):
    train_data, _ = corpus
    losses = {}
    for on in (False, True):
        model = make_model()
        history = training_loop.train(model, train_data, {**TINY, "init_output_bias": on}, progress=False).history
        losses[on] = history[0]["loss"]
    assert losses[True] < losses[False] - 0.1
