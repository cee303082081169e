"""Nothing a user made is lost, and every bad input ends in one clear line."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from labutils import cli

QUICK = ["--preset", "small", "--iterations", "4", "--eval-every", "2", "--checkpoint-every", "2",
         "--comet", "disabled", "--quiet"]


def one_line_error(capsys, *needles):
    """The captured stderr is one line holding every needle (no traceback)."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("argv", [["train", "--iteration", "10"], ["play", "x.abc", "--max-second", "3"],
                                  ["grade", "x", "--cell-time", "3"], ["build-notebooks", "--che"]])
def test_abbreviated_flags_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


# --- play / save_song: never the input, never a file replaced without a flag, atomic --------------

TUNE = "X:1\nT:Test\nM:4/4\nL:1/8\nK:D\nABcd efga|gfed cBAG|]\n"


def test_play_refuses_to_write_over_its_input(tmp_path, capsys):
    from labutils import music

    source = tmp_path / "t.abc"
    source.write_text(TUNE)
    assert music.main([str(source), "--out", str(source), "--synth", "numpy"]) == 2
    one_line_error(capsys, "is the input")
    named_wav = tmp_path / "song.wav"  # an ABC file named .wav: the default output is itself
    named_wav.write_text(TUNE)
    assert music.main([str(named_wav), "--synth", "numpy", "--force"]) == 2
    one_line_error(capsys, "is the input")
    assert source.read_text() == TUNE and named_wav.read_text() == TUNE


def test_play_keeps_an_existing_wav_unless_forced(tmp_path, capsys):
    from labutils import music

    source, wav = tmp_path / "good.abc", tmp_path / "good.wav"
    source.write_text(TUNE)
    wav.write_bytes(b"my recording")
    assert music.main([str(source), "--synth", "numpy"]) == 2
    one_line_error(capsys, "already exists", "--force")
    assert wav.read_bytes() == b"my recording"
    assert music.main([str(source), "--synth", "numpy", "--force"]) == 0
    assert wav.read_bytes()[:4] == b"RIFF"
    assert "plays nothing" in capsys.readouterr().out  # says it wrote a file and played nothing


def test_save_song_and_abc_to_midi_need_overwrite(tmp_path):
    from labutils import music

    for write, name in ((music.save_song, "t.wav"), (music.abc_to_midi, "t.mid")):
        path = tmp_path / name
        path.write_bytes(b"keep")
        with pytest.raises(FileExistsError, match="overwrite=True"):
            write(TUNE, path)
        assert path.read_bytes() == b"keep"
        write(TUNE, path, overwrite=True)
        assert path.read_bytes()[:4] in (b"RIFF", b"MThd")


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    from scipy.io import wavfile

    from labutils import music

    path = tmp_path / "t.wav"
    path.write_bytes(b"the old file")

    def half_write(handle, rate, data):
        handle.write(b"RIFF half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wavfile, "write", half_write)
    with pytest.raises(OSError, match="no space left on device"):
        music.save_song(TUNE, path, synth="numpy", overwrite=True)
    assert path.read_bytes() == b"the old file" and [p.name for p in tmp_path.iterdir()] == ["t.wav"]


@pytest.mark.parametrize("flags, needle", [(["--max-seconds", "0"], "--max-seconds"),
                                           (["--out", "missing/t.wav"], "no folder"),
                                           (["--out", "ro/t.wav"], "read-only")])
def test_play_bad_output_flags_are_one_line(flags, needle, tmp_path, capsys, monkeypatch):
    from labutils import music

    monkeypatch.chdir(tmp_path)
    Path("t.abc").write_text(TUNE)
    Path("ro").mkdir()
    os.chmod("ro", 0o555)
    if os.access("ro", os.W_OK):  # root writes anywhere: let the folder check see it as read-only
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: Path(p).name != "ro" and real_access(p, mode))
    assert music.main(["t.abc", *flags, "--synth", "numpy"]) == 2
    one_line_error(capsys, needle)


