"""Turn the raw numbers of a benchmark run into results.md (one table) and PNG plots."""
import statistics

import matplotlib

from labutils.music.form import format_table

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NOTES_COLOR, OUR_COLOR = "#999999", "#1f77b4"
PLOTS = ("training_throughput.png", "time_to_quality.png", "generation_throughput.png",
         "clean_share.png", "playback.png", "ngram_baseline.png", "busy_machine.png")
BPC_GOAL = 1.35  # figure 2b: our held-out bits/char after at most --minutes of training


def _ratio(ours, notes):
    """ours/notes as text, or an em dash when either is missing."""
    if ours is None or notes in (None, 0):
        return "—"
    return f"{ours / notes:.2f}x"


def _met(condition):
    """yes / no / — for a goal."""
    return "—" if condition is None else ("yes" if condition else "no")


def _pct(share):
    """A share as a percentage, or an em dash."""
    return "—" if share is None else f"{100 * share:.0f}%"


def _throughput_note(train):
    """How figure 1 was measured, with each round's ours/notes ratio (its spread)."""
    ratios = ", ".join(f"{r['ours_over_notes']:.2f}x" for r in train["rounds"])
    return (f"- Figure 1: {train['notes']['steps']} training steps of each recipe, alternated one by one "
            f"({train['notes']['chars_per_step']} characters a step), median step time of each; "
            f"ours/notes in each of the {len(train['rounds'])} rounds: {ratios}.")


