"""`make bench`: measure our labutils against the lab notes' recipe, in one process; write benchmarks/results/.

    python -m benchmarks.run                  # full run (make bench), 11-23 minutes on 2 cores
    python -m benchmarks.run --quick          # smoke check (make bench-quick), about a minute
    python -m benchmarks.run --minutes 5 --out /tmp/bench
    python -m benchmarks.run --figures 3,4g   # just those, merged into the last run's results

Run from the repository root (benchmarks/ is a package).

Figures: (1) training throughput at the notes' configuration, (2) held-out bits/char
against training time for the notes' recipe and our CPU default, (3) generation
throughput, (4) share of generated tunes that abc2midi reads cleanly, (5) playback
time of the median tune per backend, (6) the Kneser-Ney n-gram baseline by order against
our LSTM, (7) training steps/s with one competing process, fixed vs measured thread
counts, (8) the form of real, plain and guided tunes (parts, cadences, returning phrases). Each
of 1-7 as ours/notes with absolute numbers; 8 as one table per seed.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from labutils import params as lab_params

if __name__ == "__main__" and not __package__:  # run as a file, where the imports below fail
    sys.exit("Run it as a module from the repository root: python -m benchmarks.run --help")

from . import measure, report

HERE = Path(__file__).resolve().parent

# How much of each measurement a run does: full (`make bench`) and quick (`--quick`, the test).
FULL = {"throughput_steps": 40, "throughput_repeats": 5, "evals_per_curve": 120, "evals_unreported": 10,
        "gen_length": 500, "gen_batch": 32, "gen_batch_more": 64, "gen_repeats": 3,
        "clean_samples": 32, "clean_length": 2000, "temperatures": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5],
        "real_tunes": None, "play_repeats": 5,
        "ngram_orders": list(range(1, 11)), "busy_steps": 40, "busy_params": {},
        "sampler_tunes": 150, "sampler_temperatures": [0.6, 0.7, 0.8, 0.9, 1.0], "sampler_rounds": 3,
        "form_tunes": 200, "form_seeds": [0, 1]}
QUICK = {"throughput_steps": 2, "throughput_repeats": 1, "evals_per_curve": 2, "evals_unreported": 2,
         "gen_length": 40, "gen_batch": 8, "gen_batch_more": 16, "gen_repeats": 1,
         "clean_samples": 4, "clean_length": 400, "temperatures": [1.0, 0.8],
         "real_tunes": 20, "play_repeats": 1,
         "ngram_orders": [1, 2, 3], "busy_steps": 3,
         "busy_params": {"hidden_size": 32, "embedding_dim": 16, "batch_size": 4, "seq_length": 32},
         "sampler_tunes": 2, "sampler_temperatures": [0.7], "sampler_rounds": 1,
         "form_tunes": 2, "form_seeds": [0]}
QUICK_MINUTES = 0.1
FIGURES = ("1", "2", "3", "4", "4g", "5", "6", "7", "8")


def parse_args(argv):
    """Command-line flags."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and time limits: a smoke check (~1 min)")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="output folder (default benchmarks/results)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="training-time budget per recipe for time-to-quality (default 10; --quick: 0.1)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's choice)")
    parser.add_argument("--cpu-params", type=json.loads, default={}, metavar="JSON",
                        help='overrides of CPU_PARAMS to try a candidate, e.g. \'{"hidden_size": 512}\'')
    parser.add_argument("--figures", type=_figures, default=None, metavar="LIST",
                        help=f"only these figures, e.g. 3,4g (of {','.join(FIGURES)}), merged into --out's "
                             "results.json; 3 and 4g train the CPU default as figure 2 does when 2 is not among "
                             "them, 4 needs 2")
    return parser.parse_args(argv)


def _figures(text):
    figures = [f.strip() for f in text.split(",") if f.strip()]
    unknown = sorted(set(figures) - set(FIGURES))
    if unknown or not figures:
        raise argparse.ArgumentTypeError(f"unknown figure(s) {unknown or text!r}: choose from {','.join(FIGURES)}")
    if "4" in figures and "2" not in figures:
        raise argparse.ArgumentTypeError("figure 4 samples from both models figure 2 trains: add 2 (--figures 2,4)")
    return figures