def test_latin1_file_is_read_and_said(tmp_path, capsys):
    from labutils.data import load_training_data

    path = tmp_path / "old.abc"
    path.write_bytes(("X:1\nT:Caf\u00e9\nK:D\nABc|\n\nX:2\nT:b\nK:D\ndef|\n").encode("latin-1"))
    songs = load_training_data(path)
    assert "T:Caf\u00e9" in songs[0] and "\ufffd" not in songs[0]
    assert "not UTF-8" in capsys.readouterr().err


# --- safe checkpoint loading -------------------------------------------------------------------


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["LABUTILS_TEST_MARK"]),))


def test_a_pickle_payload_in_a_checkpoint_does_not_run(tmp_path, monkeypatch, capsys):
    from labutils.checkpoints import load_checkpoint

    mark = tmp_path / "payload-ran"
    monkeypatch.setenv("LABUTILS_TEST_MARK", str(mark))
    evil = tmp_path / "evil.pt"
    torch.save({"model_state": {}, "model_config": {}, "x": _Payload()}, evil)
    with pytest.raises(ValueError, match="weights_only"):
        load_checkpoint(evil)
    assert cli.main(["generate", "--checkpoint", str(evil), "--length", "5"]) == 2
    one_line_error(capsys, "evil.pt")
    assert not mark.exists()


def test_checkpoints_load_with_weights_only(tmp_path):
    from labutils.pretrained import PRETRAINED_PATH

    assert cli.main(["train", *QUICK, "--runs-dir", str(tmp_path), "--name", "a"]) == 0
    for path in (tmp_path / "a" / "checkpoint.pt", tmp_path / "a" / "best.pt", PRETRAINED_PATH):
        ckpt = torch.load(path, weights_only=True)  # what load_checkpoint does: nothing but data
        assert ckpt["model_state"] and ckpt["model_config"]["vocab_size"] == 83


@pytest.mark.parametrize("broken", ["no_config", "other_size"])
def test_a_checkpoint_that_does_not_fit_its_model_is_one_line(broken, tmp_path, capsys):
    from labutils.model import LSTMModel

    model = LSTMModel(83, 8, 16)
    ckpt = {"model_state": model.state_dict(), "model_config": {**model.config(), "hidden_size": 32}}
    if broken == "no_config":
        del ckpt["model_config"]
    torch.save(ckpt, tmp_path / "c.pt")
    assert cli.main(["generate", "--checkpoint", str(tmp_path / "c.pt"), "--length", "5"]) == 2
    one_line_error(capsys, "model_config")


# --- train / run: everything checked before a file is written --------------------------------------


@pytest.mark.parametrize("flags, needle", [(["--iterations", "0"], "--iterations"),
                                           (["--embedding-dim", "-1"], "--embedding-dim"),
                                           (["--learning-rate", "inf"], "--learning-rate"),
                                           (["--data", "no-such.abc"], "no-such.abc")])
def test_bad_training_flags_are_one_line_and_leave_no_folder(flags, needle, tmp_path, capsys):
    assert cli.main(["train", *QUICK, *flags, "--runs-dir", str(tmp_path / "runs"), "--name", "x"]) == 2
    one_line_error(capsys, needle)
    assert not (tmp_path / "runs" / "x").exists()


def test_runs_dir_that_is_a_file_or_read_only(tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("mine")
    assert cli.main(["train", *QUICK, "--runs-dir", str(tmp_path / "afile"), "--name", "x"]) == 2
    one_line_error(capsys, "is a file")
    assert (tmp_path / "afile").read_text() == "mine"
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    real_access = os.access  # root may write anywhere: make the check see the folder as read-only
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    assert cli.main(["train", *QUICK, "--runs-dir", str(locked / "runs"), "--name", "x"]) == 2
    one_line_error(capsys, "read-only")
    assert list(locked.iterdir()) == []


@pytest.fixture
def small_run(tmp_path):
    assert cli.main(["train", *QUICK, "--runs-dir", str(tmp_path), "--name", "a"]) == 0
    return tmp_path / "a"


def test_a_conflicting_resume_changes_nothing(small_run, capsys):
    files = {p.name: p.read_bytes() for p in small_run.iterdir()}
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(small_run), "--hidden-size", "128", "--embedding-dim", "9",
                     "--comet", "disabled", "--quiet"]) == 2
    one_line_error(capsys, "--hidden-size 128", "--embedding-dim 9")
    assert {p.name: p.read_bytes() for p in small_run.iterdir()} == files
    assert cli.main(["train", "--resume", str(small_run), "--iterations", "6", "--comet", "disabled",
                     "--quiet"]) == 0
    assert "Resuming from step 4 of 6" in capsys.readouterr().out


