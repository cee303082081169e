"""Does the model use what it wrote a phrase ago? Its loss on bars that restate an earlier bar, against fresh bars.

    python -m benchmarks.restate                                   # the shipped model, and the n-gram baseline
    python -m benchmarks.restate --checkpoint runs/x/best.pt --out benchmarks/tuning/restate_x.json

On the held-out tunes (the seeded 10% split `make run` holds out), each character of a bar is
scored in bits: by the model reading the held-out text as one stream with its state carried
(as the held-out loss is measured: "full context"), by the same model started afresh `--window`
characters before the character ("short context": what the last few characters alone tell
it), and by the Kneser-Ney n-gram baseline fitted on the training tunes (`--order`). Bars are
sorted by `labutils.music.form`'s reading of the tune: "return" (bar 5 or 6 of an 8-bar part,
the same notes as bar 1 or 2), "repeat" (the same notes as an earlier bar, not a return) and
"fresh" (every other bar a listener counts). A model that uses its context predicts a restated
bar far better than a fresh one, and far better with its full context than with a short one.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from labutils.checkpoints import model_from_checkpoint
from labutils.corpus import prepare_corpus
from labutils.data import join_songs, load_training_data
from labutils.music.bars import read_bars
from labutils.music.form import heard_bars, part_passes, split_parts
from labutils.ngram import fit_ngram
from labutils.pretrained import load_pretrained

ROLES = ("return", "repeat", "fresh")


def bar_roles(tune):
    """[(start, end, role)] for the bars a listener counts, in written order (see the module docstring)."""
    bars = read_bars(tune)
    roles = {}
    for part in split_parts(bars):
        heard = heard_bars(bars, part_passes(bars, part)[0])
        if len(heard) == 8:
            for late in (4, 5):
                if any(bars[heard[late]].notes == bars[heard[early]].notes for early in (0, 1)):
                    roles[heard[late]] = "return"
    counted = sorted({i for part in split_parts(bars) for one in part_passes(bars, part)
                      for i in heard_bars(bars, one)})
    seen, out = set(), []
    for i in counted:
        role = roles.get(i) or ("repeat" if bars[i].notes in seen else "fresh")
        seen.add(bars[i].notes)
        out.append((*bars[i].span, role))
    return out


def character_roles(tunes):
    """(the tunes joined with blank lines, an array of each character's role index: 0-2 as ROLES, -1 none,
    and an array of each character's place in its bar: 0 for the first)."""
    text = join_songs(tunes)
    roles = np.full(len(text), -1)
    places = np.full(len(text), -1)
    offset = 0
    for tune in tunes:
        for start, end, role in bar_roles(tune):
            roles[offset + start:offset + end] = ROLES.index(role)
            places[offset + start:offset + end] = np.arange(end - start)
        offset += len(tune) + 2  # join_songs puts "\n\n" between tunes
    return text, roles, places


@torch.inference_mode()
def full_context_bits(model, ids, chunk=512):
    """bits[i] = -log2 p(ids[i] | ids[:i]) for i >= 1 (bits[0] = nan), state carried through the text."""
    model.eval()
    x = torch.as_tensor(ids, dtype=torch.long).unsqueeze(0)  # (1, n)
    bits, state = [np.array([np.nan])], None
    for start in range(0, x.size(1) - 1, chunk):
        inputs, targets = x[:, start:start + chunk], x[:, start + 1:start + chunk + 1]
        logits, state = model(inputs[:, :targets.size(1)], state, return_state=True)  # (1, chunk, vocab)
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1))[0, :, 0]
        bits.append((-logp / np.log(2)).numpy())
    return np.concatenate(bits)


@torch.inference_mode()
def short_context_bits(model, ids, positions, window=24, batch=256):
    """bits of ids[i] for each i in `positions`, the model started afresh at ids[i - window]."""
    model.eval()
    ids = torch.as_tensor(ids, dtype=torch.long)
    out = []
    for begin in range(0, len(positions), batch):
        rows = torch.as_tensor(positions[begin:begin + batch])
        offsets = torch.arange(-window, 0)
        context = ids[(rows.unsqueeze(1) + offsets).clamp(min=0)]  # (rows, window)
        logits = model(context)[:, -1, :]  # (rows, vocab)
        logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[rows].unsqueeze(-1))[:, 0]
        out.append((-logp / np.log(2)).numpy())
    return np.concatenate(out) if out else np.array([])


def ngram_bits(ngram, text, positions):
    """bits of text[i] for each i in `positions`, from the n-gram's context before it."""
    context = ngram.order - 1
    return np.array([-np.log2(ngram.probability(text[max(0, i - context):i], text[i])) for i in positions])


def by_role(bits, roles, places, skip_first=0):
    """{role: mean bits/char} over the characters of each role, leaving out each bar's first `skip_first`."""
    chosen = places >= skip_first
    return {role: round(float(np.mean(bits[(roles == n) & chosen])), 3) for n, role in enumerate(ROLES)}


def restate_probe(model, vocab, corpus, window=24, order=10, ngram=None):
    """Bits/char of held-out bars by role (full context, short context, n-gram), and how many characters."""
    char2idx = {c: i for i, c in enumerate(vocab)}
    text, roles, places = character_roles(corpus["val_songs"])
    ids = np.array([char2idx[c] for c in text])
    scored = np.nonzero(roles >= 0)[0]
    scored = scored[scored > window]
    sub_roles, sub_places = roles[scored], places[scored]
    full = full_context_bits(model, ids)[scored]
    short = short_context_bits(model, ids, scored, window)
    if ngram is None:
        ngram = fit_ngram(join_songs(corpus["train_songs"]), order, vocab)
    gram = ngram_bits(ngram, text, scored)
    result = {"characters": {role: int(np.sum(sub_roles == n)) for n, role in enumerate(ROLES)},
              "window": window, "order": ngram.order}
    for name, bits in (("full_context", full), ("short_context", short), ("ngram", gram)):
        result[name] = by_role(bits, sub_roles, sub_places)
        result[name + "_after_2"] = by_role(bits, sub_roles, sub_places, skip_first=2)
    return result


def print_probe(name, result):
    """One table: bits/char of return, repeat and fresh bars for each way of scoring."""
    counts = result["characters"]
    print(f"\n{name}: held-out bits/char by bar ({counts['return']} return, {counts['repeat']} repeat, "
          f"{counts['fresh']} fresh characters)")
    print("| scored by | return | repeat | fresh | (after each bar's first 2 characters: return, repeat, fresh) |")
    print("|---|---|---|---|---|")
    for key, label in (("full_context", "model, full context"), ("short_context", f"model, last {result['window']}"
                       " characters"), ("ngram", f"{result['order']}-gram")):
        row, later = result[key], result[key + "_after_2"]
        print(f"| {label} | {row['return']:.3f} | {row['repeat']:.3f} | {row['fresh']:.3f} | "
              f"{later['return']:.3f}, {later['repeat']:.3f}, {later['fresh']:.3f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.restate", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, nargs="*", default=[], help="checkpoints (default: the shipped model)")
    parser.add_argument("--window", type=int, default=24)
    parser.add_argument("--order", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    corpus = prepare_corpus(load_training_data(), 0.1, seed=0)
    ngram = fit_ngram(join_songs(corpus["train_songs"]), args.order, corpus["vocab"])
    results = {}
    for path in args.checkpoint or [None]:
        model, vocab = model_from_checkpoint(path) if path else load_pretrained()
        model.float()
        name = str(path) if path else "shipped"
        results[name] = restate_probe(model, vocab, corpus, args.window, args.order, ngram)
        print_probe(name, results[name])
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
