"""Train one CPU-default candidate for a number of steps and print its held-out curve.

    python -m benchmarks.candidate NAME '{"hidden_size": 768}' 1800 [--threads 1] [--out benchmarks/tuning]

The candidate is `labutils.params.CPU_PARAMS` with the JSON overrides; its cosine schedule
(if any) spans the given steps. Held-out bits/char of the trained weights, and of their
moving average when `ema_decay` is set, are measured every 100 steps with the clock stopped.
Two candidates with one thread each can run side by side on 2 cores: compare them by step, and
turn steps into time with a quiet 2-thread measurement. The curve is written to
`--out/probe_NAME.json` (a "probe" record, as the tuning history calls them).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from labutils import params as lab_params

if __name__ == "__main__" and not __package__:  # run as a file, where the imports below fail
    sys.exit("Run it as a module from the repository root: python -m benchmarks.candidate --help")

from . import measure

HERE = Path(__file__).resolve().parent


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.candidate", description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("overrides", type=json.loads, help="JSON object of CPU_PARAMS overrides")
    parser.add_argument("steps", type=int)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--every", type=int, default=100, help="evaluate every this many steps")
    parser.add_argument("--out", type=Path, default=HERE / "tuning")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    corpus = measure.load_corpus()
    params = {**lab_params.with_defaults(lab_params.CPU_PARAMS), **args.overrides,
              "num_training_iterations": args.steps}
    ours, step, _ = measure.our_trainer(corpus, params, seed=params["seed"])
    clock, curve = 0.0, []
    for done in range(1, args.steps + 1):
        start = time.perf_counter()
        step()
        clock += time.perf_counter() - start
        if done % args.every == 0 or done == args.steps:
            average = ours.average.module if ours.average is not None else None
            point = {"step": done, "train_s": round(clock, 1),
                     "val_bpc": measure.evaluate_bpc(ours.weights, corpus["val"]),
                     "averaged_val_bpc": measure.evaluate_bpc(average, corpus["val"]) if average else None,
                     "load": measure.load_now()}
            curve.append(point)
            averaged = f"  averaged {point['averaged_val_bpc']:.4f}" if average else ""
            print(f"{args.name} step {done:5d}  {clock:6.1f} s  {point['val_bpc']:.4f}{averaged}  "
                  f"load {point['load']}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"probe_{args.name}.json"
    out.write_text(json.dumps({"name": args.name, "overrides": args.overrides, "params": params,
                               "threads": args.threads, "environment": measure.environment(), "curve": curve},
                              indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
