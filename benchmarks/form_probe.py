"""Train one candidate by steps and measure what the form needs: held-out loss, restated bars, sampled form.

    python -m benchmarks.form_probe NAME '{"dropout": 0.2}' 2200 --measure-at 1100 2200 [--threads 1]

The candidate is `labutils.params.CPU_PARAMS` with the JSON overrides, its cosine schedule
spanning the given steps, seeded as `make run` is (`{"transpose": "tradition"}` moves the
training tunes into the keys the tradition plays instead of a tone up and down). Every
`--every` steps: held-out bits/char (clock stopped). At each `--measure-at` step: the model is saved (`--keep`, default /tmp),
`benchmarks.restate` scores its held-out bars by role, and `--tunes` guided tunes (seed 0,
temperature 0.7) give the form shares of `labutils.music.form` (phrase return, bar
repetition, ...). Everything goes to `--out/form_probe_NAME.json`. Compare candidates by step:
two such probes with one thread each fit a 2-core machine.

`--copy-phrases` is a diagnostic, not a candidate: every tune, held-out ones too, is rewritten so
that bar 5 of each 8-bar part is written as its bar 1 (`copy_phrases`). It asks whether the lab's
LSTM learns to restate a phrase at all when the text always does.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

from labutils import params as lab_params
from labutils.checkpoints import save_checkpoint
from labutils.corpus import prepare_corpus
from labutils.data import join_songs
from labutils.guided import generate_tunes
from labutils.music.bars import read_bars
from labutils.music.form import form_summary, heard_bars, part_passes, split_parts
from labutils.ngram import fit_ngram

if __name__ == "__main__" and not __package__:  # run as a file, where the imports below fail
    sys.exit("Run it as a module from the repository root: python -m benchmarks.form_probe --help")

from . import measure, restate

HERE = Path(__file__).resolve().parent


def _bar_body(tune, bar):
    """A bar's text without its closing bar line."""
    start, end = bar.span
    return tune[start:end].rstrip(":|][ !\n")


def copy_phrases(tune):
    """The tune with bar 5 of each 8-bar part (its first pass, as a listener counts bars) written as
    its bar 1, where both are whole bars of the same meter outside any ending; the rest unchanged."""
    bars = read_bars(tune)
    swaps = []
    for part in split_parts(bars):
        heard = heard_bars(bars, part_passes(bars, part)[0])
        if len(heard) != 8:
            continue
        first, fifth = bars[heard[0]], bars[heard[4]]
        if first.meter is None or first.meter != fifth.meter or first.length != first.meter \
                or fifth.length != fifth.meter or first.ending is not None or fifth.ending is not None:
            continue
        body = _bar_body(tune, fifth)
        swaps.append((fifth.span[0], fifth.span[0] + len(body), _bar_body(tune, first)))
    for start, end, text in sorted(swaps, reverse=True):
        tune = tune[:start] + text + tune[end:]
    return tune


def measure_model(model, vocab, corpus, ngram, num_tunes, seed=0):
    """The restate probe and the form shares of `num_tunes` guided tunes, for one model."""
    result = {"restate": restate.restate_probe(model, vocab, corpus, ngram=ngram)}
    start = time.perf_counter()
    tunes = generate_tunes(model, num_tunes, seed=seed, vocab=vocab)
    summary = form_summary(tunes)
    result["form"] = {**summary, "keys": dict(summary["keys"].most_common()),
                      "generation_s": round(time.perf_counter() - start, 1)}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.form_probe", description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("overrides", type=json.loads, help="JSON object of CPU_PARAMS overrides")
    parser.add_argument("steps", type=int)
    parser.add_argument("--measure-at", type=int, nargs="+", default=None, help="default: the last step")
    parser.add_argument("--every", type=int, default=100, help="held-out loss every this many steps")
    parser.add_argument("--tunes", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=Path("/tmp"), help="folder for the measured models")
    parser.add_argument("--out", type=Path, default=HERE / "tuning")
    parser.add_argument("--copy-phrases", action="store_true", help="train and test on tunes whose bar 5 is bar 1")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    corpus = measure.load_corpus()
    if args.copy_phrases:
        corpus = prepare_corpus([copy_phrases(t) for t in corpus["songs"]], 0.1, seed=0)
    ngram = fit_ngram(join_songs(corpus["train_songs"]), 10, corpus["vocab"])
    params = {**lab_params.with_defaults(lab_params.CPU_PARAMS), **args.overrides,
              "num_training_iterations": args.steps}
    ours, step, _ = measure.our_trainer(corpus, params, seed=params["seed"])
    measure_at = set(args.measure_at or [args.steps])
    record = {"name": args.name, "overrides": args.overrides, "params": params, "threads": args.threads,
              "copy_phrases": args.copy_phrases,
              "environment": measure.environment(), "curve": [], "measured": {}}
    out = args.out / f"form_probe_{args.name}.json"
    args.out.mkdir(parents=True, exist_ok=True)
    clock = 0.0
    for done in range(1, args.steps + 1):
        start = time.perf_counter()
        step()
        clock += time.perf_counter() - start
        if done % args.every == 0 or done == args.steps:
            bpc = measure.held_out_bpc(ours, corpus["val"])
            record["curve"].append({"step": done, "train_s": round(clock, 1), "val_bpc": bpc, "load": measure.load_now()})
            print(f"{args.name} step {done:5d}  {clock:7.1f} s  {bpc:.4f}  load {measure.load_now()}", flush=True)
        if done in measure_at:
            model = ours.model
            save_checkpoint(args.keep / f"form_probe_{args.name}_{done}.pt", model, step=done, params=params,
                            vocab=corpus["vocab"])
            record["measured"][done] = measure_model(model, corpus["vocab"], corpus, ngram, args.tunes)
            restate.print_probe(f"{args.name} step {done}", record["measured"][done]["restate"])
            form = record["measured"][done]["form"]
            print(f"form of {args.tunes} guided tunes: phrase return {form['phrase_return']}, "
                  f"bar repetition {form['bar_repetition']}", flush=True)
            model.train()
            out.write_text(json.dumps(record, indent=1), encoding="utf-8")
    out.write_text(json.dumps(record, indent=1), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
