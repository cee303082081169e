"""The jobs behind the CLI: train + generate into a run folder, or generate from a checkpoint."""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch

from labutils import params as lab_params
from labutils.checkpoints import atomic_write_text, load_checkpoint, model_from_checkpoint
from labutils.data import load_extra_tunes, load_training_data
from labutils.device import get_device
from labutils.guided import generate_tunes
from labutils.model import LSTMModel, count_parameters
from labutils.pretrained import load_pretrained
from labutils.runs import new_run_dir, save_loss_plot, training_phases, write_history_csv, write_json
from labutils.text import prepare_corpus
from labutils.trainer import TrainingDiverged

FLAG_TO_PARAM = {
    "iterations": "num_training_iterations", "batch_size": "batch_size", "seq_length": "seq_length",
    "learning_rate": "learning_rate", "embedding_dim": "embedding_dim", "hidden_size": "hidden_size",
    "num_layers": "num_layers", "dropout": "dropout", "cell": "cell", "grad_clip": "grad_clip",
    "eval_every": "eval_every", "checkpoint_every": "checkpoint_every", "seed": "seed",
    "transpose": "transpose", "extra_tunes": "extra_tunes", "threads": "threads",
    "extra_share": "extra_share", "extra_from": "extra_from", "extra_until": "extra_until",
}


PRESET_ALIASES = {"seed": "notes"}  # the old name of the lab notes' preset


def choose_params(preset: str, device: torch.device) -> Dict:
    """The hyperparameters of a preset; "auto" = notes on a GPU, cpu on a CPU, small under LABUTILS_SMALL=1.

    "seed" is the old name of "notes" and still works."""
    preset = PRESET_ALIASES.get(preset, preset)
    if preset == "auto":
        if lab_params.small_settings_enabled():
            preset = "small"
        else:
            preset = "notes" if device.type == "cuda" else "cpu"
    base = {"notes": lab_params.NOTES_PARAMS, "cpu": lab_params.CPU_PARAMS,
            "small": {**lab_params.NOTES_PARAMS, **lab_params.SMALL_PARAMS}}[preset]
    return {**lab_params.with_defaults(base), "preset": preset}


def _overrides(args) -> Dict:
    return {key: getattr(args, flag) for flag, key in FLAG_TO_PARAM.items() if getattr(args, flag, None) is not None}


def _start_tracker(args, params: Dict, run_dir: Path):
    from labutils.tracking import start_experiment

    return start_experiment(params, mode=args.comet, run_dir=run_dir, name=run_dir.name)


# Flags a resume cannot change: they fix the model's shape or the text it trains on.
RESUME_FIXED = (*lab_params.MODEL_KEYS, "transpose", "extra_tunes", "extra_share", "extra_from", "extra_until")


def _flag(key: str) -> str:
    return "--" + next((flag for flag, name in FLAG_TO_PARAM.items() if name == key), key).replace("_", "-")


def check_params(params: Dict) -> None:
    """Refuse, in one line naming the flag, hyperparameters training cannot run with."""
    positive = ("num_training_iterations", "batch_size", "seq_length", "embedding_dim", "hidden_size", "num_layers")
    for key in positive:
        if not isinstance(params.get(key), int) or params[key] < 1:
            raise ValueError(f"{_flag(key)} must be a whole number of at least 1, got {params.get(key)!r}")
    for key in ("eval_every", "checkpoint_every"):
        if params.get(key) is not None and params[key] < 0:
            raise ValueError(f"{_flag(key)} must be 0 (never) or more, got {params[key]}")
    rate = params.get("learning_rate")
    if not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"--learning-rate must be a finite number above 0 (the lab uses 5e-3), got {rate!r}")
    if not 0.0 <= params.get("dropout", 0.0) < 1.0:
        raise ValueError(f"--dropout must be in [0, 1), got {params['dropout']}")
    share = params.get("extra_share", 0.0)
    if not (isinstance(share, (int, float)) and 0.0 <= share <= 1.0):
        raise ValueError(f"--extra-share must be a share of the batch in [0, 1], got {share!r}")
    for key in ("extra_from", "extra_until"):
        step = params.get(key)
        if step is not None and (not isinstance(step, int) or step < 0):
            raise ValueError(f"{_flag(key)} must be a step number of 0 or more, got {step!r}")
    clip = params.get("grad_clip")
    if clip is not None and not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"--grad-clip must be a finite number above 0, got {clip}")


def _check_runs_dir(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"--runs-dir {str(root)!r} is a file, not a folder: pick a folder")
    existing = next((p for p in [root, *root.parents] if p.exists()), Path("."))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"--runs-dir {str(root)!r}: cannot write in {str(existing)!r} (read-only); "
                              "pick a folder you can write to")