def table_rows(results):
    """(figure, measure, notes, ours, ours/notes, goal, met) rows of the results table."""
    rows = []
    train = results["training_throughput"]
    notes_cps, our_cps = train["notes"]["median_chars_per_s"], train["ours"]["median_chars_per_s"]
    rows.append(("1", "Training throughput at the notes' configuration (chars/s)", f"{notes_cps:,.0f}",
                 f"{our_cps:,.0f}", _ratio(our_cps, notes_cps), "≥ 1.0x", _met(our_cps >= notes_cps)))
    q = results["time_to_quality"]["summary"]
    ours_t = q["ours_time_to_notes_best_s"]
    rows.append(("2a", f"Training time to the notes' best held-out bits/char ({q['notes_best_bpc']:.3f})",
                 f"{q['notes_time_to_best_s']:.0f} s", "never" if ours_t is None else f"{ours_t:.0f} s",
                 "—" if q["time_ratio"] is None else f"{q['time_ratio']:.2f}x", "≤ 0.33x",
                 _met(q["time_ratio"] is not None and q["time_ratio"] <= 1 / 3)))
    minutes = results["minutes"]
    rows.append(("2b", f"Held-out bits/char at the end (≤ {minutes:g} min of training)",
                 f"{q['notes_final_bpc']:.3f} ({q['notes_train_s']:.0f} s, {q['notes_steps']} steps)",
                 f"{q['ours_final_bpc']:.3f} ({q['ours_train_s']:.0f} s, {q['ours_steps']} steps)",
                 _ratio(q["ours_final_bpc"], q["notes_final_bpc"]), f"ours ≤ {BPC_GOAL} in ≤ {minutes:g} min",
                 # the loop stops at the budget: its last step may end a moment after it
                 _met(q["ours_final_bpc"] <= BPC_GOAL and q["ours_train_s"] <= minutes * 60 * 1.01)))
    gen = results["generation_throughput"]
    notes_gen = gen["notes"]["chars_per_s"]
    rows.append(("3a", "Generation, one sample, notes' model size (chars/s)", f"{notes_gen:,.0f}",
                 f"{gen['ours_single']['chars_per_s']:,.0f}", _ratio(gen["ours_single"]["chars_per_s"], notes_gen),
                 "—", "—"))
    batched = gen["ours_batched"]
    rows.append(("3b", f"Generation, {batched['samples']} samples at once, notes' model size (chars/s)",
                 f"{notes_gen:,.0f}", f"{batched['chars_per_s']:,.0f}", _ratio(batched["chars_per_s"], notes_gen),
                 "≥ 20x", _met(batched["chars_per_s"] >= 20 * notes_gen)))
    if "ours_batched_more" in gen:
        more = gen["ours_batched_more"]
        rows.append(("3b", f"Generation, {more['samples']} samples at once, notes' model size (chars/s)",
                     f"{notes_gen:,.0f}", f"{more['chars_per_s']:,.0f}", _ratio(more["chars_per_s"], notes_gen),
                     "—", "—"))
    if "ours_cpu_default_batched" in gen:
        small = gen["ours_cpu_default_batched"]
        rows.append(("3c", f"Generation, {small['samples']} samples at once, our CPU default model (chars/s)",
                     f"{notes_gen:,.0f}", f"{small['chars_per_s']:,.0f}", _ratio(small["chars_per_s"], notes_gen),
                     "—", "—"))
    clean = results["clean_share"]
    real, notes_clean = clean["real_tunes"], clean["notes_T1.0"]
    for key in sorted((k for k in clean if k.startswith("ours_T")), reverse=True):
        ours = clean[key]
        temperature = key[len("ours_T"):]
        rows.append(("4", f"abc2midi-clean share of generated tunes, ours at temperature {temperature} "
                          f"(notes at 1.0; real tunes {_pct(real['share'])} of {real['tunes']})",
                     f"{_pct(notes_clean['share'])} of {notes_clean['tunes']}",
                     f"{_pct(ours['share'])} of {ours['tunes']}", _ratio(ours["share"], notes_clean["share"]),
                     "—", "—"))
    for model_name, by_mode in results.get("sampler", {}).items():
        for key in sorted(k for k in by_mode if k.startswith("guided_T")):
            temperature = key[len("guided_T"):]
            guided, plain = by_mode[key], by_mode.get(f"plain_T{temperature}")
            if plain is None:
                continue
            default = temperature == "0.7"
            rows.append(("4g", f"generate_tunes, {model_name} model, T={temperature}: clean share, plain -> guided "
                               f"({guided['tunes']} tunes)", f"{_pct(plain['clean_share'])}",
                         f"{_pct(guided['clean_share'])}", _ratio(guided["clean_share"], plain["clean_share"]),
                         "≥ 85% at T=0.7" if default else "—",
                         _met(guided["clean_share"] >= 0.85) if default else "—"))
            rows.append(("4g", "... copying a training tune (>= 60 shared characters), plain / guided",
                         _pct(plain["copying_share"]), _pct(guided["copying_share"]), "—", "≤ 5%",
                         _met(guided["copying_share"] <= 0.05 and plain["copying_share"] <= 0.05)))
            cpu = ""
            if plain.get("cpu_seconds_by_round") and guided.get("cpu_seconds_by_round"):
                cpu_ratio = statistics.median(plain["cpu_seconds_by_round"]) / statistics.median(
                    guided["cpu_seconds_by_round"])
                cpu = f" (by CPU time: {cpu_ratio:.2f}x)"
            rows.append(("4g", f"... tunes per second, plain -> guided{cpu}", f"{plain['tunes_per_s']:.2f}",
                         f"{guided['tunes_per_s']:.2f}", _ratio(guided["tunes_per_s"], plain["tunes_per_s"]),
                         "≥ 0.5x", _met(guided["tunes_per_s"] >= 0.5 * plain["tunes_per_s"])))
    play = results["playback"]["backends"]
    notes_play = play.get("notes", {}).get("seconds")
    for name, numbers in play.items():
        if name == "notes":
            continue
        rows.append(("5", f"Playback of the median tune ({results['playback']['median_tune_chars']} chars), "
                          f"{name} (s)", "—" if notes_play is None else f"{notes_play:.3f}",
                     f"{numbers['seconds']:.3f}", _ratio(numbers["seconds"], notes_play), "≤ 0.3 s",
                     _met(numbers["seconds"] <= 0.3)))
    rows += _baseline_rows(results) + _busy_rows(results)
    return rows


def _lstm_bpc(results):
    """Our LSTM's held-out bits/char at the end of figure 2."""
    return results["time_to_quality"]["summary"]["ours_final_bpc"]


def _baseline_rows(results):
    """Figure 6: the n-gram baseline's best order against our LSTM; clean share of each at its temperature."""
    if "ngram_baseline" not in results:
        return []
    ngram = results["ngram_baseline"]
    best, lstm = ngram["best_order"], _lstm_bpc(results)
    rows = [("6a", f"Held-out bits/char: Kneser-Ney {best}-gram (best order) vs our LSTM (figure 2); "
                   "n-gram in the notes' column", f"{ngram['bpc_by_order'][str(best)]:.3f}", f"{lstm:.3f}",
             _ratio(lstm, ngram["bpc_by_order"][str(best)]), "—", "—")]
    key = f"ours_T{ngram['temperature']:.1f}"
    ours = results["clean_share"].get(key)
    clean = ngram["clean"]
    rows.append(("6b", f"Clean share of generated tunes at temperature {ngram['temperature']:.1f}: "
                       f"{best}-gram vs our LSTM", f"{_pct(clean['share'])} of {clean['tunes']}",
                 "—" if ours is None else f"{_pct(ours['share'])} of {ours['tunes']}",
                 "—" if ours is None else _ratio(ours["share"], clean["share"]), "—", "—"))
    return rows


