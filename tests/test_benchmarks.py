"""benchmarks/: the notes' recipe runs as written, and `python -m benchmarks.run --quick` writes every result file.

Timings are measured by the benchmark, never asserted here.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import candidate, notes_recipe, report

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ["training_throughput.png", "time_to_quality.png", "generation_throughput.png",
         "clean_share.png", "playback.png", "ngram_baseline.png", "busy_machine.png"]
FIGURE_ROWS = ["1", "2a", "2b", "3a", "3b", "4", "5", "6a", "6b", "7a", "7b"]
# The notes' get_batch builds a tensor from a list of arrays on purpose (it is the baseline).
pytestmark = pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")


def table_figures(markdown):
    """The figure numbers in the first column of the results table."""
    return {line.split("|")[1].strip() for line in markdown.splitlines()
            if line.startswith("| ") and not line.startswith("| #")}


def test_notes_get_batch_is_the_notes_shift():
    data = np.arange(500, dtype=np.int64)
    np.random.seed(0)
    x, y = notes_recipe.get_batch(data, 100, 8)
    assert x.shape == y.shape == (8, 100) and x.dtype == torch.long
    assert torch.equal(y, x + 1)


def test_notes_model_matches_ours_and_generates():
    from labutils.model import LSTMModel, count_parameters

    torch.manual_seed(0)
    notes_net = notes_recipe.LSTMModel(83, 16, 32)
    ours = LSTMModel(83, 16, 32)
    assert count_parameters(notes_net) == count_parameters(ours)
    ours.load_state_dict(notes_net.state_dict())
    x = torch.randint(0, 83, (2, 5))
    assert torch.allclose(notes_net(x), ours(x))
    vocab = [chr(32 + i) for i in range(83)]
    text = notes_recipe.generate_text(notes_net, "X", 30, char2idx={c: i for i, c in enumerate(vocab)},
                                       idx2char=np.array(vocab), device=torch.device("cpu"))
    assert text.startswith("X") and len(text) == 31


def test_table_marks_goals_from_the_numbers():
    curve = [{"train_s": 0.0, "step": 0, "val_bpc": 6.0}, {"train_s": 60.0, "step": 100, "val_bpc": 1.5}]
    results = {
        "minutes": 10,
        "training_throughput": {"notes": {"median_chars_per_s": 1000.0}, "ours": {"median_chars_per_s": 900.0}},
        "time_to_quality": {"summary": {
            "notes_best_bpc": 1.6, "notes_time_to_best_s": 300.0, "ours_time_to_notes_best_s": 60.0,
            "time_ratio": 0.2, "ours_final_bpc": 1.35, "ours_train_s": 500.0, "ours_steps": 2000,
            "notes_final_bpc": 1.7, "notes_train_s": 600.0, "notes_steps": 2500}, "notes": curve, "ours": curve},
        "generation_throughput": {"notes": {"chars_per_s": 100.0},
                                  "ours_single": {"chars_per_s": 120.0},
                                  "ours_batched": {"chars_per_s": 1500.0, "samples": 64}},
        "clean_share": {"real_tunes": {"share": 0.9, "tunes": 804}, "notes_T1.0": {"share": 0.5, "tunes": 40},
                        "ours_T1.0": {"share": 0.6, "tunes": 50}},
        "playback": {"median_tune_chars": 231, "backends": {"abc2midi+numpy": {"seconds": 0.05},
                                                           "notes": {"seconds": 0.5}}},
    }
    rows = {row[0] + " " + row[1][:12]: row for row in report.table_rows(results)}
    met = {key.split()[0]: row[-1] for key, row in rows.items()}
    assert met == {"1": "no", "2a": "yes", "2b": "yes", "3a": "—", "3b": "no", "4": "—", "5": "yes"}
    assert rows["3b Generation, "][4] == "15.00x"


def test_quick_run_writes_table_plots_and_json(tmp_path):
    out = tmp_path / "results"
    # `python -m benchmarks.run` as `make bench-quick` runs it, from another folder to see what it leaves there.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for name in PLOTS:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    table = (out / "results.md").read_text(encoding="utf-8")
    assert set(FIGURE_ROWS) <= table_figures(table)
    raw = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert {"training_throughput", "time_to_quality", "generation_throughput", "clean_share",
            "playback", "ngram_baseline", "busy_machine", "environment"} <= raw.keys()
    assert list(raw["ngram_baseline"]["bpc_by_order"]) == ["1", "2", "3"]
    assert {"quiet_fixed", "quiet_adaptive", "busy_fixed", "busy_adaptive"} <= raw["busy_machine"].keys()
    assert raw["environment"]["threads"] >= 1 and raw["environment"]["torch"] == torch.__version__
    assert len(raw["time_to_quality"]["notes"]) >= 2 and len(raw["time_to_quality"]["ours"]) >= 2
    assert not (tmp_path / "tmp.abc").exists() and not list(tmp_path.glob("*.wav"))  # nothing left in cwd
    assert raw["form"]["0"]["guided"]["counts"]["tunes"] == 2  # figure 8: real | plain | guided
    assert f"| | real ({raw['data']['tunes']}) | plain (2) | guided (2) |" in table

    # One figure again on its own: measured anew, merged into the results the full run left.
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--figures", "3", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    again = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert again["generation_throughput"] != raw["generation_throughput"]  # measured anew
    assert {"ours_batched", "ours_batched_more", "ours_cpu_default_batched"} <= again["generation_throughput"].keys()
    assert again["time_to_quality"] == raw["time_to_quality"] and again["playback"] == raw["playback"]  # kept
    assert [rerun["figures"] for rerun in again["reruns"]] == [["3"]]
    table = (out / "results.md").read_text(encoding="utf-8")
    assert set(FIGURE_ROWS) <= table_figures(table) and "Figure(s) 3 measured again on their own" in table


def test_one_figure_alone_needs_the_last_run_and_figure_4_needs_2(tmp_path, capsys):
    from benchmarks import run

    with pytest.raises(SystemExit):
        run.parse_args(["--figures", "4"])
    assert "add 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.parse_args(["--figures", "3,9"])
    assert run.parse_args(["--figures", "3, 4g"]).figures == ["3", "4g"]
    assert run.main(["--quick", "--figures", "3", "--out", str(tmp_path)]) == 1  # nothing to merge into
    assert not (tmp_path / "results.json").exists()


def test_candidate_writes_a_curve_of_both_models(tmp_path):
    overrides = {"hidden_size": 24, "embedding_dim": 8, "batch_size": 4, "seq_length": 16, "ema_decay": 0.9}
    assert candidate.main(["tiny", json.dumps(overrides), "4", "--every", "2", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "probe_tiny.json").read_text())
    assert [point["step"] for point in record["curve"]] == [2, 4]
    assert record["params"]["hidden_size"] == 24 and record["params"]["num_training_iterations"] == 4
    for point in record["curve"]:
        assert 1.0 < point["val_bpc"] < 8.0 and 1.0 < point["averaged_val_bpc"] < 8.0


def test_competing_process_is_always_ended():
    from benchmarks import measure

    with pytest.raises(RuntimeError):
        with measure.competing_process(seconds_limit=60) as process:
            assert process.poll() is None  # running flat out inside the block
            raise RuntimeError("a measurement failed")
    assert process.poll() is not None  # killed on the way out all the same


def test_busy_rows_mark_the_goal_from_the_numbers():
    speeds = {"quiet_fixed": 4.0, "quiet_adaptive": 3.8, "busy_fixed": 0.5, "busy_adaptive": 2.0}
    results = {"busy_machine": {"steps": 40, "default_threads": 2, "candidates": [1, 2],
                                **{k: {"steps_per_s": v, "choices": []} for k, v in speeds.items()}}}
    rows = {row[0]: row for row in report._busy_rows(results)}
    assert rows["7b"][-1] == "yes" and rows["7b"][4] == "4.00x"
    results["busy_machine"]["busy_adaptive"]["steps_per_s"] = 1.0
    assert report._busy_rows(results)[1][-1] == "no"


def test_the_grading_benchmark_grades_the_labs_own_notebooks(tmp_path):
    from benchmarks import bench_grading

    count = bench_grading.make_class(tmp_path / "class", 3)
    students = sorted(p.name for p in (tmp_path / "class").iterdir())
    assert count == 6 and students == ["student00", "student01", "student02"]
    assert sorted(p.name for p in (tmp_path / "class" / "student01").iterdir()) == list(bench_grading.NOTEBOOKS)
    assert bench_grading.make_class(tmp_path / "course", 2, bench_grading.CLASSES["course"]) == 16


def test_the_grading_benchmark_builds_the_baseline_grader_from_history(tmp_path):
    from benchmarks import bench_grading

    known = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{bench_grading.BASELINE}^{{commit}}"])
    if known.returncode != 0:
        pytest.skip(f"a shallow clone: {bench_grading.BASELINE} is not in the history")
    tree = bench_grading.build_baseline(bench_grading.BASELINE, tmp_path)
    then = subprocess.run(["git", "-C", str(ROOT), "show", f"{bench_grading.BASELINE}:labutils/grading/cli.py"],
                          capture_output=True, text=True, check=True).stdout
    assert (tree / "labutils" / "grading" / "cli.py").read_text() == then
    assert bench_grading.build_baseline("0" * 40, tmp_path / "none") is None


def test_the_grading_benchmark_reports_the_ratio_over_all_runs():
    from benchmarks import bench_grading

    runs = [{"tree": "a823da0", "seconds": 120.0}, {"tree": "working tree", "seconds": 40.0},
            {"tree": "working tree", "seconds": 50.0}, {"tree": "a823da0", "seconds": 150.0}]
    result = bench_grading.summary(runs, 16, "a823da0")
    assert result["a823da0"]["per_minute"] == round(60 * 32 / 270, 2)
    assert result["working tree"]["mean_seconds"] == 45.0 and result["ratio"] == 3.0
    assert "ratio" not in bench_grading.summary(runs[1:3], 16, "a823da0")


def test_copy_phrases_writes_bar_5_as_bar_1_and_nothing_else():
    """The diagnostic text of form_probe --copy-phrases: each 8-bar part's bar 5 becomes its bar 1."""
    from benchmarks.form_probe import copy_phrases
    from labutils.music.form import tune_form

    tune = ("X:1\nT:t\nM:2/4\nL:1/8\nK:G\n"
            "|:D2 GA|B2 AG|FA dc|BG G2|EF GA|Bc AG|FA dF|G2 G2:|\n"
            "|:d2 Bd|e2 ce|dB AG|FA D2|g2 fe|d2 cB|AB cA|G2 G2:|\n")
    copied = copy_phrases(tune)
    assert tune_form(tune).phrase_returns == [False, False]
    assert tune_form(copied).phrase_returns == [True, True]
    assert copied.replace("|D2 GA|Bc AG|FA dF", "|EF GA|Bc AG|FA dF").replace("|d2 Bd|d2 cB", "|g2 fe|d2 cB") == tune
    assert copy_phrases(copied) == copied
