"""Does it sound like a tune? Form statistics of real, plain and guided tunes, one table per seed.

    python -m benchmarks.form                          # the shipped model, 200 tunes, seeds 0 and 1
    python -m benchmarks.form --checkpoint runs/x/best.pt --tunes 200 --seeds 0 --out form.json

Plain and guided tunes are sampled from the same model with `labutils.guided.generate_tunes`
(the project's defaults: temperature 0.7, guided or not); the real column is the lab's 804
tunes, and its key distance is that of a seeded sample as large as the generated columns
(`labutils.music.form.form_table`).
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
from labutils.music.form import form_table
from labutils.pretrained import load_pretrained


def sampled_tunes(model, vocab, num_tunes, seed, temperature=None):
    """{"plain": [...], "guided": [...]}: `num_tunes` tunes of each, same seed, and the seconds each took."""
    tunes, seconds = {}, {}
    for name, guided in (("plain", False), ("guided", True)):
        start = time.perf_counter()
        tunes[name] = generate_tunes(model, num_tunes, guided=guided, seed=seed, vocab=vocab, temperature=temperature)
        seconds[name] = round(time.perf_counter() - start, 1)
    return tunes, seconds


def form_figures(model, vocab, num_tunes=200, seeds=(0, 1), temperature=None, real=None, show=True):
    """For each seed: the form table of real | plain | guided (printed), as {seed: {group: summary}}."""
    real = load_training_data() if real is None else real
    results = {}
    for seed in seeds:
        tunes, seconds = sampled_tunes(model, vocab, num_tunes, seed, temperature)
        if show:
            print(f"\nseed {seed}: {num_tunes} tunes each (plain {seconds['plain']} s, guided {seconds['guided']} s)")
        summaries = form_table({"real": real, **tunes}, show=show)
        results[seed] = {name: {**summary, "keys": dict(summary["keys"].most_common())}
                         for name, summary in summaries.items()}
        results[seed]["seconds"] = seconds
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.form", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=None, help="a checkpoint (default: the shipped model)")
    parser.add_argument("--tunes", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--temperature", type=float, default=None, help="default: the project's (0.7)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    model, vocab = model_from_checkpoint(args.checkpoint) if args.checkpoint else load_pretrained()
    results = form_figures(model, vocab, args.tunes, args.seeds, args.temperature)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"checkpoint": str(args.checkpoint or "shipped"), "tunes": args.tunes,
                                        "temperature": args.temperature, "results": results}, indent=1),
                            encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
