"""Tests for labutils.tracking: offline zips, disabled mode, ending, no network."""
import io
import json
import logging
import socket
import sys
import types
import zipfile

import numpy as np
import pytest
from scipy.io import wavfile

from labutils import tracking
from labutils.tracking import choose_mode, colab_or_env_api_key, start_experiment

REAL_COMET_REACHABLE = tracking.comet_reachable

PARAMS = {"learning_rate": 5e-3, "batch_size": 8, "seq_length": 100}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail loudly on any connection or DNS lookup; the list records what was tried."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError(f"test_tracking: network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", lambda self, address: refuse(address))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: refuse(address))
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv("COMET_API_KEY", raising=False)
    # Online tests use a fake experiment: let them past the reachability check (tested on its own).
    monkeypatch.setattr(tracking, "comet_reachable", lambda *args, **kwargs: True)
    yield attempts
    assert attempts == [], f"network access attempted: {attempts}"


def read_zip(zip_path):
    """Return (messages as dicts, {member name: bytes}) of an offline experiment zip."""
    with zipfile.ZipFile(zip_path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    messages = [json.loads(line) for line in files["messages.json"].decode().splitlines() if line]
    return messages, files


def logged_params(messages):
    return {m["payload"]["param"]["paramName"]: m["payload"]["param"]["paramValue"]
            for m in messages if m["type"] == "parameter_msg"}


def logged_metrics(messages, name):
    """Return [(step, value)] of one metric, in logging order."""
    return [(m["payload"]["metric"]["step"], m["payload"]["metric"]["metricValue"])
            for m in messages
            if m["type"] == "metric_msg" and m["payload"]["metric"]["metricName"] == name]


def uploads(messages, upload_type):
    return [m["payload"] for m in messages
            if m["type"] == "file_upload" and m["payload"]["upload_type"] == upload_type]


def test_offline_zip_holds_params_metrics_text_and_audio(tmp_path, capsys):
    wav_path = tmp_path / "tune.wav"
    wavfile.write(wav_path, 8000, (np.sin(np.arange(800) / 5) * 3000).astype(np.int16))
    run_dir = tmp_path / "run"
    comet_records = []
    recorder = logging.Handler()
    recorder.emit = comet_records.append
    logging.getLogger("comet_ml").addHandler(recorder)

    tracker = start_experiment(PARAMS, mode="offline", run_dir=run_dir)
    assert tracker.mode == "offline"
    import comet_ml
    assert comet_ml.error_tracking.enabled_in_config() is False  # no Sentry reports
    tracker.log_metrics({"loss": 3.25}, step=1)
    tracker.log_metrics({"loss": np.float32(2.5), "val_bits_per_char": 3.0}, step=2)
    tracker.log_text("X:1\nT:Test\nK:D\n|:abc:|", name="generated")
    tracker.log_audio(wav_path, name="tune_0.wav")
    tracker.end()

    zips = list(run_dir.glob("*.zip"))
    assert zips == [tracker.offline_zip]
    messages, files = read_zip(tracker.offline_zip)
    assert {name: logged_params(messages)[name] for name in PARAMS} == PARAMS
    assert logged_metrics(messages, "loss") == [(1, 3.25), (2, 2.5)]
    assert logged_metrics(messages, "val_bits_per_char") == [(2, 3.0)]
    (audio,) = uploads(messages, "audio")
    assert audio["additional_params"]["fileName"] == "tune_0.wav"
    assert files[audio["file_path"]] == wav_path.read_bytes()
    (text,) = uploads(messages, "text-sample")
    assert files[text["file_path"]].decode() == "X:1\nT:Test\nK:D\n|:abc:|"

    logging.getLogger("comet_ml").removeHandler(recorder)
    assert [r.getMessage() for r in comet_records if r.levelno <= logging.INFO] == []
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1, printed
    assert f"comet upload {tracker.offline_zip}" in printed[0]


# comet_ml calls os.stat on the array before treating it as samples
@pytest.mark.filterwarnings("ignore:stat. path should be:DeprecationWarning")
def test_offline_audio_array_and_image(tmp_path):
    image_path = tmp_path / "loss.png"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure = plt.figure(figsize=(1, 1))
    plt.plot([3, 2, 1])
    figure.savefig(image_path)
    plt.close(figure)

    with start_experiment(PARAMS, mode="offline", run_dir=tmp_path / "run") as tracker:
        tracker.log_audio(np.zeros(400, dtype=np.float32), name="silence.wav", sample_rate=8000)
        tracker.log_image(image_path)
        with pytest.raises(ValueError, match="sample_rate"):
            tracker.log_audio(np.ones(10))
        with pytest.raises(FileNotFoundError, match="no file at"):
            tracker.log_image(tmp_path / "missing.png")
    messages, files = read_zip(tracker.offline_zip)
    (audio,) = uploads(messages, "audio")
    rate, samples = wavfile.read(io.BytesIO(files[audio["file_path"]]))
    assert rate == 8000 and len(samples) == 400 and not np.any(samples)
    (image,) = uploads(messages, "visualization")
    assert files[image["file_path"]] == image_path.read_bytes()


def test_offline_zip_does_not_hold_every_wav_again(tmp_path, capsys):
    run_dir = tmp_path / "run"
    wavs = []
    for i in range(tracking.MAX_OFFLINE_AUDIO + 6):
        wavs.append(run_dir / "wavs" / f"tune_{i:02d}.wav")
        wavs[-1].parent.mkdir(parents=True, exist_ok=True)
        wavfile.write(wavs[-1], 8000, (np.sin(np.arange(8000) * (i + 1) / 50) * 3000).astype(np.int16))
    tracker = start_experiment(PARAMS, mode="offline", run_dir=run_dir)
    for path in wavs:
        tracker.log_audio(path)
    tracker.end()
    messages, files = read_zip(tracker.offline_zip)
    assert len(uploads(messages, "audio")) == tracking.MAX_OFFLINE_AUDIO
    folder_bytes = sum(p.stat().st_size for p in wavs)
    assert tracker.offline_zip.stat().st_size < folder_bytes / 2
    assert all(p.is_file() for p in wavs)  # the run folder keeps every WAV
    assert "holds the first" in capsys.readouterr().out


def test_disabled_mode_writes_and_prints_nothing(tmp_path, monkeypatch, capsys):
    # the default offline folder (<temp>/cometml-runs) now lies inside tmp_path
    monkeypatch.setattr(tracking.tempfile, "tempdir", str(tmp_path))
    wav_path = tmp_path / "tune.wav"
    wavfile.write(wav_path, 8000, np.zeros(80, dtype=np.int16))
    before = sorted(tmp_path.rglob("*"))

    with start_experiment(PARAMS, mode="disabled", run_dir=tmp_path / "run") as tracker:
        tracker.log_metrics({"loss": 1.0}, step=1)
        tracker.log_text("X:1")
        tracker.log_audio(wav_path)
        tracker.log_image(tmp_path / "not-even-there.png")
    tracker.end()

    assert tracker.mode == "disabled" and tracker.experiment is None and tracker.offline_zip is None
    assert sorted(tmp_path.rglob("*")) == before
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("failure", [RuntimeError("training blew up"), KeyboardInterrupt()])
def test_failure_inside_with_still_ends_and_writes_zip(tmp_path, failure):
    run_dir = tmp_path / "run"
    with pytest.raises(type(failure)):
        with start_experiment(PARAMS, mode="offline", run_dir=run_dir) as tracker:
            tracker.log_metrics({"loss": 4.0}, step=7)
            raise failure
    assert tracker.ended
    assert tracker.offline_zip is not None and tracker.offline_zip.parent == run_dir
    messages, _ = read_zip(tracker.offline_zip)
    assert logged_metrics(messages, "loss") == [(7, 4.0)]
    assert tracker.experiment.alive is False


def test_trackers_in_sequence_do_not_end_each_other(tmp_path):
    first = start_experiment({"run": 1}, mode="offline", run_dir=tmp_path / "first")
    first.log_metrics({"loss": 1.0}, step=1)
    first.end()
    second = start_experiment({"run": 2}, mode="offline", run_dir=tmp_path / "second")
    first.end()  # again, after the second started: must not touch the second
    assert second.experiment.alive
    second.log_metrics({"loss": 2.0}, step=1)
    second.end()

    assert list((tmp_path / "first").glob("*.zip")) == [first.offline_zip]
    first_messages, _ = read_zip(first.offline_zip)
    second_messages, _ = read_zip(second.offline_zip)
    assert logged_metrics(first_messages, "loss") == [(1, 1.0)]
    assert logged_metrics(second_messages, "loss") == [(1, 2.0)]
    assert logged_params(second_messages)["run"] == 2


def test_end_leaves_another_comet_experiment_running(tmp_path):
    import comet_ml
    ours = start_experiment({"run": 1}, mode="offline", run_dir=tmp_path / "ours")
    # Other code starts its own comet experiment: comet_ml now calls that one "current".
    theirs = comet_ml.OfflineExperiment(offline_directory=str(tmp_path / "theirs"),
                                        **tracking.QUIET_EXPERIMENT_OPTIONS)
    ours.end()
    assert theirs.alive, "ending our tracker ended someone else's experiment"
    theirs.end()


def test_network_guard_catches_connections(no_network):
    with pytest.raises(OSError, match="network access attempted"):
        socket.create_connection(("127.0.0.1", 9))
    assert len(no_network) == 1
    no_network.clear()


def test_new_tracker_ends_a_forgotten_one_with_its_data(tmp_path, capsys):
    forgotten = start_experiment({"run": 1}, mode="offline", run_dir=tmp_path / "first")
    forgotten.log_metrics({"loss": 1.5}, step=3)
    current = start_experiment({"run": 2}, mode="offline", run_dir=tmp_path / "second")
    assert forgotten.ended and forgotten.offline_zip is not None
    assert current.experiment.alive
    current.end()
    messages, _ = read_zip(forgotten.offline_zip)
    assert logged_metrics(messages, "loss") == [(3, 1.5)]
    assert "ending the previous experiment" in capsys.readouterr().out


def test_choose_mode(monkeypatch):
    assert choose_mode("auto") == "offline"
    assert choose_mode("auto", api_key="abc") == "online"
    monkeypatch.setenv("COMET_API_KEY", "from-env")
    assert choose_mode("auto") == "online"
    assert choose_mode("offline") == "offline"
    assert choose_mode("disabled") == "disabled"
    monkeypatch.delenv("COMET_API_KEY")
    with pytest.raises(ValueError, match="COMET_API_KEY"):
        choose_mode("online")
    with pytest.raises(ValueError, match="mode must be one of"):
        choose_mode("loud")


class FakeOnlineExperiment:
    """Stands in for comet_ml.Experiment: records what it is given, opens no connection."""

    def __init__(self, **kwargs):
        self.kwargs, self.parameters, self.names, self.end_calls = kwargs, {}, [], 0
        self.url = "https://www.comet.com/fake/rnn-music-lab/123"

    def set_name(self, name):
        self.names.append(name)

    def log_parameters(self, parameters):
        self.parameters.update(parameters)

    def end(self):
        self.end_calls += 1


def test_online_mode_with_key_uses_quiet_experiment(monkeypatch, capsys):
    import comet_ml
    monkeypatch.setattr(comet_ml, "Experiment", FakeOnlineExperiment)
    monkeypatch.setenv("COMET_API_KEY", "key-from-env")

    with start_experiment(PARAMS, name="lstm-1") as tracker:
        assert tracker.mode == "online"
    experiment = tracker.experiment
    assert experiment.kwargs["api_key"] == "key-from-env"
    assert experiment.kwargs["project_name"] == "rnn-music-lab"
    quiet = ["log_code", "log_git_metadata", "log_git_patch", "log_env_details", "log_env_gpu",
             "log_env_host", "auto_output_logging", "auto_param_logging", "auto_metric_logging"]
    assert [option for option in quiet if experiment.kwargs[option] is not False] == []
    assert experiment.parameters == PARAMS and experiment.names == ["lstm-1"]
    tracker.end()
    assert experiment.end_calls == 1
    assert tracker.url in capsys.readouterr().out


def test_online_experiment_that_cannot_start_says_so(monkeypatch, capsys):
    import comet_ml

    class DeadExperiment(FakeOnlineExperiment):
        alive = False  # what comet_ml leaves after a rejected key or no network

    monkeypatch.setattr(comet_ml, "Experiment", DeadExperiment)
    tracker = start_experiment(PARAMS, api_key="wrong-key")
    tracker.end()
    out = capsys.readouterr().out
    assert "could not start" in out and "logging online" not in out


def test_missing_comet_ml(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "comet_ml", None)  # makes `import comet_ml` raise ImportError
    tracker = start_experiment(PARAMS, run_dir=tmp_path / "run")
    assert tracker.mode == "disabled"
    assert "comet_ml is not installed" in capsys.readouterr().out
    with pytest.raises(ImportError, match="pip install comet_ml"):
        start_experiment(PARAMS, mode="offline", run_dir=tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_colab_or_env_api_key(monkeypatch):
    assert colab_or_env_api_key() is None
    monkeypatch.setenv("COMET_API_KEY", " env-key \n")
    assert colab_or_env_api_key() == "env-key"

    def install_fake_colab(get):
        userdata = types.SimpleNamespace(get=get)
        colab = types.ModuleType("google.colab")
        colab.userdata = userdata
        google = types.ModuleType("google")
        google.colab = colab
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", colab)

    install_fake_colab(lambda name: "colab-key" if name == "COMET_API_KEY" else None)
    assert colab_or_env_api_key() == "colab-key"

    def secret_not_found(name):
        raise LookupError(f"Secret {name} does not exist.")

    install_fake_colab(secret_not_found)
    assert colab_or_env_api_key() == "env-key"


def test_online_without_a_network_is_one_line_and_logs_offline(no_network, monkeypatch, tmp_path, capsys):
    import comet_ml

    monkeypatch.setattr(tracking, "comet_reachable", REAL_COMET_REACHABLE)
    monkeypatch.setattr(comet_ml, "Experiment", lambda **kwargs: pytest.fail("tried to go online"))
    with start_experiment(PARAMS, api_key="a-key", mode="online", run_dir=tmp_path) as tracker:
        tracker.log_metrics({"loss": 1.0}, step=1)
    out = capsys.readouterr()
    assert tracker.mode == "offline" and tracker.offline_zip is not None
    assert "cannot reach" in out.out and "Traceback" not in out.err
    assert len(no_network) >= 1  # the one short check it made (refused by the guard)
    no_network.clear()


def test_no_needs_end_warning_in_jupyter(monkeypatch, tmp_path):
    """comet_ml warns in Jupyter that experiment.end() is needed; the Tracker always ends it."""
    import comet_ml.experiment

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("comet_ml.experiment")
    logger.addHandler(handler)
    monkeypatch.setattr(comet_ml.experiment, "_in_jupyter_environment", lambda: True)
    try:
        start_experiment(PARAMS, mode="offline", run_dir=tmp_path).end()
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if "experiment.end()" in r.getMessage()]


def test_a_rerun_of_the_same_name_replaces_its_own_zip_only(tmp_path, capsys):
    run_dir = tmp_path / "05_training"
    run_dir.mkdir()
    (run_dir / "mine.zip").write_bytes(b"a zip the user made")
    zips = []
    for run in range(3):  # notebook 05's cell, run three times
        with start_experiment({"run": run}, mode="offline", run_dir=run_dir, name="05_training") as tracker:
            tracker.log_metrics({"loss": 1.0}, step=1)
        zips.append(tracker.offline_zip)
    other = start_experiment({"run": 9}, mode="offline", run_dir=run_dir, name="another")
    other.end()
    assert sorted(p.name for p in run_dir.glob("*.zip")) == sorted(["mine.zip", zips[-1].name, other.offline_zip.name])
    assert (run_dir / "mine.zip").read_bytes() == b"a zip the user made"
    messages, _ = read_zip(zips[-1])
    assert str(logged_params(messages)["run"]) == "2"  # the zip kept is the last run's
    printed = [line for line in capsys.readouterr().out.splitlines() if "offline experiment saved" in line]
    assert len(printed) == 4 and f"it replaces {zips[1].name}" in printed[2] and "replaces" not in printed[0]
