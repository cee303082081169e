"""The jobs behind the CLI: train + generate into a run folder, or generate from a checkpoint."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, List

import torch

from labutils import params as lab_params
from labutils.checkpoints import atomic_write_text, load_checkpoint, model_from_checkpoint
from labutils.data import extract_song_snippet, load_extra_tunes, load_training_data
from labutils.device import get_device
from labutils.model import LSTMModel, count_parameters
from labutils.pretrained import load_pretrained
from labutils.runs import new_run_dir, save_loss_plot, write_history_csv, write_json
from labutils.sampling import generate_text
from labutils.text import prepare_corpus

FLAG_TO_PARAM = {
    "iterations": "num_training_iterations", "batch_size": "batch_size", "seq_length": "seq_length",
    "learning_rate": "learning_rate", "embedding_dim": "embedding_dim", "hidden_size": "hidden_size",
    "num_layers": "num_layers", "dropout": "dropout", "cell": "cell", "grad_clip": "grad_clip",
    "eval_every": "eval_every", "checkpoint_every": "checkpoint_every", "seed": "seed",
    "transpose": "transpose", "extra_tunes": "extra_tunes", "threads": "threads",
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


def run_job(args, generate: bool = True) -> int:
    """Train (or resume), then write history, plot, checkpoint and, with generate, tunes and WAVs."""
    from labutils.trainer import train

    device = get_device(require_gpu=True if args.require_gpu else None)
    if args.resume:
        run_dir = Path(args.resume)
        config_path = run_dir / "config.json"
        if not config_path.is_file() or not (run_dir / "checkpoint.pt").is_file():
            raise FileNotFoundError(f"{str(run_dir)!r} is not a run folder with config.json and checkpoint.pt.")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        params = {**config["params"], **_overrides(args)}
        data_path = config.get("data")
    else:
        params = {**choose_params(args.preset, device), **_overrides(args)}
        data_path = args.data
        run_dir = new_run_dir(args.runs_dir, args.name)
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
    config = {"params": params, "data": data_path, "vocab": vocab, "device": str(device),
              "train_tunes": len(train_songs), "val_tunes": len(val_songs),
              "transposed_tunes": corpus.get("transposed_tunes", 0), "extra_tunes": corpus["extra_tunes"],
              "parameters": count_parameters(model)}
    write_json(run_dir / "config.json", config)
    moved = f" + {config['transposed_tunes']} transposed copies" if config["transposed_tunes"] else ""
    moved = (f" (with {config['extra_tunes']} extra)" if config["extra_tunes"] else "") + moved
    print(f"Run folder: {run_dir}  ({len(train_songs)} training tunes{moved}, {len(val_songs)} held out, "
          f"{len(vocab)} characters, {config['parameters']:,} parameters, preset {params.get('preset')})")
    checkpoint_path = run_dir / "checkpoint.pt"
    started = time.perf_counter()
    with _start_tracker(args, params, run_dir) as tracker:
        try:
            result = train(model, train_data, params, val_data=val_data, checkpoint_path=checkpoint_path,
                           best_checkpoint_path=run_dir / "best.pt",
                           resume_from=checkpoint_path if args.resume else None, tracker=tracker,
                           extra_checkpoint={"vocab": vocab}, progress=not args.quiet,
                           train_as_written=corpus.get("train_as_written"))
        except KeyboardInterrupt:
            from labutils.cli import command_line

            print(f"Continue with: {command_line(args.command, '--resume', str(run_dir))}")
            raise
        write_history_csv(result.history, run_dir / "history.csv")
        save_loss_plot(result.history, run_dir / "loss.png", title=f"{run_dir.name} ({params.get('preset')})")
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
            summary.update(write_generated(model, vocab, run_dir, args, tracker))
    write_json(run_dir / "summary.json", summary)
    print_summary(summary)
    return 0


def _generate(model, vocab: List[str], args) -> List[str]:
    """Sample args.num_samples texts with the CLI's flags, GENERATION_DEFAULTS where a flag is unset."""
    defaults = lab_params.GENERATION_DEFAULTS
    texts = generate_text(model, args.start, args.length, vocab=vocab,
                          temperature=args.temperature if args.temperature is not None else defaults["temperature"],
                          top_k=args.top_k if args.top_k is not None else defaults["top_k"],
                          num_samples=args.num_samples, seed=args.sample_seed)
    return [texts] if isinstance(texts, str) else texts


def write_generated(model, vocab: List[str], out_dir: Path, args, tracker=None) -> Dict:
    """Generate samples, write generated.txt, tunes/*.abc and (unless --no-audio) wavs/*.wav."""
    texts = _generate(model, vocab, args)
    generated = "\n\n".join(texts)
    atomic_write_text(out_dir / "generated.txt", generated + "\n")
    tunes = [tune for text in texts for tune in extract_song_snippet(text)]
    for i, tune in enumerate(tunes):
        atomic_write_text(out_dir / "tunes" / f"tune_{i:02d}.abc", tune + "\n")
    if tracker is not None:
        tracker.log_text(generated, name="generated.txt")
    summary = {"generated_chars": sum(len(t) for t in texts), "tunes": len(tunes)}
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
    for text in _generate(model, vocab, args):
        print(text, end="\n\n")
    return 0


def print_summary(summary: Dict) -> None:
    """Print a run summary, one fact a line."""
    print("\nSummary")
    for key, value in summary.items():
        if key == "not_playable":
            for name, reason in value.items():
                print(f"  {name}: not playable ({reason})")
            continue
        print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")