def test_a_resume_whose_checkpoint_does_not_fit_is_one_line(small_run, tmp_path, capsys):
    assert cli.main(["train", *QUICK, "--hidden-size", "24", "--runs-dir", str(tmp_path), "--name", "b"]) == 0
    (small_run / "checkpoint.pt").write_bytes((tmp_path / "b" / "checkpoint.pt").read_bytes())
    config = (small_run / "config.json").read_bytes()
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(small_run), "--iterations", "6", "--comet", "disabled"]) == 2
    one_line_error(capsys, "does not fit", "hidden_size")
    assert (small_run / "config.json").read_bytes() == config


def test_a_relative_data_path_resumes_from_another_folder(tmp_path, monkeypatch):
    from labutils.data import find_tune_file

    work = tmp_path / "work"
    work.mkdir()
    (work / "tunes.abc").write_text(find_tune_file().read_text(encoding="utf-8")[:60_000], encoding="utf-8")
    monkeypatch.chdir(work)
    assert cli.main(["train", *QUICK, "--data", "tunes.abc", "--runs-dir", "runs", "--name", "d"]) == 0
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--resume", "work/runs/d", "--iterations", "6", "--comet", "disabled",
                     "--quiet"]) == 0
    assert torch.load(work / "runs" / "d" / "checkpoint.pt", weights_only=True)["step"] == 6