def say(message):
    """Progress line with the load average."""
    print(f"[bench {time.strftime('%H:%M:%S')} load {measure.load_now():.2f}] {message}", flush=True)


def run(settings, minutes, cpu_params, figures=FIGURES):
    """The measurements of the chosen figures, in order; returns the raw numbers."""
    corpus = measure.load_corpus()
    results = {"environment": measure.environment(), "settings": settings, "minutes": minutes,
               "notes_params": dict(measure.notes_recipe.params), "cpu_params": cpu_params,
               "data": {"tunes": len(corpus["songs"]), "train_chars": int(corpus["train"].size),
                        "val_chars": int(corpus["val"].size), "vocab_size": len(corpus["vocab"])}}
    if "1" in figures:
        say("(1) training throughput at the notes' configuration")
        results["training_throughput"] = measure.training_throughput(
            corpus, settings["throughput_steps"], settings["throughput_repeats"])

    budget_s = minutes * 60
    our_net = notes_net = None
    if "2" in figures:
        eval_every_s = budget_s / settings["evals_per_curve"]
        say(f"(2) time to quality: the notes' recipe, {minutes:g} min of training")
        notes_net, notes_step, _ = measure.notes_trainer(corpus)
        notes_curve = measure.time_to_quality(notes_net, notes_step, corpus["val"], budget_s,
                                             measure.notes_recipe.params["num_training_iterations"], eval_every_s)
        say(f"(2) time to quality: our CPU default, {minutes:g} min of training at most")
        ours, our_step, _ = measure.our_trainer(corpus, cpu_params)
        our_curve = measure.time_to_quality(ours, our_step, corpus["val"], budget_s,
                                            cpu_params["num_training_iterations"], eval_every_s)
        our_net = ours.model  # the model kept at the last evaluation
        results["time_to_quality"] = {"notes": notes_curve, "ours": our_curve,
                                      "summary": measure.quality_summary(notes_curve, our_curve)}
    elif "3" in figures or "4g" in figures:
        say(f"the CPU default for figures 3c and 4g, trained as in figure 2 ({minutes:g} min at most, "
            f"kept at the better of {settings['evals_unreported']} evaluations)")
        ours, our_step, _ = measure.our_trainer(corpus, cpu_params)
        curve = measure.time_to_quality(ours, our_step, corpus["val"], budget_s, cpu_params["num_training_iterations"],
                                        budget_s / settings["evals_unreported"])
        our_net = ours.model
        results["cpu_default_for_reruns"] = {"train_s": curve[-1]["train_s"], "steps": curve[-1]["step"],
                                             "val_bpc": curve[-1]["val_bpc"]}

    if "3" in figures:
        say("(3) generation throughput")
        results["generation_throughput"] = measure.generation_throughput(
            corpus, settings["gen_length"], settings["gen_batch"], settings["gen_repeats"], cpu_model=our_net,
            more=settings["gen_batch_more"])

    if "4" in figures:
        say("(4) abc2midi-clean share of generated tunes")
        real = corpus["songs"] if settings["real_tunes"] is None else corpus["songs"][: settings["real_tunes"]]
        clean = {"real_tunes": measure.clean_share(real)}
        sampling = (settings["clean_samples"], settings["clean_length"])
        clean["notes_T1.0"] = measure.clean_share(
            measure.generated_tunes(notes_net, corpus["vocab"], *sampling, temperature=1.0))
        for temperature in settings["temperatures"]:
            clean[f"ours_T{temperature:.1f}"] = measure.clean_share(
                measure.generated_tunes(our_net, corpus["vocab"], *sampling, temperature=temperature))
        clean["sampling"] = {"num_samples": sampling[0], "length": sampling[1], "seed": 0, "start": "X"}
        results["clean_share"] = clean

    if "4g" in figures:
        say("(4) generate_tunes plain and guided: clean, copying, tunes/s (shipped model, our CPU default)")
        from labutils.pretrained import load_pretrained

        pretrained, pretrained_vocab = load_pretrained(torch.device("cpu"))
        results["sampler"] = {
            name: measure.sampler_quality(model, vocab, corpus["songs"], settings["sampler_tunes"],
                                          settings["sampler_temperatures"],
                                          max_chars=1500 if not settings.get("quick") else 300,
                                          rounds=settings.get("sampler_rounds", 1))
            for name, model, vocab in (("pretrained", pretrained, pretrained_vocab),
                                       ("cpu_default", our_net, corpus["vocab"]))}

    if "5" in figures:
        say("(5) playback time of the median tune")
        song = measure.median_tune(corpus["songs"])
        results["playback"] = {"median_tune_chars": len(song),
                               "backends": measure.playback_times(song, settings["play_repeats"])}

    if "6" in figures:
        say("(6) n-gram baseline by order")
        sampling = (settings["clean_samples"], settings["clean_length"])
        results["ngram_baseline"] = measure.ngram_baseline(corpus, settings["ngram_orders"], *sampling,
                                                           temperature=1.0)

    if "7" in figures:
        say("(7) training speed with one competing process, fixed and measured thread counts")
        results["busy_machine"] = measure.busy_machine_speed(corpus, {**cpu_params, **settings["busy_params"]},
                                                             settings["busy_steps"])
    if "8" in figures:
        say("(8) form: the lab's tunes | plain | guided tunes of the shipped model")
        from labutils.pretrained import load_pretrained

        from . import form

        pretrained, pretrained_vocab = load_pretrained(torch.device("cpu"))
        results["form"] = form.form_figures(pretrained, pretrained_vocab, settings["form_tunes"],
                                            settings["form_seeds"], real=corpus["songs"], show=False)
    results["environment"]["load_at_end"] = measure.load_now()
    return results


