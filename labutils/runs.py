"""A run folder: config, loss history (CSV), loss plot (PNG), generated text and tunes."""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from labutils.files import atomic_write_bytes, atomic_write_text

PathLike = Union[str, Path]


def new_run_dir(root: PathLike = "runs", name: Optional[str] = None) -> Path:
    """Create runs/<name> (default: a timestamp) without touching an existing folder."""
    root = Path(root)
    name = name or time.strftime("%Y%m%d-%H%M%S")
    run_dir = root / name
    if run_dir.exists():
        raise FileExistsError(
            f"Run folder {str(run_dir)!r} already exists. Pick another --name, or continue it with --resume {run_dir}."
        )
    run_dir.mkdir(parents=True)
    return run_dir


def write_json(path: PathLike, data: Dict) -> Path:
    """Write a JSON file atomically (sorted keys, indented)."""
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_history_csv(history: Sequence[Dict], path: PathLike) -> Path:
    """Write the loss history (step, loss, val_bpc, elapsed_s) as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["step", "loss", "val_bpc", "elapsed_s"], lineterminator="\n")
    writer.writeheader()
    for record in history:
        writer.writerow({k: ("" if record.get(k) is None else record[k]) for k in writer.fieldnames})
    return atomic_write_text(path, buffer.getvalue())


def training_phases(params: Dict, extra_tunes: int = 0) -> List[Tuple[int, str]]:
    """(step, what the training text gains or loses there) of a run, for the loss plot: where
    transposed copies (params["transpose_from"]) and extra tunes (extra_from, extra_until) start
    and stop. A batch of harder text raises the training loss there, not the held-out loss."""
    marks: Dict[int, List[str]] = {}
    if params.get("transpose") and params.get("transpose_from"):
        marks.setdefault(params["transpose_from"], []).append("+ transposed copies")
    if extra_tunes and params.get("extra_share"):
        if params.get("extra_from"):
            marks.setdefault(params["extra_from"], []).append("+ extra tunes")
        if params.get("extra_until") is not None:
            marks.setdefault(params["extra_until"], []).append("extra tunes end")
    total = params.get("num_training_iterations", 0)
    return [(step, ", ".join(names)) for step, names in sorted(marks.items()) if 0 < step < total]


def loss_figure(history: Sequence[Dict], title: str = "Training loss", phases: Sequence[Tuple[int, str]] = ()):
    """A matplotlib Figure: training loss (bits/char, smoothed) and held-out bits/char per step,
    with a dotted line at each of `phases` ((step, label), e.g. from `training_phases`)."""
    import math

    import matplotlib

    if not _in_notebook():
        matplotlib.use("Agg", force=False)  # headless: the CLI only saves PNGs
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    steps = [r["step"] for r in history]
    bits = [r["loss"] / math.log(2) for r in history]
    ax.plot(steps, bits, color="tab:blue", alpha=0.3, linewidth=0.8, label="training batch")
    window = max(1, len(bits) // 50)
    if window > 1:
        smooth = [sum(bits[max(0, i - window + 1): i + 1]) / len(bits[max(0, i - window + 1): i + 1])
                  for i in range(len(bits))]
        ax.plot(steps, smooth, color="tab:blue", label=f"training (mean of {window})")
    val = [(r["step"], r["val_bpc"]) for r in history if r.get("val_bpc") is not None]
    if val:
        ax.plot(*zip(*val), "o-", color="tab:orange", label="held-out tunes")
    for step, label in phases:
        ax.axvline(step, color="gray", linestyle=":", linewidth=1)
        ax.annotate(label, (step, 1), xycoords=("data", "axes fraction"), xytext=(3, -4),
                    textcoords="offset points", rotation=90, va="top", fontsize=8, color="dimgray")
    ax.set_xlabel("training step")
    ax.set_ylabel("bits per character")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value, not again when the cell ends
    return fig


def save_loss_plot(history: Sequence[Dict], path: PathLike, title: str = "Training loss",
                   phases: Sequence[Tuple[int, str]] = ()) -> Path:
    """Save the loss figure as a PNG, atomically."""
    import matplotlib.pyplot as plt

    fig = loss_figure(history, title, phases)
    try:
        return atomic_write_bytes(path, lambda handle: fig.savefig(handle, format="png", dpi=100))
    finally:
        plt.close(fig)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


class LiveLossPlot:
    """An on_step callback for `train` that redraws the loss plot in a notebook every `every` steps."""

    def __init__(self, every: int = 50):
        self.every = every
        self.handle = None

    def __call__(self, step: int, history: List[Dict]) -> None:
        if step % self.every and step != 1:
            return
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = loss_figure(history)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)
