"""The jobs behind the CLI: train (and generate) into a run folder, resume one, or generate from a
checkpoint. Everything a job is given is checked before its first file is written."""
from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

from labutils import params as lab_params
from labutils.checkpoints import load_checkpoint, model_from_checkpoint
from labutils.corpus import training_corpus
from labutils.data import load_training_data
from labutils.device import get_device
from labutils.files import atomic_write_text, check_writable_folder
from labutils.guided import generate_tunes
from labutils.model import LSTMModel, count_parameters
from labutils.pretrained import load_pretrained
from labutils.runs import new_run_dir, save_loss_plot, training_phases, write_history_csv, write_json
from labutils.training_loop import TrainingDiverged, TrainResult, train

# Settings a resumed run cannot change: they fix the model's shape or the text it trains on.
RESUME_FIXED = (*lab_params.MODEL_KEYS, "transpose", "extra_tunes", "extra_share", "extra_from", "extra_until",
                "played_share")


def command_line(*args: str) -> str:
    """A shell command that runs `python -m labutils ARGS` with this very Python, as a user can paste it.

    This Python is the lab's .venv one when the lab runs through make, which a plain `python`
    may not be: so the command names it (relative to the current folder when inside it)."""
    python = Path(sys.executable)
    try:
        python = python.relative_to(Path.cwd())
    except ValueError:
        pass
    return " ".join(shlex.quote(part) for part in (str(python), "-m", "labutils", *args))


def _overrides(args) -> Dict:
    """The settings given as flags (`args.setting_flags`, from the CLI: setting -> flag)."""
    return {key: getattr(args, key) for key in args.setting_flags if getattr(args, key, None) is not None}


def _start_tracker(args, params: Dict, run_dir: Path):
    """The Comet ML experiment of a run (--comet), a context manager (labutils.tracking)."""
    from labutils.tracking import start_experiment

    return start_experiment(params, mode=args.comet, run_dir=run_dir, name=run_dir.name)


def _new_run(args, device: torch.device) -> Tuple[Path, Dict, Optional[str]]:
    """(run folder, settings, data path) of a new run, checked: a new folder in one this user can write in."""
    params = {**lab_params.choose_params(args.preset, device), **_overrides(args)}
    data_path = str(Path(args.data).resolve()) if args.data else None  # resumable from any folder
    root = Path(args.runs_dir)
    check_writable_folder(root, f"--runs-dir {str(root)!r}")
    run_dir = root / (args.name or time.strftime("%Y%m%d-%H%M%S"))
    if run_dir.exists():
        new_run_dir(root, run_dir.name)  # raises its "already exists" error
    return run_dir, params, data_path