def _busy_rows(results):
    """Figure 7: training steps/s with one competing process, fixed threads vs chosen by measurement."""
    if "busy_machine" not in results:
        return []
    busy = results["busy_machine"]
    quiet = busy["quiet_fixed"]["steps_per_s"]
    rows = [("7a", f"Training steps/s, quiet machine, CPU default ({busy['default_threads']} threads fixed; "
                   "adaptive in ours)", f"{quiet:.2f}", f"{busy['quiet_adaptive']['steps_per_s']:.2f}",
             _ratio(busy["quiet_adaptive"]["steps_per_s"], quiet), "—", "—")]
    fixed, adaptive = busy["busy_fixed"]["steps_per_s"], busy["busy_adaptive"]["steps_per_s"]
    rows.append(("7b", "Training steps/s with one competing CPU-bound process: fixed threads vs adaptive "
                       f"(quiet fixed: {quiet:.2f})", f"{fixed:.2f}", f"{adaptive:.2f}", _ratio(adaptive, fixed),
                 "adaptive ≥ 1/3 of quiet", _met(adaptive >= quiet / 3)))
    return rows


def markdown(results):
    """results.md: the table, what was measured, and on what machine."""
    env = results["environment"]
    lines = ["# Benchmarks: labutils against the lab notes' recipe", ""]
    if results["settings"].get("quick"):
        lines += ["**Quick run (smoke check): sizes and time limits are tiny, the numbers mean nothing.**", ""]
    lines += ["| # | Measure | Notes' recipe | Ours | Ours/notes | Goal | Met |",
              "|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    lines += ["", f"Machine: {env['cpu']}, {env['cpu_count']} cores, torch {env['torch']} with "
                  f"{env['threads']} threads, Python {env['python']}. Load average at start "
                  f"{env['load_at_start'][0]:.2f}, at end {env.get('load_at_end', float('nan')):.2f} "
                  f"(every measurement's load is in results.json). Whole run: {results['wall_s']:.0f} s.",
              "",
              f"Data: {results['data']['tunes']} tunes, split 90/10 by tune (seed 0): "
              f"{results['data']['train_chars']:,} training and {results['data']['val_chars']:,} held-out "
              f"characters, vocabulary {results['data']['vocab_size']}.",
              "",
              "- Notes' recipe: `benchmarks/notes_recipe.py`, the notes' code (list-based `get_batch`, "
              "`torch.tensor` re-wrapping, one-character `generate_text`, `mdl.lab1.play_song`) with "
              f"their hyperparameters {results['notes_params']}.",
              f"- Ours: labutils with `CPU_PARAMS` {results['cpu_params']} (figure 2, 3c, 4) and "
              "`NOTES_PARAMS` (figures 1, 3a, 3b: same model size, same weights).",
              _throughput_note(results["training_throughput"]),
              "- Figure 2 counts training time only: held-out bits/char (`labutils.training.evaluate_bpc`, "
              f"the same for both) is measured every {results['minutes'] * 60 / results['settings']['evals_per_curve']:.0f} s "
              "of training with the clock stopped. Ours is the model `make run` keeps: the better of the "
              "weights and their moving average at each evaluation (the average's update runs on the "
              "clock). Ours/notes below 1 is "
              "better for times and bits/char, above 1 for throughputs and clean shares.",
              "- Figure 4 samples from the models trained in figure 2 (start \"X\", seed 0, "
              f"{results['clean_share']['sampling']['num_samples']} texts of "
              f"{results['clean_share']['sampling']['length']} characters) and checks each complete tune "
              "with `labutils.music.check_tune`.",
              "- Figure 5: `labutils.music.play_song` per parser+synthesizer; the notes' column is "
              "`mdl.lab1.play_song` (abc2midi then timidity through files).",
              *_extra_notes(results), *_rerun_notes(results),
              "", "Plots: " + ", ".join(f"[{name}]({name})" for name in PLOTS), "", *form_section(results)]
    return "\n".join(lines)