def _resume_settings(args):
    """(run_dir, params, data path, checkpoint) of a resume, checked before anything is written."""
    run_dir = Path(args.resume)
    config_path, checkpoint_path = run_dir / "config.json", run_dir / "checkpoint.pt"
    if not config_path.is_file() or not checkpoint_path.is_file():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a run folder with config.json and checkpoint.pt.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        stored = config["params"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{str(config_path)!r} is not a run's config.json ({error}); start a new run") from error
    overrides = _overrides(args)
    conflicts = [f"{_flag(k)} {overrides[k]} (the run has {lab_params.with_defaults(stored)[k]})"
                 for k in RESUME_FIXED if k in overrides and overrides[k] != lab_params.with_defaults(stored)[k]]
    if conflicts:
        raise ValueError(f"--resume {run_dir}: " + ", ".join(conflicts) + " cannot change in a resumed run; "
                         "drop the flag(s), or start a new run with them")
    data_path = config.get("data")
    if data_path is not None and not Path(data_path).exists():  # a relative path from another folder
        beside = (run_dir.resolve().parent.parent / data_path)
        if not beside.exists():
            raise FileNotFoundError(f"--resume {run_dir}: its training data {data_path!r} is not there any more "
                                    "(run from the folder the run started in)")
        data_path = str(beside)
    return run_dir, {**stored, **overrides}, data_path, load_checkpoint(checkpoint_path)


def _check_resume_fits(ckpt: Dict, model, vocab: List[str], run_dir: Path) -> None:
    """The checkpoint was written by this model on this vocabulary, or a one-line error."""
    saved = ckpt.get("model_config") or {}
    differ = [f"{k} {saved.get(k)!r} vs {v!r}" for k, v in model.config().items() if saved.get(k) != v]
    if differ:
        raise ValueError(f"--resume {run_dir}: checkpoint.pt does not fit config.json ({', '.join(differ)}); "
                         "the folder was changed by hand: start a new run")
    if "vocab" in ckpt and list(ckpt["vocab"]) != list(vocab):
        raise ValueError(f"--resume {run_dir}: the training data's characters differ from the checkpoint's "
                         "(the data file changed): start a new run")


def check_generation_flags(args) -> None:
    """Refuse, in one line and before any work, generation flags that cannot give text."""
    from labutils.sampling import MAX_GENERATION_LENGTH, check_temperature

    if not 0 <= args.length <= MAX_GENERATION_LENGTH:
        raise ValueError(f"--length must be between 0 and {MAX_GENERATION_LENGTH:,} characters (a tune is "
                         f"about 300), got {args.length:,}")
    if len(args.start) > MAX_GENERATION_LENGTH:
        raise ValueError(f"--start is {len(args.start):,} characters; the limit is {MAX_GENERATION_LENGTH:,}")
    if args.num_samples < 1:
        raise ValueError(f"--num-samples must be at least 1, got {args.num_samples}")
    if args.temperature is not None:
        check_temperature(args.temperature, "--temperature")
    if args.top_k is not None and args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")


def _check_generate_out(out_dir: Path, force: bool) -> None:
    """--out must not hold earlier results unless --force; its folder must be writable."""
    earlier = [name for name in ("generated.txt", "tunes", "wavs") if (out_dir / name).exists()]
    if earlier and not force:
        raise FileExistsError(f"--out {str(out_dir)!r} already holds earlier results ({', '.join(earlier)}): "
                              "pick another --out, or pass --force to replace them")
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"--out {str(out_dir)!r} is a file, not a folder")
    existing = next((p for p in [out_dir, *out_dir.parents] if p.exists()), Path("."))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"--out {str(out_dir)!r}: cannot write in {str(existing)!r} (read-only)")