def merge_rerun(previous, new, figures):
    """The last run's results with the figures just measured in place of its own, and a note of when."""
    merged = dict(previous)
    for key, value in new.items():
        if key not in ("environment", "settings", "minutes", "wall_s", "reruns", "cpu_default_for_reruns"):
            merged[key] = value
    rerun = {"figures": figures, "environment": new["environment"], "wall_s": new.get("wall_s"),
             "settings": new["settings"], "minutes": new["minutes"], "when": time.strftime("%Y-%m-%d %H:%M")}
    if "cpu_default_for_reruns" in new:
        rerun["cpu_default"] = new["cpu_default_for_reruns"]
    # A figure measured again replaces the older rerun's record of it.
    older = [dict(r, figures=[f for f in r["figures"] if f not in figures]) for r in previous.get("reruns", [])]
    merged["reruns"] = [r for r in older if r["figures"]] + [rerun]
    return merged


def main(argv=None):
    """Run the benchmarks and write results.json, results.md and the plots into --out."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = dict(QUICK if args.quick else FULL, quick=args.quick)
    minutes = args.minutes if args.minutes is not None else (QUICK_MINUTES if args.quick else 10.0)
    started = time.perf_counter()
    say(f"{'quick' if args.quick else 'full'} run{' of figures ' + ','.join(args.figures) if args.figures else ''}, "
        f"{torch.get_num_threads()} threads, writing {args.out}")
    cpu_params = {**lab_params.CPU_PARAMS, **args.cpu_params}
    if args.cpu_params:
        say(f"CPU_PARAMS with overrides {args.cpu_params}")
    figures = args.figures or list(FIGURES)
    previous_path = args.out / "results.json"
    if args.figures and not previous_path.is_file():
        say(f"no {previous_path} to merge figures {','.join(args.figures)} into: run them all first (no --figures)")
        return 1
    results = run(settings, minutes, cpu_params, figures)
    results["wall_s"] = round(time.perf_counter() - started, 1)
    took = results["wall_s"]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.figures:
        results = merge_rerun(json.loads(previous_path.read_text(encoding="utf-8")), results, args.figures)
    (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    report.write_plots(results, args.out)
    (args.out / "results.md").write_text(report.markdown(results), encoding="utf-8")
    say(f"done in {took:.0f} s: {args.out / 'results.md'}")
    print(report.markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
