"""labutils.params: the presets, the small settings, the checks of a run's settings."""
from labutils import params as lab_params


def test_small_settings_env(monkeypatch, capsys):
    monkeypatch.delenv(lab_params.SMALL_ENV, raising=False)
    assert lab_params.maybe_small(lab_params.NOTES_PARAMS) == lab_params.NOTES_PARAMS
    monkeypatch.setenv(lab_params.SMALL_ENV, "1")
    small = lab_params.maybe_small(lab_params.NOTES_PARAMS)
    assert small["num_training_iterations"] < 100 and small["hidden_size"] < 1024
    assert "LABUTILS_SMALL=1" in capsys.readouterr().out