def form_section(results):
    """Figure 8: the form table of real | plain | guided tunes, one per seed (`benchmarks/form.py`)."""
    if "form" not in results:
        return []
    lines = ["## Figure 8: does it sound like a tune? Form of real, plain and guided tunes", "",
             "The shipped model, `labutils.guided.generate_tunes` at the project's defaults (guided or not); "
             "the real column is the lab's tunes, its key distance that of a seeded sample as large as the "
             "generated columns (`labutils.music.form_table`).", ""]
    for seed, groups in results["form"].items():
        seconds = groups.get("seconds", {})
        lines += [f"Seed {seed} (plain {seconds.get('plain', '?')} s, guided {seconds.get('guided', '?')} s):", "",
                  format_table({name: groups[name] for name in ("real", "plain", "guided")}), ""]
    return lines


def _rerun_notes(results):
    """When figures were measured again on their own (`--figures`), and on what machine state."""
    notes = []
    for rerun in results.get("reruns", []):
        env = rerun["environment"]
        note = (f"- Figure(s) {', '.join(rerun['figures'])} measured again on their own on {rerun['when']} "
                f"(`--figures`), {env['threads']} torch thread(s), load {env['load_at_start'][0]:.2f} at the "
                f"start and {env.get('load_at_end', float('nan')):.2f} at the end, {rerun['wall_s']:.0f} s; "
                "their rows above are from that run, the others from the full run.")
        if "cpu_default" in rerun:
            model = rerun["cpu_default"]
            note += (f" The CPU default was trained again for it as in figure 2: {model['steps']} steps in "
                     f"{model['train_s']:.0f} s of training, held-out {model['val_bpc']:.3f} bits/char.")
        notes.append(note)
    return notes


def _extra_notes(results):
    """How figures 6 and 7 were measured."""
    notes = []
    if "ngram_baseline" in results:
        ngram = results["ngram_baseline"]
        orders = ", ".join(f"{k}: {v:.3f}" for k, v in ngram["bpc_by_order"].items())
        notes.append(f"- Figure 6: `labutils.ngram` (interpolated Kneser-Ney) fitted on the same training tunes, "
                     f"scored on the same held-out tunes; bits/char by order: {orders}. Its tunes: "
                     f"{ngram['sampling']['num_samples']} texts of {ngram['sampling']['length']} characters "
                     "from \"X\", checked like figure 4.")
    if "busy_machine" in results:
        busy = results["busy_machine"]
        chosen = {k: [c["threads"] for c in v["choices"]] for k, v in busy.items()
                  if isinstance(v, dict) and "choices" in v and v["choices"]}
        notes.append(f"- Figure 7: {busy['steps']} steps of the CPU default each, after one warm-up step; busy = "
                     "a Python busy loop started by the benchmark and killed after; adaptive = "
                     f"`labutils.threads.ThreadChooser` over {busy['candidates']} threads, its trial steps "
                     f"counted; its choices per phase: {chosen}.")
    return notes


