import csv
import json
import re
import subprocess
import sys

import pytest

from labutils import cli
from labutils.checkpoints import load_checkpoint

SMALL_RUN = ["--preset", "small", "--iterations", "12", "--eval-every", "6", "--checkpoint-every", "4",
             "--length", "300", "--num-samples", "2", "--num-tunes", "2", "--comet", "disabled", "--quiet"]


def test_help_lists_commands_and_flags(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--preset", "--resume", "--temperature", "--num-samples", "--comet", "--hidden-size"):
        assert flag in out


def test_run_writes_the_run_folder(tmp_path, capsys):
    assert cli.main(["run", *SMALL_RUN, "--runs-dir", str(tmp_path), "--name", "r1", "--no-audio"]) == 0
    run = tmp_path / "r1"
    for name in ("config.json", "checkpoint.pt", "best.pt", "history.csv", "loss.png", "generated.txt",
                 "summary.json"):
        assert (run / name).is_file(), name
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    assert rows[5]["val_bpc"] and not rows[4]["val_bpc"]
    config = json.loads((run / "config.json").read_text())
    assert config["params"]["num_training_iterations"] == 12 and len(config["vocab"]) == 83
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 12 and summary["val_bpc"] > 0
    assert summary["best_step"] in (6, 12) and summary["best_val_bpc"] <= summary["val_bpc"]
    assert summary["generated_with"].endswith(f"(step {summary['best_step']})")
    assert "Summary" in capsys.readouterr().out


@pytest.mark.parametrize("flag,setting,copies", [(["-2", "2"], [-2, 2], (1400, 2 * 724)),
                                                  (["tradition"], "tradition", (700, 3 * 724))])
def test_transpose_flag_trains_on_moved_copies_too(tmp_path, capsys, flag, setting, copies):
    assert cli.main(["train", *SMALL_RUN[:6], "--comet", "disabled", "--quiet", "--runs-dir", str(tmp_path),
                     "--name", "moved", "--transpose", *flag]) == 0
    config = json.loads((tmp_path / "moved" / "config.json").read_text())
    assert config["params"]["transpose"] == setting and copies[0] <= config["transposed_tunes"] <= copies[1]
    assert f"724 training tunes + {config['transposed_tunes']} transposed copies" in capsys.readouterr().out


def test_existing_run_folder_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    assert cli.main(["train", *SMALL_RUN[:6], "--runs-dir", str(tmp_path), "--name", "taken"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "taken" / "mine.txt").read_text() == "keep me"


def test_resume_continues_to_more_iterations(tmp_path):
    base = ["train", "--preset", "small", "--comet", "disabled", "--quiet", "--runs-dir", str(tmp_path)]
    assert cli.main([*base, "--name", "a", "--iterations", "6"]) == 0
    assert cli.main(["train", "--resume", str(tmp_path / "a"), "--iterations", "10", "--comet", "disabled",
                     "--quiet"]) == 0
    ckpt = load_checkpoint(tmp_path / "a" / "checkpoint.pt")
    assert ckpt["step"] == 10 and len(ckpt["history"]) == 10


def test_resume_of_a_missing_run_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["train", "--resume", str(tmp_path / "nope"), "--comet", "disabled"]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_generate_from_a_run_checkpoint(tmp_path, capsys):
    assert cli.main(["train", *SMALL_RUN[:6], "--comet", "disabled", "--quiet", "--runs-dir", str(tmp_path),
                     "--name", "g"]) == 0
    out = tmp_path / "gen"
    with pytest.warns(UserWarning, match="tunes ended"):  # 12 training steps write no whole tune yet
        assert cli.main(["generate", "--checkpoint", str(tmp_path / "g"), "--length", "200", "--num-samples", "3",
                         "--num-tunes", "2", "--out", str(out), "--no-audio"]) == 0
    assert (out / "generated.txt").is_file()
    quality = json.loads((out / "quality.json").read_text())
    assert quality["count"] == len(list(out.glob("tunes/*.abc")))
    assert 0.6 < quality["real_form"]["phrase_return"] < 0.85  # the lab's tunes beside the generated ones
    assert set(quality["form"]) >= {"two_part_32", "one_part", "phrase_return", "bar_repetition", "counts"}
    assert re.search(r"form_phrase_return: .* \(real tunes 7\d%\): 8-bar parts", capsys.readouterr().out)


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "labutils", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "build-notebooks" in result.stdout and "grade" in result.stdout


def test_ctrl_c_keeps_the_checkpoint_and_resume_continues(tmp_path):
    import signal
    import time

    run = tmp_path / "int"
    command = [sys.executable, "-m", "labutils", "train", "--preset", "small", "--iterations", "100000",
               "--checkpoint-every", "5", "--comet", "disabled", "--quiet", "--runs-dir", str(tmp_path),
               "--name", "int"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoint.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, output
    printed = next(line for line in output.splitlines() if line.startswith("Continue with: "))
    step = load_checkpoint(run / "checkpoint.pt")["step"]
    assert 5 <= step < 100000
    # The printed command runs as pasted into a shell (with the lab's Python, not a bare `python`).
    resumed = subprocess.run(printed[len("Continue with: "):] + f" --iterations {step + 3} --comet disabled --quiet",
                             shell=True, capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin"})
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert ckpt["step"] == step + 3 and [r["step"] for r in ckpt["history"]] == list(range(1, step + 4))


def test_each_setting_flag_sets_a_setting_of_the_same_name(capsys):
    from labutils import params as lab_params

    settings = set(lab_params.NOTES_PARAMS) | set(lab_params.TRAINING_DEFAULTS)
    args = cli.build_parser().parse_args(["train", "--iterations", "7", "--extra-tunes", "ryans", "--transpose", "2"])
    assert set(args.setting_flags) <= settings and len(args.setting_flags) == 21
    assert args.setting_flags["num_training_iterations"] == "--iterations"
    assert (args.num_training_iterations, args.extra_tunes, args.transpose) == (7, ["ryans"], [2])
    for flag, value in ((["--transpose", "tradition"], "tradition"), (["--transpose"], []),
                        (["--transpose", "-2", "2"], [-2, 2])):
        assert cli.build_parser().parse_args(["train", *flag]).transpose == value
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--transpose", "2", "tradition"])
    assert "--transpose takes semitones (e.g. -2 2) or the word tradition" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "--preset", "seed"])  # the old alias of "notes" is gone
    assert "invalid choice: 'seed'" in capsys.readouterr().err
