"""labutils.params: the presets, the small settings, the checks of a run's settings."""
from labutils import params as lab_params


def test_small_settings_env(monkeypatch, capsys):
    monkeypatch.delenv(lab_params.SMALL_ENV, raising=False)
    assert lab_params.maybe_small(lab_params.NOTES_PARAMS) == lab_params.NOTES_PARAMS
    monkeypatch.setenv(lab_params.SMALL_ENV, "1")
    small = lab_params.maybe_small(lab_params.NOTES_PARAMS)
    assert small["num_training_iterations"] < 100 and small["hidden_size"] < 1024
    assert "LABUTILS_SMALL=1" in capsys.readouterr().out


def test_presets_and_auto(monkeypatch):
    import pytest
    import torch

    monkeypatch.delenv(lab_params.SMALL_ENV, raising=False)
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert lab_params.choose_params("auto", cpu)["preset"] == "cpu"
    assert lab_params.choose_params("auto", gpu) == {**lab_params.with_defaults(lab_params.NOTES_PARAMS),
                                                      "preset": "notes"}
    assert lab_params.choose_params("cpu", gpu)["hidden_size"] == lab_params.CPU_PARAMS["hidden_size"]
    monkeypatch.setenv(lab_params.SMALL_ENV, "1")
    small = lab_params.choose_params("auto", gpu)
    assert small["preset"] == "small" and small["hidden_size"] == lab_params.SMALL_PARAMS["hidden_size"]
    with pytest.raises(ValueError, match="preset must be"):
        lab_params.choose_params("seed", cpu)  # "seed" means a random seed only


def test_check_params_names_the_setting_as_asked():
    import pytest

    good = lab_params.choose_params("notes", None)
    lab_params.check_params(good)
    bad = {**good, "batch_size": 0}
    with pytest.raises(ValueError, match="^batch_size must be a whole number"):
        lab_params.check_params(bad)
    with pytest.raises(ValueError, match="^--batch-size must be a whole number"):
        lab_params.check_params(bad, {"batch_size": "--batch-size"})
    for key, value in [("learning_rate", float("nan")), ("dropout", 1.0), ("extra_share", 2), ("extra_until", -1),
                       ("grad_clip", 0.0), ("eval_every", -1), ("transpose", "fifths"), ("transpose", [2.5])]:
        with pytest.raises(ValueError, match=f"^{key} must"):
            lab_params.check_params({**good, key: value})
    for transpose in ([-2, 2], [], "tradition"):
        lab_params.check_params({**good, "transpose": transpose})
