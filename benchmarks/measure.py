"""The measurements behind each figure: the notes' recipe and ours, side by side, same data."""
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import torch

from labutils import data as lab_data
from labutils import params as lab_params
from labutils.corpus import prepare_corpus, with_played_copies, with_transposed_copies
from labutils.model import LSTMModel, init_output_bias
from labutils.ngram import fit_ngram
from labutils.sampling import generate_text
from labutils.schedule import lookback_inputs, scheduled_step, training_batch
from labutils.threads import ThreadChooser, candidate_threads
from labutils.training import evaluate_bpc, make_optimizer
from labutils.training_loop import WeightAverage, evaluate_kept

from . import notes_recipe

# The notes' loop re-wraps tensors with torch.tensor(tensor), which warns once; it is the recipe.
warnings.filterwarnings("ignore", message="To copy construct from a tensor")
warnings.filterwarnings("ignore", message="Creating a tensor from a list of numpy.ndarrays")


def load_now():
    """The 1-minute load average (how busy the machine was during a measurement)."""
    return round(os.getloadavg()[0], 2)


def environment():
    """Torch version, thread count, CPU model, Python and the load when the run started."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "load_at_start": list(np.round(os.getloadavg(), 2))}


def load_corpus():
    """Tunes, vocabulary from all tunes joined with blank lines, and the seeded 90/10 split by tune."""
    return prepare_corpus(lab_data.load_training_data(), 0.1, seed=0)


def with_extra_tunes(corpus, names):
    """The corpus with music21's collections `names` as its extra tunes (labutils.extra_tunes)."""
    from labutils.extra_tunes import load_extra_tunes

    extra = load_extra_tunes(names, lab_songs=corpus["songs"])
    print(extra.summary(), flush=True)
    return prepare_corpus(corpus["songs"], 0.1, seed=0, extra_train_songs=extra.tunes)


def notes_model(vocab_size, seed=0):
    """The notes' LSTMModel at the notes' sizes, seeded."""
    torch.manual_seed(seed)
    sizes = notes_recipe.params
    return notes_recipe.LSTMModel(vocab_size, sizes["embedding_dim"], sizes["hidden_size"])


def our_model(vocab, params, seed=0):
    """Our LSTMModel for a params dict and the vocabulary (a list of characters), seeded."""
    torch.manual_seed(seed)
    return LSTMModel(len(vocab), **lab_params.model_kwargs(params, vocab))


def notes_trainer(corpus, seed=0):
    """(model, step function, chars per step) of the notes' recipe: their loop body, their globals."""
    np.random.seed(seed)
    model = notes_model(len(corpus["vocab"]), seed)
    optimizer = notes_recipe.make_optimizer(model)
    device = torch.device("cpu")

    def step():
        notes_recipe.training_iteration(model, optimizer, corpus["train"], device)

    return model, step, notes_recipe.params["batch_size"] * notes_recipe.params["seq_length"]


class KeptModel:
    """Our side of a time-to-quality run: the trained weights and, with `ema_decay`, their
    moving average; `evaluate` keeps the better of the two, as `labutils.training_loop.train` does."""

    def __init__(self, model, average=None):
        self.weights, self.average, self.model = model, average, model

    def evaluate(self, val, seq_length=256):
        bpc, self.model, _ = evaluate_kept(self.weights, self.average, val, seq_length)
        return bpc


def held_out_bpc(model, val, seq_length=256):
    """Held-out bits/char of an nn.Module, or of the model a KeptModel keeps."""
    if isinstance(model, KeptModel):
        return model.evaluate(val, seq_length)
    return evaluate_bpc(model, val, seq_length)


def our_trainer(corpus, params, seed=0):
    """(KeptModel, step function, chars per step) of labutils' loop body for a params dict.

    With params["ema_decay"] the step also updates the moving average of the weights (on the
    clock), and evaluations keep the better of weights and average, as in training_loop.train.
    """
    params = lab_params.with_defaults(params)
    if params["extra_tunes"] and corpus.get("extra") is None:
        corpus = with_extra_tunes(corpus, params["extra_tunes"])
    if params["played_share"] and "played_songs" not in corpus:
        corpus = with_played_copies(corpus, params["played_share"], seed=seed)
    if params["transpose"]:
        corpus = with_transposed_copies(corpus, params["transpose"])
    model = our_model(corpus["vocab"], params, seed)
    if params["init_output_bias"]:
        init_output_bias(model, corpus.get("train_as_written", corpus["train"]))
    optimizer = make_optimizer(model, params)
    average = WeightAverage(model, params["ema_decay"], params["ema_start"]) if params["ema_decay"] else None
    rng = np.random.default_rng(seed)
    done = [0]
    texts = (corpus["train"], corpus.get("train_as_written"), corpus.get("extra"))
    lookbacks = lookback_inputs(model, *texts)

    def step():
        x_batch, y_batch, *lookback = training_batch(done[0], *texts, params, rng, lookbacks)
        scheduled_step(model, optimizer, x_batch, y_batch, done[0], params, average, lookback[0] if lookback else None)
        done[0] += 1

    return KeptModel(model, average), step, params["batch_size"] * params["seq_length"]