def run_job(args, generate: bool = True) -> int:
    """Train (or resume), then write history, plot, checkpoint and, with generate, tunes and WAVs.

    Everything is checked (flags, folder, data, the checkpoint of a resume) before the first
    file is written, so a refused command leaves no run folder and changes no config.json.
    """
    from labutils.trainer import train

    if generate:
        check_generation_flags(args)
    device = get_device(require_gpu=True if args.require_gpu else None)
    ckpt = None
    if args.resume:
        run_dir, params, data_path, ckpt = _resume_settings(args)
    else:
        params = {**choose_params(args.preset, device), **_overrides(args)}
        data_path = str(Path(args.data).resolve()) if args.data else None  # resumable from any folder
        root = Path(args.runs_dir)
        _check_runs_dir(root)
        run_dir = root / (args.name or time.strftime("%Y%m%d-%H%M%S"))
        if run_dir.exists():
            new_run_dir(root, run_dir.name)  # raises its "already exists" error
    check_params(lab_params.with_defaults(params))
    songs = load_training_data(data_path)
    extra = load_extra_tunes(params["extra_tunes"], lab_songs=songs) if params.get("extra_tunes") else None
    if extra is not None:
        print(extra.summary())
    corpus = prepare_corpus(songs, 0.1, seed=0, transpose=params.get("transpose", ()),
                            extra_train_songs=extra.tunes if extra is not None else ())
    vocab, train_data, val_data = corpus["vocab"], corpus["train"], corpus["val"]
    train_songs, val_songs = corpus["train_songs"], corpus["val_songs"]
    torch.manual_seed(params["seed"])
    model = LSTMModel(len(vocab), **lab_params.model_kwargs(params)).to(device)
    if ckpt is not None:
        _check_resume_fits(ckpt, model, vocab, run_dir)
    else:
        run_dir = new_run_dir(run_dir.parent, run_dir.name)
    config = {"params": params, "data": data_path, "vocab": vocab, "device": str(device),
              "train_tunes": len(train_songs), "val_tunes": len(val_songs),
              "transposed_tunes": corpus.get("transposed_tunes", 0), "extra_tunes": corpus["extra_tunes"],
              "parameters": count_parameters(model)}
    write_json(run_dir / "config.json", config)
    moved = f" + {config['transposed_tunes']} transposed copies" if config["transposed_tunes"] else ""
    if config["extra_tunes"]:
        until = params.get("extra_until")
        start = params.get("extra_from") or 0
        moved += (f" + {config['extra_tunes']} extra tunes as {params['extra_share']:.0%} of each batch"
                  + (f" from step {start}" if start else "") + (f" until step {until}" if until is not None else ""))
    print(f"Run folder: {run_dir}  ({len(train_songs)} training tunes{moved}, {len(val_songs)} held out, "
          f"{len(vocab)} characters, {config['parameters']:,} parameters, preset {params.get('preset')})")
    if ckpt is not None:
        print(f"Resuming from step {ckpt['step']} of {params['num_training_iterations']}.")
    checkpoint_path = run_dir / "checkpoint.pt"
    with _start_tracker(args, params, run_dir) as tracker:
        started = time.perf_counter()  # after Comet started: its connection time is not training time
        try:
            result = train(model, train_data, params, val_data=val_data, checkpoint_path=checkpoint_path,
                           best_checkpoint_path=run_dir / "best.pt",
                           resume_from=checkpoint_path if args.resume else None, tracker=tracker,
                           extra_checkpoint={"vocab": vocab}, progress=not args.quiet,
                           train_as_written=corpus.get("train_as_written"), extra_data=corpus["extra"])
        except KeyboardInterrupt:
            _write_history_so_far(run_dir, params)
            from labutils.cli import command_line

            print(f"Continue with: {command_line(args.command, '--resume', str(run_dir))}")
            raise
        except TrainingDiverged:
            _write_history_so_far(run_dir, params)
            raise
        write_history_csv(result.history, run_dir / "history.csv")
        save_loss_plot(result.history, run_dir / "loss.png", title=f"{run_dir.name} ({params.get('preset')})",
                       phases=training_phases(params, config["extra_tunes"]))
        tracker.log_image(run_dir / "loss.png", name="loss.png")
        summary = {"run_dir": str(run_dir), "steps": result.steps, "final_loss": result.history[-1]["loss"],
                   "val_bpc": result.final_val_bpc, "best_val_bpc": result.best_val_bpc,
                   "best_step": result.best_step, "train_seconds": round(time.perf_counter() - started, 1)}
        if generate:
            model = result.kept_model or model  # the weights or, when it did better, their average
            if result.best_step is not None and result.best_step != result.steps:
                # Held-out loss rose after its best step (overfitting): write music with the best model.
                model.load_state_dict(load_checkpoint(run_dir / "best.pt", device)["model_state"])
                summary["generated_with"] = f"best.pt (step {result.best_step})"
            else:
                kept = result.history[-1].get("kept")
                summary["generated_with"] = f"checkpoint.pt (step {result.steps}" + (f", {kept})" if kept else ")")
            summary.update(write_generated(model, vocab, run_dir, args, tracker,
                                           training_tunes=list(train_songs) + corpus["extra_songs"] + list(val_songs)))
    write_json(run_dir / "summary.json", summary)
    print_summary(summary)
    return 0


