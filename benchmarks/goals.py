"""Issue 26's goals for generated tunes, plain and guided: form, keys, clean and copying shares, speed.

    python -m benchmarks.goals                              # the shipped model, 200 tunes, seeds 0 and 1
    python -m benchmarks.goals --tunes 50 --seeds 0 --out goals.json
    python -m benchmarks.goals --guide '{"cadence": null}'  # generate_tunes options for the guided tunes

One table per seed: each goal of the issue, its target, and the plain and guided tunes' figures
(form from `labutils.music.form`, against the lab's tunes; clean and copying from
`labutils.music.tune_quality`; guided tunes per second over plain from one timed run of each,
which a busy machine blurs: figure 4g of `make bench` alternates rounds). To measure another
checkout's labutils with this script, put it first on the path:
`PYTHONPATH=/path/to/checkout:$PWD python -m benchmarks.goals`.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from labutils.checkpoints import model_from_checkpoint
from labutils.data import load_training_data
from labutils.guided import generate_tunes
from labutils.music import CopyIndex, tune_quality
from labutils.music.form import form_table
from labutils.pretrained import load_pretrained

# The goals: (key in the figures, what it is, ">=" or "<=", target).
GOALS = (
    ("two_part_32", "dance tunes in the two-part 32-bar form", ">=", 0.55),
    ("one_part", "one-part tunes", "<=", 0.02),
    ("completes_pickup", "last bar completes the opening pickup", ">=", 0.95),
    ("last_on_tonic", "last note on the tonic", ">=", 0.65),
    ("parts_on_tonic", "every part ends on the tonic", ">=", 0.55),
    ("phrase_return", "phrase return (bar 5-6 restates 1-2)", ">=", 0.50),
    ("bar_repetition", "bar repetition", ">=", 0.20),
    ("key_distance", "keys: distance from the real K: distribution", "<=", 0.15),
    ("clean_share", "abc2midi-clean", ">=", 0.95),
    ("copying_share", "tunes copying a training tune (60 characters)", "<=", 0.01),
    ("speed_vs_plain", "guided tunes per second / plain", ">=", 0.5),
)


def measure_seed(model, vocab, real, index, num_tunes, seed, guide_options):
    """{"plain": figures, "guided": figures} for one seed (GOALS' keys, plus tunes/s and the form summary)."""
    tunes, seconds = {}, {}
    for name, guided in (("plain", False), ("guided", True)):
        options = guide_options if guided else {}
        start = time.perf_counter()
        tunes[name] = generate_tunes(model, num_tunes, guided=guided, seed=seed, vocab=vocab, **options)
        seconds[name] = time.perf_counter() - start
    summaries = form_table({"real": real, **tunes}, show=False)
    figures = {}
    for name in tunes:
        quality = tune_quality(tunes[name], index=index)
        summary = summaries[name]
        figures[name] = {**{key: summary.get(key) for key, _, _, _ in GOALS if key in summary},
                         "last_bar_complete": summary["last_bar_complete"], "last_in_triad": summary["last_in_triad"],
                         "clean_share": quality["clean_share"], "copying_share": quality["copying_share"],
                         "tunes": quality["count"], "tunes_per_s": quality["count"] / seconds[name],
                         "counts": summary["counts"]}
    figures["guided"]["speed_vs_plain"] = figures["guided"]["tunes_per_s"] / figures["plain"]["tunes_per_s"]
    figures["real"] = {key: summaries["real"].get(key) for key, _, _, _ in GOALS if key in summaries["real"]}
    return figures


def goals_table(figures) -> str:
    """A Markdown table: goal, target, real, plain, guided (a goal met is marked *)."""
    lines = ["| goal | target | real | plain | guided |", "|---|---|---|---|---|"]
    for key, label, sense, target in GOALS:
        cells = []
        for name in ("real", "plain", "guided"):
            value = figures[name].get(key)
            met = value is not None and (value >= target if sense == ">=" else value <= target)
            text = "-" if value is None else f"{value:.2f}" if key in ("key_distance", "speed_vs_plain") \
                else f"{value:.1%}"
            cells.append(text + (" *" if met and name != "real" else ""))
        lines.append(f"| {label} | {sense} {target:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.goals", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="a checkpoint (default: the shipped model)")
    parser.add_argument("--tunes", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--guide", type=json.loads, default={}, metavar="JSON",
                        help="keyword arguments of generate_tunes for the guided tunes only")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    model, vocab = model_from_checkpoint(args.checkpoint) if args.checkpoint else load_pretrained()
    real = load_training_data()
    index = CopyIndex(real)
    results = {}
    for seed in args.seeds:
        results[seed] = measure_seed(model, vocab, real, index, args.tunes, seed, args.guide)
        print(f"\nseed {seed}: {args.tunes} tunes each ({' '.join(f'{k}={v}' for k, v in args.guide.items())})")
        print(goals_table(results[seed]), flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"checkpoint": str(args.checkpoint or "shipped"), "tunes": args.tunes,
                                        "guide": args.guide, "results": results}, indent=1), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
