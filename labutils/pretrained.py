"""The trained models the steps after training use: the one shipped inside the package, the
checkpoint notebook 05 saved, or a quick one trained on the spot (`trained_model`)."""
from __future__ import annotations

from pathlib import Path
from typing import Tuple, Union

import torch

from labutils.checkpoints import load_checkpoint, model_from_checkpoint, usable_weights
from labutils.files import atomic_write_bytes, check_output

PathLike = Union[str, Path]
# The small model shipped for steps 6-8: the CPU default's model, with its lookback input (labutils.lookback),
# trained by `python -m labutils run` (benchmarks/tuning/README.md, round 8), float16, inference only
# (`python -m labutils export-model`).
PRETRAINED_PATH = Path(__file__).parent / "weights" / "lstm_small.pt"
# Where notebook 05 saves its checkpoint; later notebooks can load it ("mine").
STEP5_CHECKPOINT = Path("runs") / "05_training" / "checkpoint.pt"


def load_pretrained(device="cpu") -> Tuple[torch.nn.Module, list]:
    """The small model shipped with labutils (trained by `python -m labutils run`), and its vocab."""
    if not PRETRAINED_PATH.is_file():
        raise FileNotFoundError(f"The pretrained model is missing from the package: {PRETRAINED_PATH}.")
    return model_from_checkpoint(PRETRAINED_PATH, device)


def export_model(checkpoint: PathLike, out: PathLike = PRETRAINED_PATH, overwrite: bool = False) -> Path:
    """Write a small inference-only copy of a checkpoint (float16 weights, no optimizer) to `out`;
    an existing `out` is replaced only with overwrite=True (`export-model --force`)."""
    check_output(out, overwrite, inputs=[checkpoint], flag="--force (overwrite=True)")
    ckpt = load_checkpoint(checkpoint)
    if "vocab" not in ckpt:
        raise ValueError(f"{str(checkpoint)!r} has no vocabulary; export a checkpoint written by `labutils run`.")
    small = {
        "model_config": ckpt["model_config"],
        "model_state": {k: v.half() if v.is_floating_point() else v for k, v in usable_weights(ckpt).items()},
        "vocab": ckpt["vocab"],
        "step": ckpt["step"],
        "params": ckpt.get("params", {}),
        "history": [r for r in ckpt.get("history", []) if r.get("val_bpc") is not None],
    }
    return atomic_write_bytes(out, lambda handle: torch.save(small, handle))


def trained_model(choice: str = "pretrained", device="cpu", checkpoint: PathLike = STEP5_CHECKPOINT):
    """(model, vocab) for the steps after training, saying which model it is.

    choice: "pretrained" (the small model shipped with labutils), "mine" (the checkpoint
    notebook 05 saved) or "quick" (train a small model now with QUICK_PARAMS, sized for a CPU;
    tiny under LABUTILS_SMALL=1). A missing pretrained model or checkpoint falls back to
    the next option, with a message.
    """
    if choice not in ("pretrained", "mine", "quick"):
        raise ValueError(f"choice must be 'pretrained', 'mine' or 'quick', got {choice!r}.")
    if choice == "mine":
        if Path(checkpoint).is_file():
            model, vocab = model_from_checkpoint(checkpoint, device)
            print(f"Using your model from step 5: {checkpoint}")
            return model, vocab
        print(f"No checkpoint at {checkpoint} (run notebook 05 first): trying the pretrained model.")
        choice = "pretrained"
    if choice == "pretrained":
        if PRETRAINED_PATH.is_file():
            model, vocab = load_pretrained(device)
            config = model.config()
            lookback = config.get("lookback_bars", 0)
            print(f"Using the pretrained model shipped with labutils ({config['cell'].upper()}, "
                  f"hidden_size={config['hidden_size']}" + (f", reading the character {lookback} bars back: "
                                                             "labutils.lookback" if lookback else "") + ").")
            return model, vocab
        print("The pretrained model is not in this copy of labutils: training a quick one instead.")
    return _quick_model(device)


def _quick_model(device):
    """Train a small LSTM on the tune collection with QUICK_PARAMS (shrunk under LABUTILS_SMALL=1)."""
    from labutils.data import join_songs, load_training_data
    from labutils.model import LSTMModel
    from labutils.params import QUICK_PARAMS, maybe_small
    from labutils.text import build_vocab, vectorize_string
    from labutils.training_loop import train

    params = maybe_small(QUICK_PARAMS)
    songs_joined = join_songs(load_training_data())
    vocab, char2idx, _ = build_vocab(songs_joined)
    torch.manual_seed(0)
    model = LSTMModel(len(vocab), params["embedding_dim"], params["hidden_size"]).to(device)
    print(f"Training a quick model: {params['num_training_iterations']} steps, hidden_size="
          f"{params['hidden_size']} (its tunes are rougher than the pretrained model's).")
    train(model, vectorize_string(songs_joined, char2idx), params)
    model.eval()
    return model, vocab