def test_an_interrupted_run_writes_its_history_and_plot(tmp_path, monkeypatch):
    from labutils import training_loop

    real_step, calls = training_loop.scheduled_step, []

    def step_then_ctrl_c(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training_loop, "scheduled_step", step_then_ctrl_c)
    assert cli.main(["train", *QUICK, "--runs-dir", str(tmp_path), "--name", "i"]) == 130
    rows = (tmp_path / "i" / "history.csv").read_text().splitlines()
    assert len(rows) == 1 + 2  # header + the two steps of the last checkpoint
    assert (tmp_path / "i" / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_a_full_disk_during_a_checkpoint_says_so(tmp_path, monkeypatch, capsys):
    from labutils import files

    def torch_on_a_full_disk(obj, handle, *args, **kwargs):
        handle.write(b"PK half a zip")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    class Full:
        f_bavail, f_frsize = 0, 4096

    monkeypatch.setattr(torch, "save", torch_on_a_full_disk)
    monkeypatch.setattr(files.os, "statvfs", lambda folder: Full())
    assert cli.main(["train", *QUICK, "--runs-dir", str(tmp_path), "--name", "f"]) == 2
    one_line_error(capsys, "no space left on device", "best.pt")
    assert not [p for p in (tmp_path / "f").iterdir() if p.name.endswith(".tmp")]


def test_a_blown_up_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    argv = ["train", *QUICK, "--iterations", "20", "--checkpoint-every", "1", "--learning-rate", "1e6"]
    assert cli.main([*argv, "--runs-dir", str(tmp_path), "--name", "lr"]) == 2
    err = one_line_error(capsys, "blew up", "--learning-rate")
    ckpt = torch.load(tmp_path / "lr" / "checkpoint.pt", weights_only=True)
    assert f"step {ckpt['step']} is kept" in err
    assert all(torch.isfinite(v).all() for v in ckpt["model_state"].values())
    assert not (tmp_path / "lr" / "summary.json").exists()


# --- generation: capped, bounded memory, temperatures that work or are refused --------------------


def test_get_batch_refuses_a_float_array():
    from labutils.batches import get_batch

    with pytest.raises(TypeError, match="integer"):
        get_batch(np.arange(100) + 0.7, 10, 2, rng=0)


@pytest.fixture(scope="module")
def tiny_model():
    from labutils.model import LSTMModel

    torch.manual_seed(0)
    return LSTMModel(83, 8, 16)


@pytest.mark.parametrize("temperature", [float("nan"), float("inf"), 0.0, -1.0])
def test_temperatures_that_mean_nothing_are_refused(tiny_model, temperature):
    from labutils.sampling import generate_text

    with pytest.raises(ValueError, match="finite number above 0"):
        generate_text(tiny_model, "X", 5, temperature=temperature)


def test_a_tiny_temperature_picks_the_likeliest_character(tiny_model):
    from labutils.sampling import generate_text

    texts = generate_text(tiny_model, "X:", 30, temperature=1e-300, num_samples=3, seed=0)
    assert len(set(texts)) == 1 and len(texts[0]) == 32  # no torch error, and no randomness left


def test_generation_lengths_are_capped_with_a_clear_message(tiny_model, capsys):
    from labutils.sampling import MAX_GENERATION_LENGTH, generate_text

    for length, start in ((MAX_GENERATION_LENGTH + 1, "X"), (5, "X" * (MAX_GENERATION_LENGTH + 1))):
        with pytest.raises(ValueError, match="limit"):
            generate_text(tiny_model, start, length)
    assert cli.main(["generate", "--length", "10000000"]) == 2
    one_line_error(capsys, "--length", "100,000")
    assert cli.main(["generate", "--temperature", "nan"]) == 2
    one_line_error(capsys, "--temperature")


def test_a_long_start_string_primes_in_bounded_memory(tiny_model, monkeypatch):
    from labutils import sampling

    widest = []
    forward = type(tiny_model).forward

    def watched(self, x, *args, **kwargs):
        widest.append(x.size(1))
        return forward(self, x, *args, **kwargs)

    monkeypatch.setattr(type(tiny_model), "forward", watched)
    text = sampling.generate_text(tiny_model, "X:1\n" * 1000, 3, seed=0)
    assert len(text) == 4003 and max(widest) <= sampling.PRIME_CHUNK


def test_generate_out_keeps_earlier_results_unless_forced(tmp_path, capsys):
    out = tmp_path / "gen"
    out.mkdir()
    (out / "generated.txt").write_text("my earlier tunes")
    assert cli.main(["generate", "--length", "50", "--num-samples", "1", "--out", str(out), "--no-audio"]) == 2
    one_line_error(capsys, "earlier results", "--force")
    assert (out / "generated.txt").read_text() == "my earlier tunes"
    assert cli.main(["generate", "--length", "50", "--num-samples", "1", "--out", str(out), "--no-audio",
                     "--force"]) == 0
    assert (out / "generated.txt").read_text() != "my earlier tunes"


# --- grading: the output folder is checked first, every student keeps their own feedback ----------


def test_grade_checks_its_output_folder_before_grading(tmp_path, capsys, monkeypatch):
    from labutils.grading import cli as grade_cli

    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "afile").write_text("mine")
    graded = []
    monkeypatch.setattr(grade_cli, "grade_all", lambda *a, **k: graded.append(a) or pytest.fail("graded"))
    assert cli.main(["grade", str(tmp_path / "alice.ipynb"), "--out", str(tmp_path / "afile" / "grades")]) == 2
    one_line_error(capsys, "--out", "nothing was graded")
    assert graded == [] and (tmp_path / "afile").read_text() == "mine"


@pytest.mark.parametrize("flag", ["--cell-timeout", "--timeout"])
@pytest.mark.parametrize("value", ["inf", "nan", "0"])
def test_grade_refuses_timeouts_that_are_no_bound(flag, value, tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path), flag, value, "--out", str(tmp_path / "g")]) == 2
    one_line_error(capsys, flag)