def _bars(path, labels, values, colors, ylabel, title, goal=None, log=False, fmt="{:,.0f}"):
    """One bar chart with the value written on each bar (and a dashed goal line)."""
    figure, axes = plt.subplots(figsize=(7, 4), layout="constrained")
    bars = axes.bar(labels, values, color=colors)
    for bar, value in zip(bars, values):
        axes.annotate(fmt.format(value), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                      ha="center", va="bottom", fontsize=9)
    if goal is not None:
        axes.axhline(goal[0], color="red", linestyle="--", linewidth=1, label=goal[1])
        axes.legend()
    if log:
        axes.set_yscale("log")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_plots(results, out):
    """The five PNG plots, one per figure."""
    train = results["training_throughput"]
    notes_cps, our_cps = train["notes"]["median_chars_per_s"], train["ours"]["median_chars_per_s"]
    _bars(out / PLOTS[0], ["notes' recipe", "labutils"], [notes_cps, our_cps], [NOTES_COLOR, OUR_COLOR],
          "characters / second", f"(1) Training throughput, notes' configuration: {our_cps / notes_cps:.2f}x")

    ttq = results["time_to_quality"]
    summary = ttq["summary"]
    figure, axes = plt.subplots(figsize=(8, 5), layout="constrained")
    for name, color, label in (("notes", NOTES_COLOR, "notes' recipe"), ("ours", OUR_COLOR, "our CPU default")):
        curve = ttq[name]
        axes.plot([p["train_s"] / 60 for p in curve], [p["val_bpc"] for p in curve], "o-", color=color,
                  markersize=3, label=label)
    axes.axhline(summary["notes_best_bpc"], color=NOTES_COLOR, linestyle=":",
                 label=f"notes' best {summary['notes_best_bpc']:.3f}")
    axes.axhline(BPC_GOAL, color="red", linestyle="--", linewidth=1, label=f"goal {BPC_GOAL}")
    if summary["ours_time_to_notes_best_s"] is not None:
        axes.axvline(summary["ours_time_to_notes_best_s"] / 60, color=OUR_COLOR, linestyle=":", linewidth=1)
    values = [p["val_bpc"] for p in ttq["notes"] + ttq["ours"]]
    axes.set_ylim(min(values) - 0.1, min(max(values), 4.0) + 0.1)
    axes.set_xlabel("training time (minutes, evaluation excluded)")
    axes.set_ylabel("held-out bits / character")
    axes.set_title("(2) Time to quality on the 90/10 split by tune")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.savefig(out / PLOTS[1], dpi=110)
    plt.close(figure)

    gen = results["generation_throughput"]
    names = [n for n in ("notes", "ours_single", "ours_batched", "ours_batched_more", "ours_cpu_default_batched")
             if n in gen]
    labels = {"notes": "notes'\ngenerate_text", "ours_single": "ours,\n1 sample",
              "ours_batched": f"ours,\n{gen['ours_batched']['samples']} samples",
              "ours_batched_more": f"ours,\n{gen.get('ours_batched_more', {}).get('samples')} samples",
              "ours_cpu_default_batched": "ours, CPU default\nmodel, batched"}
    _bars(out / PLOTS[2], [labels[n] for n in names], [gen[n]["chars_per_s"] for n in names],
          [NOTES_COLOR] + [OUR_COLOR] * (len(names) - 1), "characters / second (log)",
          "(3) Generation throughput", goal=(20 * gen["notes"]["chars_per_s"], "goal: 20x the notes'"), log=True)

    clean = results["clean_share"]
    keys = ["real_tunes", "notes_T1.0"] + sorted((k for k in clean if k.startswith("ours_T")), reverse=True)
    names = {"real_tunes": "real tunes", "notes_T1.0": "notes'\nT=1.0"}
    _bars(out / PLOTS[3], [names.get(k, f"ours\nT={k[len('ours_T'):]}") for k in keys],
          [100 * (clean[k]["share"] or 0) for k in keys], ["#2ca02c", NOTES_COLOR] + [OUR_COLOR] * (len(keys) - 2),
          "% of tunes abc2midi-clean", "(4) Clean share of generated tunes", fmt="{:.0f}%")

    play = results["playback"]["backends"]
    names = list(play)
    _bars(out / PLOTS[4], [n.replace("+", "\n+") if n != "notes" else "notes'\nplay_song" for n in names],
          [play[n]["seconds"] for n in names], [NOTES_COLOR if n == "notes" else OUR_COLOR for n in names],
          "seconds", "(5) Playback of the median tune", goal=(0.3, "goal 0.3 s"), fmt="{:.3f}")

    if "ngram_baseline" in results:
        ngram = results["ngram_baseline"]
        figure, axes = plt.subplots(figsize=(7, 4), layout="constrained")
        orders = [int(k) for k in ngram["bpc_by_order"]]
        axes.plot(orders, list(ngram["bpc_by_order"].values()), "o-", color=NOTES_COLOR, label="Kneser-Ney n-gram")
        axes.axhline(_lstm_bpc(results), color=OUR_COLOR, label=f"our LSTM (figure 2) {_lstm_bpc(results):.3f}")
        axes.set_xlabel("order (characters of context + 1)")
        axes.set_ylabel("held-out bits / character")
        axes.set_title("(6) n-gram baseline by order against the LSTM")
        axes.legend()
        axes.grid(alpha=0.3)
        figure.savefig(out / PLOTS[5], dpi=110)
        plt.close(figure)

    if "busy_machine" in results:
        busy = results["busy_machine"]
        keys = ["quiet_fixed", "quiet_adaptive", "busy_fixed", "busy_adaptive"]
        _bars(out / PLOTS[6], [k.replace("_", "\n") for k in keys], [busy[k]["steps_per_s"] for k in keys],
              [NOTES_COLOR, OUR_COLOR, NOTES_COLOR, OUR_COLOR], "training steps / second",
              "(7) One competing process: fixed vs measured threads",
              goal=(busy["quiet_fixed"]["steps_per_s"] / 3, "goal: 1/3 of quiet"), fmt="{:.2f}")