def training_throughput(corpus, steps=20, repeats=3):
    """Training chars/s at the notes' configuration: the notes' loop and ours, step by step.

    Each of `repeats` rounds runs `steps` steps of each recipe alternately (notes, ours, ours,
    notes, ...), so both see the same moments of a shared machine; each side's figure is the
    median of its per-step times. A round's ratio shows the spread from round to round.
    """
    _, notes_step, chars = notes_trainer(corpus)
    _, our_step, our_chars = our_trainer(corpus, lab_params.NOTES_PARAMS)
    assert chars == our_chars
    recipes = {"notes": notes_step, "ours": our_step}
    for step in recipes.values():
        step()  # warm-up: first call allocates
    times = {name: [] for name in recipes}
    rounds = []
    for _ in range(repeats):
        start_load, round_times = load_now(), {name: [] for name in recipes}
        for index in range(steps):
            for name in (("notes", "ours") if index % 2 == 0 else ("ours", "notes")):
                start = time.perf_counter()
                recipes[name]()
                round_times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(values) for name, values in round_times.items()}
        rounds.append({**{f"{name}_chars_per_s": chars / medians[name] for name in recipes},
                       "ours_over_notes": medians["notes"] / medians["ours"], "load": start_load})
        for name in recipes:
            times[name] += round_times[name]
    return {**{name: {"median_chars_per_s": chars / statistics.median(values),
                      "step_seconds": [round(value, 5) for value in values],
                      "steps": len(values), "chars_per_step": chars} for name, values in times.items()},
            "rounds": rounds}


def time_to_quality(model, step, val, budget_s, max_steps, eval_every_s, eval_seq_length=256):
    """Train with `step` until budget_s of training time or max_steps; held-out bits/char curve.

    Only training counts on the clock: each evaluation (labutils.training.evaluate_bpc, the
    same for both recipes) runs with the clock stopped.
    """
    curve = [{"train_s": 0.0, "step": 0, "val_bpc": held_out_bpc(model, val, eval_seq_length), "load": load_now()}]
    clock, steps, next_eval = 0.0, 0, eval_every_s
    while clock < budget_s and steps < max_steps:
        start = time.perf_counter()
        step()
        clock += time.perf_counter() - start
        steps += 1
        if clock >= next_eval or clock >= budget_s or steps == max_steps:
            next_eval = clock + eval_every_s
            curve.append({"train_s": round(clock, 3), "step": steps,
                          "val_bpc": held_out_bpc(model, val, eval_seq_length), "load": load_now()})
    return curve


def quality_summary(notes_curve, our_curve):
    """The notes' best bits/char and when it got there; when ours first reached it; where ours ended."""
    notes_best = min(point["val_bpc"] for point in notes_curve)
    notes_time = next(point["train_s"] for point in notes_curve if point["val_bpc"] == notes_best)
    ours_time = next((point["train_s"] for point in our_curve if point["val_bpc"] <= notes_best), None)
    return {"notes_best_bpc": notes_best, "notes_time_to_best_s": notes_time,
            "ours_time_to_notes_best_s": ours_time,
            "time_ratio": ours_time / notes_time if ours_time is not None and notes_time > 0 else None,
            "ours_final_bpc": our_curve[-1]["val_bpc"], "ours_best_bpc": min(p["val_bpc"] for p in our_curve),
            "ours_train_s": our_curve[-1]["train_s"], "ours_steps": our_curve[-1]["step"],
            "notes_final_bpc": notes_curve[-1]["val_bpc"], "notes_train_s": notes_curve[-1]["train_s"],
            "notes_steps": notes_curve[-1]["step"]}


def _timed(function, repeats):
    """Median seconds of `repeats` calls of function(), with the load at each call."""
    times, loads = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
        loads.append(load_now())
    return statistics.median(times), loads