def test_students_whose_names_look_alike_keep_their_own_feedback(tmp_path):
    from labutils.grading.report import write_reports
    from labutils.grading.submissions import student_grade, unfinished_report

    students = ["a b", "a_b", "Ann", "ann", "zoe"]
    grades = [student_grade(name, [], [unfinished_report(Path("lab.ipynb"), f"note for {name}")]) for name in students]
    write_reports(grades, tmp_path, seed=1)
    texts = [p.read_text() for p in (tmp_path / "feedback").glob("*.txt")]
    assert len(texts) == len(students)
    for name in students:
        assert sum(text.startswith(f"{name}:") for text in texts) == 1
    assert (tmp_path / "feedback" / "zoe.txt").is_file()  # a name without a twin keeps its plain file name


# --- bounded time per tune -----------------------------------------------------------------------


@pytest.mark.parametrize("meter", ["99999/1", "[M:300/1]", "3/0"])
def test_an_absurd_meter_is_refused_up_front(meter):
    from labutils import music

    tune = (f"X:1\nT:t\nM:{meter}\nL:1/8\nK:D\nABcd|\n" if not meter.startswith("[")
            else f"X:1\nT:t\nM:4/4\nL:1/8\nK:D\nABcd|{meter} efga|\n")
    for backend in ("music21", "auto"):
        report = music.check_tune(tune, backend)
        assert not report.parsed and "meter" in report.errors[0]
    assert music.play_song(tune, backend="music21") is None


def test_music21_is_stopped_after_its_time_limit(monkeypatch):
    import time

    import music21

    from labutils.music import abc

    monkeypatch.setattr(abc, "MUSIC21_TIMEOUT_S", 0.3)
    monkeypatch.setattr(music21.converter, "parseData", lambda *a, **k: time.sleep(30))
    midi, report = abc.music21_to_midi(abc.prepare_tune(TUNE))
    assert midi is None and "took over 0.3 s" in report.errors[0]


def test_play_with_music21_keeps_its_time_limit_on_a_46_byte_tune(tmp_path):
    import subprocess
    import sys
    import time

    tune = tmp_path / "t.abc"
    tune.write_text("X:1\nT:t\nM:4/4\nK:C\nC99999999|C/99999999|\n")  # 44 s and 3 GB before
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "labutils", "play", str(tune), "--backend", "music21"],
                          capture_output=True, timeout=60)
    assert time.monotonic() - started < 20
    assert done.returncode == 1 and "Cannot play this tune" in done.stderr.decode() and b"Traceback" not in done.stderr


def test_play_parses_its_tune_once(tmp_path, monkeypatch):
    from labutils import music
    from labutils.music import abc

    calls, real = [], abc.music21_to_midi
    monkeypatch.setattr(abc, "music21_to_midi", lambda tune: calls.append(tune) or real(tune))
    (tmp_path / "t.abc").write_text(TUNE)
    assert music.main([str(tmp_path / "t.abc"), "--backend", "music21", "--synth", "numpy"]) == 0
    assert len(calls) == 1 and (tmp_path / "t.wav").stat().st_size > 1000  # so one time limit holds for the command


# --- small things ----------------------------------------------------------------------------


@pytest.mark.parametrize("threads, words", [(1, "(1 thread)"), (2, "(2 threads)")])
def test_cpu_thread_count_reads_right(threads, words, monkeypatch, capsys):
    from labutils.device import get_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    monkeypatch.delenv("LABUTILS_REQUIRE_GPU", raising=False)
    if hasattr(torch.backends, "mps"):
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    get_device(verbose=True)
    assert words in capsys.readouterr().out


def test_no_tunes_says_why(monkeypatch, capsys):
    from labutils import jobs

    monkeypatch.setenv("LABUTILS_SMALL", "1")
    jobs.print_summary({"generated_chars": 300, "tunes": 0})
    line = next(l for l in capsys.readouterr().out.splitlines() if "tunes:" in l)
    assert "no complete tune" in line and "LABUTILS_SMALL=1" in line
