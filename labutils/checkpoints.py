"""Checkpoints written atomically and loaded back, with clear errors for files that are not ones."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import torch

PathLike = Union[str, Path]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: PathLike, write) -> Path:
    """Call write(file) on a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write text to `path` atomically (never leaves a half-written file)."""
    return atomic_write_bytes(path, lambda handle: handle.write(text.encode("utf-8")))


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
    """Load a checkpoint dict written by save_checkpoint, with a clear error if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {str(path)!r}.")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # torch raises several types for a corrupt file
        raise ValueError(f"{str(path)!r} is not a readable checkpoint: {error}") from error
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
    model = LSTMModel(**ckpt["model_config"]).to(device)
    model.load_state_dict({k: v.float() for k, v in usable_weights(ckpt).items()})
    model.eval()
    if "vocab" in ckpt:
        vocab = list(ckpt["vocab"])
    else:
        from labutils.text import lab_vocab

        vocab = lab_vocab()[0]
    return model, vocab