def _write_history_so_far(run_dir: Path, params: Dict) -> None:
    """history.csv and loss.png from the last checkpoint, when a run stops early."""
    checkpoint_path = run_dir / "checkpoint.pt"
    if not checkpoint_path.is_file():
        return
    history = load_checkpoint(checkpoint_path).get("history") or []
    if history:
        write_history_csv(history, run_dir / "history.csv")
        save_loss_plot(history, run_dir / "loss.png", title=f"{run_dir.name} ({params.get('preset')}, stopped)",
                       phases=training_phases(params, len(params.get("extra_tunes") or [])))
        print(f"Wrote {run_dir / 'history.csv'} and {run_dir / 'loss.png'} (up to step {history[-1]['step']}).")


def _generate(model, vocab: List[str], args) -> List[str]:
    """Sample args.num_tunes tunes with the CLI's flags (guided unless --plain), GENERATION_DEFAULTS
    where a flag is unset."""
    defaults = lab_params.GENERATION_DEFAULTS
    return generate_tunes(model, args.num_tunes, vocab=vocab, guided=not args.plain,
                          temperature=args.temperature if args.temperature is not None else defaults["temperature"],
                          top_k=args.top_k if args.top_k is not None else defaults["top_k"],
                          seed=args.sample_seed, max_chars=args.length, batch_size=args.num_samples,
                          start=args.start, progress=not getattr(args, "quiet", False))


def write_generated(model, vocab: List[str], out_dir: Path, args, tracker=None,
                    training_tunes: Optional[List[str]] = None) -> Dict:
    """Generate tunes; write generated.txt, tunes/*.abc, quality.json and (unless --no-audio) wavs/*.wav."""
    from labutils.music import quality_summary, tune_quality

    tunes = _generate(model, vocab, args)
    generated = "\n\n".join(tunes)
    atomic_write_text(out_dir / "generated.txt", generated + "\n")
    for i, tune in enumerate(tunes):
        atomic_write_text(out_dir / "tunes" / f"tune_{i:02d}.abc", tune + "\n")
    if tracker is not None:
        tracker.log_text(generated, name="generated.txt")
    quality = tune_quality(tunes, training_tunes if training_tunes is not None else load_training_data())
    write_json(out_dir / "quality.json", quality)
    summary = {"generated_chars": sum(len(t) for t in tunes), "tunes": len(tunes),
               "sampler": "plain" if args.plain else "guided (every bar the meter's length)",
               **quality_summary(quality)}
    if not args.no_audio and tunes:
        from labutils.music import write_wavs

        results = write_wavs(tunes, out_dir / "wavs")
        wavs = [r.path for r in results if r.path is not None]
        summary["playable"] = len(wavs)
        summary["not_playable"] = {f"tune_{i:02d}": r.reason for i, r in enumerate(results) if r.path is None}
        if tracker is not None:
            for path in wavs:
                tracker.log_audio(path, name=Path(path).name)
    return summary


def generate_job(args) -> int:
    """Generate from a checkpoint, a run folder or the shipped model; print or write to --out."""
    check_generation_flags(args)
    if args.out:
        _check_generate_out(Path(args.out), args.force)
    device = get_device(verbose=False)
    if args.checkpoint:
        path = Path(args.checkpoint)
        model, vocab = model_from_checkpoint(path / "checkpoint.pt" if path.is_dir() else path, device)
        print(f"Model: {path}")
    else:
        model, vocab = load_pretrained(device)
        print("Model: the small pretrained model shipped with labutils")
    if args.out:
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        summary = write_generated(model, vocab, out_dir, args)
        summary["out"] = str(out_dir)
        print_summary(summary)
        return 0
    for tune in _generate(model, vocab, args):
        print(tune, end="\n\n")
    return 0


def print_summary(summary: Dict) -> None:
    """Print a run summary, one fact a line."""
    print("\nSummary")
    for key, value in summary.items():
        if key == "not_playable":
            for name, reason in value.items():
                print(f"  {name}: not playable ({reason})")
            continue
        if key == "tunes" and value == 0:
            print(f"  tunes: 0  ({_why_no_tunes()})")
            continue
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")


def _why_no_tunes() -> str:
    """Why a summary has no tunes: the text held no complete tune (and what to change)."""
    why = ("no complete tune in the generated text: one needs X:, a K: line, music and a blank line "
           "after it (see generated.txt)")
    if lab_params.small_settings_enabled():
        return why + f"; {lab_params.SMALL_ENV}=1 trains a tiny model for a few steps, which rarely writes one"
    return why + "; train longer (--iterations) or generate more (--length)"
