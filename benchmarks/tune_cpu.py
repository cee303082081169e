"""Compare CPU default candidates fairly on a busy machine: round-robin training slices, same split.

    python benchmarks/tune_cpu.py --minutes 3 --slice 20 --out benchmarks/tuning

Every candidate trains for `--slice` seconds in turn (the order rotates each round), so
a busy spell slows all of them alike; held-out bits/char is measured after each slice
with the clock stopped, and the 1-minute load average is recorded with every point.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import measure
import torch

from labutils import params as lab_params

HERE = Path(__file__).resolve().parent

# Overrides of labutils.params.CPU_PARAMS; "current" is CPU_PARAMS itself.
CANDIDATES = {
    "current": {},
    "h512_d0.2": {"hidden_size": 512, "dropout": 0.2},
    "h512_d0.3_b64": {"hidden_size": 512, "dropout": 0.3, "batch_size": 64},
    "h384_d0.2_L2": {"hidden_size": 384, "dropout": 0.2, "num_layers": 2},
    "h512_d0.25_s200_lr2e-3": {"hidden_size": 512, "dropout": 0.25, "seq_length": 200, "learning_rate": 2e-3},
    "h256_b64_s100_lr5e-3": {"hidden_size": 256, "batch_size": 64, "seq_length": 100, "learning_rate": 5e-3},
    "h512_d0.3_L2": {"hidden_size": 512, "dropout": 0.3, "num_layers": 2},
}


def thread_probe(corpus, params, steps=15, repeats=2):
    """Training chars/s of `params` with 1 thread and with 2 (PyTorch's default here), interleaved."""
    default = max(2, torch.get_num_threads())
    chosen = torch.get_num_threads()
    _, step, chars = measure.our_trainer(corpus, params)
    step()
    result = {1: [], default: []}
    for repeat in range(repeats):
        for threads in ((1, default) if repeat % 2 == 0 else (default, 1)):
            torch.set_num_threads(threads)
            start = time.perf_counter()
            for _ in range(steps):
                step()
            result[threads].append({"chars_per_s": steps * chars / (time.perf_counter() - start),
                                    "load": measure.load_now()})
    torch.set_num_threads(chosen)
    return {str(k): v for k, v in result.items()}


def main(argv=None):
    """Train every candidate round-robin for --minutes of training time each; write tuning.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="training time per candidate")
    parser.add_argument("--slice", type=float, default=20.0, help="seconds of training per turn")
    parser.add_argument("--only", nargs="*", help="candidate names to run (default: all)")
    parser.add_argument("--schedule-steps", type=int, default=None,
                        help="length of a cosine learning-rate schedule (default: CPU_PARAMS' iterations)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: PyTorch's)")
    parser.add_argument("--out", type=Path, default=HERE / "tuning")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus = measure.load_corpus()
    names = args.only or list(CANDIDATES)
    runs = {}
    for name in names:
        params = {**lab_params.CPU_PARAMS, **CANDIDATES[name]}
        if args.schedule_steps:  # the clock, not the step count, ends each candidate
            params["num_training_iterations"] = args.schedule_steps
        model, step, chars = measure.our_trainer(corpus, params)
        runs[name] = {"params": params, "model": model, "step": step, "chars_per_step": chars, "clock": 0.0,
                      "steps": 0, "curve": []}
    out = {"environment": measure.environment(), "minutes": args.minutes, "slice_s": args.slice,
           "threads": thread_probe(corpus, lab_params.CPU_PARAMS)}
    print("threads:", {k: [round(r["chars_per_s"]) for r in v] for k, v in out["threads"].items()}, flush=True)
    budget = args.minutes * 60
    turn = 0
    while any(run["clock"] < budget for run in runs.values()):
        order = names[turn % len(names):] + names[: turn % len(names)]
        for name in order:
            run = runs[name]
            if run["clock"] >= budget:
                continue
            stop = min(run["clock"] + args.slice, budget)
            while run["clock"] < stop:
                start = time.perf_counter()
                run["step"]()
                run["clock"] += time.perf_counter() - start
                run["steps"] += 1
            bpc = measure.held_out_bpc(run["model"], corpus["val"])
            run["curve"].append({"train_s": round(run["clock"], 2), "step": run["steps"], "val_bpc": bpc,
                                 "load": measure.load_now()})
            print(f"{name:28s} {run['clock']:6.0f} s {run['steps']:5d} steps  {bpc:.3f} bits/char  "
                  f"load {run['curve'][-1]['load']}", flush=True)
        turn += 1
    out["candidates"] = {name: {"params": {k: v for k, v in run["params"].items() if k != "num_training_iterations"},
                                "steps_per_s": run["steps"] / run["clock"],
                                "best_bpc": min(p["val_bpc"] for p in run["curve"]),
                                "final_bpc": run["curve"][-1]["val_bpc"], "curve": run["curve"]}
                         for name, run in runs.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"tuning_{time.strftime('%Y%m%d_%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    for name, cand in sorted(out["candidates"].items(), key=lambda item: item[1]["best_bpc"]):
        print(f"{name:28s} best {cand['best_bpc']:.3f} final {cand['final_bpc']:.3f} "
              f"{cand['steps_per_s']:.2f} steps/s")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
