"""Checkpoints written atomically and loaded back, with clear errors for files that are not ones."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import torch

from labutils.files import atomic_write_bytes

PathLike = Union[str, Path]


def save_checkpoint(path: PathLike, model, optimizer=None, *, step: int = 0, history=(), params=None,
                    numpy_rng_state=None, torch_rng_state=None, vocab: Optional[Sequence[str]] = None,
                    extra: Optional[Dict] = None) -> Path:
    """Save model, optimizer, step, history and random state so training can resume exactly."""
    ckpt = {
        "model_config": model.config(),
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "step": step,
        "history": list(history),
        "params": dict(params or {}),
        "numpy_rng_state": numpy_rng_state,
        "torch_rng_state": torch_rng_state,
    }
    if vocab is not None:
        ckpt["vocab"] = list(vocab)
    ckpt.update(extra or {})
    return atomic_write_bytes(path, lambda handle: torch.save(ckpt, handle))


def load_checkpoint(path: PathLike, device="cpu") -> Dict:
    """Load a checkpoint dict written by save_checkpoint, with a clear error if it is not one.

    Only tensors and plain values (dict, list, str, numbers) are read (torch.load with
    weights_only=True): a file that holds other Python objects is refused, so a checkpoint
    from elsewhere cannot run code when it is opened.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {str(path)!r}.")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        if "global" not in str(error).lower():  # no Python object refused: a file that is no pickle at all
            raise ValueError(f"{str(path)!r} is not a readable checkpoint (not a torch.save file)") from error
        # weights_only met something that is not a tensor or a plain value
        raise ValueError(f"{str(path)!r} holds Python objects besides tensors and plain values, so it was not "
                         "opened (labutils loads checkpoints with weights_only=True; one it wrote loads)") from error
    except Exception as error:  # torch raises several types for a corrupt file
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{str(path)!r} is not a readable checkpoint: {first}") from error
    if not isinstance(ckpt, dict) or "model_state" not in ckpt:
        raise ValueError(f"{str(path)!r} is not a labutils checkpoint (no model_state).")
    return ckpt


def usable_weights(ckpt: Dict) -> Dict:
    """The weights to sample and evaluate with: the moving average when training last kept it."""
    if ckpt.get("ema_state") and ckpt.get("kept") == "average":
        return {k[len("module."):]: v for k, v in ckpt["ema_state"].items() if k.startswith("module.")}
    return ckpt["model_state"]


def model_from_checkpoint(path: PathLike, device="cpu") -> Tuple[torch.nn.Module, list]:
    """Rebuild (model, vocab) from a checkpoint, in eval mode on `device` (averaged weights if kept)."""
    from labutils.model import LSTMModel

    ckpt = load_checkpoint(path, device)
    config = ckpt.get("model_config")
    if not isinstance(config, dict):
        raise ValueError(f"{str(path)!r} has no model_config (the model's sizes), so the model cannot be "
                         "rebuilt: use a checkpoint written by labutils (save_checkpoint, train, run)")
    try:
        model = LSTMModel(**config).to(device)
        model.load_state_dict({k: v.float() for k, v in usable_weights(ckpt).items()})
    except (TypeError, RuntimeError, KeyError) as error:
        first = str(error).strip().splitlines()[0]
        raise ValueError(f"{str(path)!r}: its weights do not fit its model_config ({first})") from error
    model.eval()
    if "vocab" in ckpt:
        vocab = list(ckpt["vocab"])
    else:
        from labutils.corpus import lab_vocab

        vocab = lab_vocab()[0]
    return model, vocab