def generation_throughput(corpus, length=500, batch=32, repeats=3, cpu_model=None, more=None):
    """Sampling chars/s on the same weights (notes' sizes): the notes' generate_text vs ours, single, `batch` at
    once and (with `more`) that many at once; `cpu_model` (our CPU default's) batched, for information."""
    vocab, char2idx, idx2char = corpus["vocab"], corpus["char2idx"], corpus["idx2char"]
    notes_net = notes_model(len(vocab))  # left in train mode, as the notes do
    ours_net = our_model(vocab, lab_params.NOTES_PARAMS)
    ours_net.load_state_dict(notes_net.state_dict())
    device = torch.device("cpu")
    cases = {
        "notes": (lambda: notes_recipe.generate_text(notes_net, "X", length, char2idx=char2idx,
                                                     idx2char=idx2char, device=device), 1),
        "ours_single": (lambda: generate_text(ours_net, "X", length, vocab=vocab, seed=0), 1),
        "ours_batched": (lambda: generate_text(ours_net, "X", length, vocab=vocab, num_samples=batch, seed=0), batch),
    }
    if more:
        cases["ours_batched_more"] = (
            lambda: generate_text(ours_net, "X", length, vocab=vocab, num_samples=more, seed=0), more)
    if cpu_model is not None:  # our CPU default's (smaller) model, for information
        cases["ours_cpu_default_batched"] = (
            lambda: generate_text(cpu_model, "X", length, vocab=vocab, num_samples=more or batch, seed=0),
            more or batch)
    for function, _ in cases.values():
        function()  # warm-up
    timings = {name: [] for name in cases}
    for repeat in range(repeats):  # interleaved, so a busy spell hits every case alike
        names = list(cases) if repeat % 2 == 0 else list(reversed(cases))
        for name in names:
            seconds, loads = _timed(cases[name][0], 1)
            timings[name].append((seconds, loads[0]))
    results = {}
    for name, (_, samples) in cases.items():
        seconds = statistics.median(t for t, _ in timings[name])
        results[name] = {"chars_per_s": samples * length / seconds, "seconds": seconds, "samples": samples,
                         "length": length, "loads": [load for _, load in timings[name]]}
    return results


def generated_tunes(model, vocab, num_samples, length, temperature, seed=0):
    """Complete tunes sampled from `model` (start "X", fixed seed), found with extract_song_snippet."""
    texts = generate_text(model, "X", length, vocab=vocab, num_samples=num_samples,
                          temperature=temperature, seed=seed)
    return [tune for text in texts for tune in lab_data.extract_song_snippet(text)]


def clean_share(tunes, backend="auto"):
    """Share of tunes that labutils.music.check_tune calls clean (parsed, no error, bars fit the meter)."""
    from labutils.music import check_tune

    reports = [check_tune(tune, backend) for tune in tunes]
    clean = sum(report.clean for report in reports)
    parsed = sum(report.parsed for report in reports)
    return {"tunes": len(tunes), "clean": clean, "parsed": parsed,
            "share": clean / len(tunes) if tunes else None,
            "backend": reports[0].backend if reports else backend}


