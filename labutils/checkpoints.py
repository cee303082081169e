"""Checkpoints written atomically and loaded back, with clear errors for files that are not ones."""
from __future__ import annotations

import pickle
import zipfile
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


def check_archive(path: Path) -> None:
    """Refuse, before torch.load reads it, a file that is no zip-format torch.save file, or whose entries would
    unpack to more bytes than the file holds (torch.save stores them uncompressed: a compressed 1 MB file
    could make torch allocate gigabytes)."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise ValueError(f"{str(path)!r} is not a readable checkpoint (not a torch.save file)") from error
    if unpacked > size:
        raise ValueError(f"{str(path)!r} is not a checkpoint labutils opens: its {size:,} bytes would unpack to "
                         f"{unpacked:,} (torch.save writes its data uncompressed), so it was not read")


def load_checkpoint(path: PathLike, device="cpu") -> Dict:
    """Load a checkpoint dict written by save_checkpoint, with a clear error if it is not one.

    Only tensors and plain values (dict, list, str, numbers) are read (torch.load with
    weights_only=True): a file that holds other Python objects is refused, so a checkpoint
    from elsewhere cannot run code when it is opened.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {str(path)!r}.")
    check_archive(path)
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


def check_shapes(config: Dict, weights: Dict, path: PathLike) -> None:
    """The model `config` describes has exactly the weights' names and shapes, checked on the meta device
    (nothing allocated: a small file claiming hidden_size=8000 costs nothing); ValueError if not."""
    from labutils.model import LSTMModel

    try:
        with torch.device("meta"):
            shell = LSTMModel(**config)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{str(path)!r}: its model_config does not describe a model ({first})") from error
    expected = {name: tuple(tensor.shape) for name, tensor in shell.state_dict().items()}
    found = {name: tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
             for name, tensor in weights.items()}
    if expected != found:
        name = next(n for n in sorted(set(expected) | set(found), key=str) if expected.get(n) != found.get(n))
        raise ValueError(f"{str(path)!r}: its weights do not fit its model_config ({name}: the config makes "
                         f"{expected.get(name, 'no such weight')}, the file holds {found.get(name, 'none')})")


def checkpoint_vocab(ckpt: Dict, size: int, path: PathLike) -> list:
    """The checkpoint's vocabulary, checked: single characters, one per output of its model (`size`).

    A checkpoint without one gets the lab's, as before, unless its model has more outputs than the
    lab has characters (sampling would then pick characters that do not exist)."""
    if "vocab" not in ckpt:
        from labutils.corpus import lab_vocab

        vocab = lab_vocab()[0]
        if size > len(vocab):
            raise ValueError(f"{str(path)!r} has no vocabulary and its model has {size} outputs, more than the "
                             f"lab's {len(vocab)} characters: save the checkpoint with its vocab")
        return vocab
    vocab = ckpt["vocab"]
    if not isinstance(vocab, (list, tuple)):
        raise ValueError(f"{str(path)!r}: its vocab is a {type(vocab).__name__}, not a list of characters")
    for index, entry in enumerate(vocab):
        if not isinstance(entry, str) or len(entry) != 1:
            raise ValueError(f"{str(path)!r}: its vocabulary must hold single characters, but entry {index} is "
                             f"{repr(entry)[:40]}")
    if len(vocab) != size:
        raise ValueError(f"{str(path)!r}: its vocabulary has {len(vocab)} characters but its model has {size} "
                         "outputs (vocab_size)")
    return list(vocab)


def model_from_checkpoint(path: PathLike, device="cpu") -> Tuple[torch.nn.Module, list]:
    """Rebuild (model, vocab) from a checkpoint, in eval mode on `device` (averaged weights if kept).

    Sizes are checked before anything is allocated: the config against the weights' shapes, the
    vocabulary against the model's outputs; each mismatch is a ValueError of one line."""
    from labutils.model import LSTMModel

    ckpt = load_checkpoint(path, device)
    config = ckpt.get("model_config")
    if not isinstance(config, dict):
        raise ValueError(f"{str(path)!r} has no model_config (the model's sizes), so the model cannot be "
                         "rebuilt: use a checkpoint written by labutils (save_checkpoint, train, run)")
    weights = usable_weights(ckpt)
    if not isinstance(weights, dict):
        raise ValueError(f"{str(path)!r}: its model_state is a {type(weights).__name__}, not a dict of weights")
    check_shapes(config, weights, path)
    vocab = checkpoint_vocab(ckpt, config.get("vocab_size"), path)
    try:
        model = LSTMModel(**config).to(device)
        model.load_state_dict({k: v.float() for k, v in weights.items()})
    except (TypeError, RuntimeError, KeyError) as error:
        first = str(error).strip().splitlines()[0]
        raise ValueError(f"{str(path)!r}: its weights do not fit its model_config ({first})") from error
    model.eval()
    return model, vocab