def _resumed_run(args) -> Tuple[Path, Dict, Optional[str], Dict]:
    """(run folder, settings, data path, checkpoint) of `--resume RUN_DIR`, checked before anything is written."""
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
    conflicts = [f"{args.setting_flags[k]} {overrides[k]} (the run has {lab_params.with_defaults(stored)[k]})"
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
    if args.header_temperature is not None:
        check_temperature(args.header_temperature, "--header-temperature")
    if args.top_k is not None and args.top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {args.top_k}")


def _check_generate_out(out_dir: Path, force: bool) -> None:
    """--out must not hold earlier results unless --force; its folder must be writable."""
    earlier = [name for name in ("generated.txt", "tunes", "audio", "wavs") if (out_dir / name).exists()]
    if earlier and not force:
        raise FileExistsError(f"--out {str(out_dir)!r} already holds earlier results ({', '.join(earlier)}): "
                              "pick another --out, or pass --force to replace them")
    check_writable_folder(out_dir, f"--out {str(out_dir)!r}")


def run_job(args, generate: bool = True) -> int:
    """Train (or resume), then write history, plot, checkpoint and, with generate, tunes and WAVs.

    Everything is checked (flags, folder, data, the checkpoint of a resume) before the first
    file is written, so a refused command leaves no run folder and changes no config.json.
    """
    if generate:
        check_generation_flags(args)
    device = get_device(require_gpu=True if args.require_gpu else None)
    ckpt = None
    if args.resume:
        run_dir, params, data_path, ckpt = _resumed_run(args)
    else:
        run_dir, params, data_path = _new_run(args, device)
    lab_params.check_params(lab_params.with_defaults(params), args.setting_flags)
    corpus = training_corpus(params, data_path)
    torch.manual_seed(params["seed"])
    model = LSTMModel(len(corpus["vocab"]), **lab_params.model_kwargs(params, corpus["vocab"])).to(device)
    if ckpt is not None:
        _check_resume_fits(ckpt, model, corpus["vocab"], run_dir)
    else:
        run_dir = new_run_dir(run_dir.parent, run_dir.name)
    config = _run_config(params, data_path, device, corpus, model)
    write_json(run_dir / "config.json", config)
    print(_run_line(run_dir, config))
    if ckpt is not None:
        print(f"Resuming from step {ckpt['step']} of {params['num_training_iterations']}.")
    with _start_tracker(args, params, run_dir) as tracker:
        started = time.perf_counter()  # after Comet started: its connection time is not training time
        result = _train_in(run_dir, args, model, corpus, params, tracker)
        summary = _training_summary(run_dir, result, config, tracker, started)
        if generate:
            summary.update(_generate_after_training(run_dir, args, model, result, corpus, tracker))
    write_json(run_dir / "summary.json", summary)
    print_summary(summary)
    return 0


def _run_config(params: Dict, data_path: Optional[str], device: torch.device, corpus: Dict, model) -> Dict:
    """config.json of a run: its settings, data, vocabulary, device and sizes."""
    return {"params": params, "data": data_path, "vocab": corpus["vocab"], "device": str(device),
            "train_tunes": len(corpus["train_songs"]), "val_tunes": len(corpus["val_songs"]),
            "transposed_tunes": corpus.get("transposed_tunes", 0), "extra_tunes": corpus["extra_tunes"],
            "parameters": count_parameters(model)}


def _run_line(run_dir: Path, config: Dict) -> str:
    """The line that opens a run: its folder, the tunes it trains on, the model's size, the preset."""
    params = config["params"]
    moved = f" + {config['transposed_tunes']} transposed copies" if config["transposed_tunes"] else ""
    if config["extra_tunes"]:
        until, start = params.get("extra_until"), params.get("extra_from") or 0
        moved += (f" + {config['extra_tunes']} extra tunes as {params['extra_share']:.0%} of each batch"
                  + (f" from step {start}" if start else "") + (f" until step {until}" if until is not None else ""))
    return (f"Run folder: {run_dir}  ({config['train_tunes']} training tunes{moved}, {config['val_tunes']} held out, "
            f"{len(config['vocab'])} characters, {config['parameters']:,} parameters, preset {params.get('preset')})")


def _train_in(run_dir: Path, args, model, corpus: Dict, params: Dict, tracker) -> TrainResult:
    """Train (or resume) into run_dir. A run that stops early (Ctrl-C, a blown-up loss) first writes its
    history so far; after Ctrl-C it also prints the command that continues it."""
    checkpoint_path = run_dir / "checkpoint.pt"
    try:
        return train(model, corpus["train"], params, val_data=corpus["val"], checkpoint_path=checkpoint_path,
                     best_checkpoint_path=run_dir / "best.pt", resume_from=checkpoint_path if args.resume else None,
                     tracker=tracker, extra_checkpoint={"vocab": corpus["vocab"]}, progress=not args.quiet,
                     train_as_written=corpus.get("train_as_written"), extra_data=corpus["extra"])
    except KeyboardInterrupt:
        _write_history_so_far(run_dir, params)
        print(f"Continue with: {command_line(args.command, '--resume', str(run_dir))}")
        raise
    except TrainingDiverged:
        _write_history_so_far(run_dir, params)
        raise


def _training_summary(run_dir: Path, result: TrainResult, config: Dict, tracker, started: float) -> Dict:
    """Write history.csv and loss.png (the plot to the tracker too); the summary of the training."""
    params = config["params"]
    write_history_csv(result.history, run_dir / "history.csv")
    save_loss_plot(result.history, run_dir / "loss.png", title=f"{run_dir.name} ({params.get('preset')})",
                   phases=training_phases(params, config["extra_tunes"]))
    tracker.log_image(run_dir / "loss.png", name="loss.png")
    return {"run_dir": str(run_dir), "steps": result.steps, "final_loss": result.history[-1]["loss"],
            "val_bpc": result.final_val_bpc, "best_val_bpc": result.best_val_bpc,
            "best_step": result.best_step, "train_seconds": round(time.perf_counter() - started, 1)}


def _generate_after_training(run_dir: Path, args, model, result: TrainResult, corpus: Dict, tracker) -> Dict:
    """Write tunes with the model training kept, or with best.pt when the held-out loss rose after its best step."""
    model = result.kept_model or model  # the weights or, when it did better, their average
    if result.best_step is not None and result.best_step != result.steps:
        # Held-out loss rose after its best step (overfitting): write music with the best model.
        model.load_state_dict(load_checkpoint(run_dir / "best.pt", next(model.parameters()).device)["model_state"])
        summary = {"generated_with": f"best.pt (step {result.best_step})"}
    else:
        kept = result.history[-1].get("kept")
        summary = {"generated_with": f"checkpoint.pt (step {result.steps}" + (f", {kept})" if kept else ")")}
    training_tunes = list(corpus["train_songs"]) + corpus["extra_songs"] + list(corpus["val_songs"])
    summary.update(write_generated(model, corpus["vocab"], run_dir, args, tracker, training_tunes=training_tunes))
    return summary


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
                          header_temperature=(args.header_temperature if args.header_temperature is not None
                                              else defaults["header_temperature"]),
                          seed=args.sample_seed, max_chars=args.length, batch_size=args.num_samples,
                          start=args.start, progress=not getattr(args, "quiet", False))


def write_generated(model, vocab: List[str], out_dir: Path, args, tracker=None,
                    training_tunes: Optional[List[str]] = None) -> Dict:
    """Generate tunes; write generated.txt, tunes/*.abc, quality.json and (unless --no-audio) audio/ (Ogg
    Vorbis, or WAV without soundfile: labutils.music.audiofile)."""
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
        from labutils.music import write_audio

        results = write_audio(tunes, out_dir / "audio")
        files = [r.path for r in results if r.path is not None]
        summary["playable"] = len(files)
        summary["not_playable"] = {f"tune_{i:02d}": r.reason for i, r in enumerate(results) if r.path is None}
        if tracker is not None:
            for path in files:
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