def median_tune(songs):
    """The tune of median length in characters."""
    return sorted(songs, key=len)[len(songs) // 2]


def playback_times(song, repeats=5):
    """Seconds for labutils.music.play_song on one tune per (parser, synthesizer), and the notes' play_song."""
    from labutils import music

    tools = music.available_tools()
    combos = [("music21", "numpy")]
    if tools.get("abc2midi"):
        combos.insert(0, ("abc2midi", "numpy"))
        if tools.get("timidity"):
            combos.insert(1, ("abc2midi", "timidity"))
    if tools.get("timidity"):
        combos.append(("music21", "timidity"))
    results = {}
    for backend, synth in combos:
        def play():
            if music.play_song(song, backend=backend, synth=synth) is None:
                raise RuntimeError(f"play_song returned None for the median tune with {backend}+{synth}")
        play()  # warm-up: imports, sound font
        seconds, loads = _timed(play, repeats)
        results[f"{backend}+{synth}"] = {"seconds": seconds, "loads": loads, "repeats": repeats}
    if tools.get("abc2midi") and tools.get("timidity"):
        def notes_play():
            if notes_recipe.play_song(song) is None:
                raise RuntimeError("the notes' play_song (abc2midi + timidity) failed on the median tune")
        notes_play()
        seconds, loads = _timed(notes_play, repeats)
        results["notes"] = {"seconds": seconds, "loads": loads, "repeats": repeats}
    return results


@contextlib.contextmanager
def competing_process(seconds_limit=1800):
    """One other program keeping a core busy (a Python busy loop), ended when the block ends,
    whatever happens in it; it also ends itself after `seconds_limit` or when this process is gone."""
    loop = (f"import os, time\nend, parent = time.time() + {seconds_limit}, {os.getpid()}\n"
            "while time.time() < end and os.getppid() == parent: pass")
    process = subprocess.Popen([sys.executable, "-c", loop], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # let it start spinning
        yield process
    finally:
        process.kill()
        process.wait(timeout=30)


def busy_machine_speed(corpus, params, steps=40, say=None):
    """Training steps/s of our loop body on the quiet machine and with one competing process,
    at PyTorch's thread count ("fixed", what training did before) and with
    labutils.threads.ThreadChooser ("adaptive", its trial steps included)."""
    default = torch.get_num_threads()
    results = {"steps": steps, "default_threads": default, "candidates": candidate_threads(default)}
    try:
        for machine in ("quiet", "busy"):
            with competing_process() if machine == "busy" else contextlib.nullcontext():
                for how in ("fixed", "adaptive"):
                    torch.set_num_threads(default)
                    _, step, _ = our_trainer(corpus, params)
                    step()  # warm-up: first call allocates
                    said = []
                    chooser = ThreadChooser(results["candidates"], fixed=default if how == "fixed" else None,
                                            say=said.append)
                    start_load, start = load_now(), time.perf_counter()
                    for _ in range(steps):
                        chooser.run(step)
                    seconds = time.perf_counter() - start
                    results[f"{machine}_{how}"] = {
                        "steps_per_s": steps / seconds, "seconds": round(seconds, 2), "load": start_load,
                        "threads_at_end": torch.get_num_threads(), "choices": chooser.choices, "said": said}
                    if say is not None:
                        say(f"{machine}, {how} threads: {steps / seconds:.2f} steps/s {said}")
    finally:
        torch.set_num_threads(default)
    return results


def ngram_baseline(corpus, orders, num_samples, length, temperature=1.0):
    """Held-out bits/char of a Kneser-Ney character n-gram (labutils.ngram) at each order, fitted
    on the training tunes; and the clean share of tunes its best order writes (start "X")."""
    train_text, val_text = lab_data.join_songs(corpus["train_songs"]), lab_data.join_songs(corpus["val_songs"])
    by_order, fit_s = {}, {}
    for order in orders:
        start = time.perf_counter()
        model = fit_ngram(train_text, order, corpus["vocab"])
        fit_s[str(order)] = round(time.perf_counter() - start, 3)
        by_order[str(order)] = model.bits_per_char(val_text)  # str keys, as results.json reads back
    best = int(min(by_order, key=by_order.get))
    model = fit_ngram(train_text, best, corpus["vocab"])
    texts = [model.sample("X", length, seed=seed, temperature=temperature) for seed in range(num_samples)]
    tunes = [tune for text in texts for tune in lab_data.extract_song_snippet(text)]
    return {"bpc_by_order": by_order, "fit_seconds": fit_s, "best_order": best,
            "clean": clean_share(tunes), "temperature": temperature,
            "sampling": {"num_samples": num_samples, "length": length, "start": "X"}}


def sampler_quality(model, vocab, training_tunes, num_tunes=150, temperatures=(0.6, 0.7, 0.8, 0.9, 1.0),
                    guided_modes=(False, True), seed=0, batch_size=64, max_chars=1500, rounds=3):
    """Figure 4: clean and copying shares, and tunes/s, of generate_tunes plain and guided per temperature.

    Clean is labutils.music.check_tune's verdict (abc2midi when installed); copying is a run of
    >= 60 characters of tune body shared with a training tune (labutils.music.tune_quality).
    Each temperature's samplers run `rounds` times, alternately (plain, guided, guided, plain,
    ...), so a busy spell of a shared machine meets both; tunes/s is from the median time (the
    seed makes every round's tunes the same), the shares from the tunes themselves.
    """
    from labutils.guided import generate_tunes
    from labutils.music import CopyIndex, tune_quality

    index = CopyIndex(training_tunes)
    results = {}
    for temperature in temperatures:
        runs = {guided: [] for guided in guided_modes}
        for round_ in range(rounds):
            for guided in (guided_modes if round_ % 2 == 0 else tuple(reversed(guided_modes))):
                start, cpu_start = time.perf_counter(), time.process_time()
                tunes = generate_tunes(model, num_tunes, vocab=vocab, temperature=temperature, guided=guided,
                                       seed=seed, batch_size=batch_size, max_chars=max_chars)
                runs[guided].append((time.perf_counter() - start, time.process_time() - cpu_start, load_now(), tunes))
        for guided, timed in runs.items():
            tunes = timed[0][3]
            seconds = statistics.median(t for t, _, _, _ in timed)
            quality = tune_quality(tunes, index=index)
            results[f"{'guided' if guided else 'plain'}_T{temperature:.1f}"] = {
                "tunes": quality["count"], "clean": quality["clean"], "clean_share": quality["clean_share"],
                "copying": quality["copying"], "copying_share": quality["copying_share"],
                "seconds": seconds, "tunes_per_s": quality["count"] / seconds,
                "seconds_by_round": [round(t, 3) for t, _, _, _ in timed],
                "cpu_seconds_by_round": [round(c, 3) for _, c, _, _ in timed],
                "load": timed[-1][2], "loads": [load for _, _, load, _ in timed],
                "longest_shared_max": max((r["longest_shared"] for r in quality["tunes"]), default=0)}
    return results
