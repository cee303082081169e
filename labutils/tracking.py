"""Comet ML experiment tracking: online with an API key, offline (a zip to upload) without.

    with start_experiment(params, run_dir="runs/lstm") as tracker:
        tracker.log_metrics({"loss": loss}, step=step)
        tracker.log_audio("tune.wav", name="tune_0")

mode="auto" logs online when a key is given (argument or COMET_API_KEY), otherwise to
an offline zip that `comet upload <zip>` sends later; mode="disabled" does nothing.
comet_ml is imported only when an experiment starts, after its network-using extras
(error tracking, auto-logging, environment and git logging) are switched off.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Optional

from labutils.files import atomic_write_text

MODES = ("auto", "online", "offline", "disabled")

# Set (unless the user already set them) before comet_ml is imported: no Sentry error
# reports, no import hooks on torch, no announcements, and only warnings on the console.
QUIET_COMET_ENV = {
    "COMET_ERROR_TRACKING_ENABLE": "false",
    "COMET_DISABLE_AUTO_LOGGING": "1",
    "COMET_DISABLE_ANNOUNCEMENT": "true",
    "COMET_LOGGING_CONSOLE": "WARNING",
}

# Everything comet_ml would collect on its own is off: we log exactly what we call.
QUIET_EXPERIMENT_OPTIONS = dict(
    log_code=False,
    log_graph=False,
    auto_param_logging=False,
    auto_metric_logging=False,
    parse_args=False,
    auto_output_logging=False,
    log_env_details=False,
    log_env_gpu=False,
    log_env_cpu=False,
    log_env_host=False,
    log_env_network=False,
    log_env_disk=False,
    log_git_metadata=False,
    log_git_patch=False,
    auto_log_co2=False,
    display_summary_level=0,
)

_running_tracker = None  # the Tracker whose comet experiment is alive, if any


def default_offline_dir() -> Path:
    """Where offline zips go when no run_dir is given: <system temp>/cometml-runs."""
    return Path(tempfile.gettempdir()) / "cometml-runs"


def colab_or_env_api_key(name: str = "COMET_API_KEY") -> Optional[str]:
    """Return the Comet API key from a Colab secret or the environment, or None."""
    key = None
    try:
        from google.colab import userdata
    except ImportError:  # not in Colab
        userdata = None
    if userdata is not None:
        try:
            key = userdata.get(name)
        except Exception:  # SecretNotFoundError, NotebookAccessError, TimeoutException
            key = None
    key = key or os.environ.get(name)
    return key.strip() if key and key.strip() else None


def choose_mode(mode: str = "auto", api_key: Optional[str] = None) -> str:
    """Resolve mode="auto" to "online" (a key is known) or "offline"; check the others."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    key = api_key or os.environ.get("COMET_API_KEY")
    if mode == "online" and not key:
        raise ValueError(
            "mode='online' needs a Comet API key: pass api_key=... or set the "
            "COMET_API_KEY environment variable (in Colab: a secret named COMET_API_KEY). "
            "Without a key, use mode='offline' and upload the zip later."
        )
    if mode == "auto":
        return "online" if key else "offline"
    return mode


def _import_comet():
    """Import comet_ml with its network-using extras switched off and its console quiet."""
    quiet_console = "COMET_LOGGING_CONSOLE" not in os.environ  # the user did not choose a level
    for name, value in QUIET_COMET_ENV.items():
        os.environ.setdefault(name, value)
    import comet_ml

    if quiet_console:  # also quiet when comet_ml was imported before us
        logging.getLogger("comet_ml").setLevel(logging.WARNING)
    # comet_ml warns, whenever an experiment starts in Jupyter, that experiment.end() must be
    # called; our Tracker always ends its experiment (tracker.end(), or the with block), so
    # the warning only misleads students (notebook 05 ends it a few cells later).
    experiment_logger = logging.getLogger("comet_ml.experiment")
    if _drop_needs_end_warning not in experiment_logger.filters:
        experiment_logger.addFilter(_drop_needs_end_warning)
    return comet_ml


def _drop_needs_end_warning(record: logging.LogRecord) -> bool:
    return "you will need to call `experiment.end()`" not in record.getMessage()


COMET_HOST = "www.comet.com"
REACH_TIMEOUT_S = 3.0


def comet_reachable(timeout: float = REACH_TIMEOUT_S) -> bool:
    """Whether Comet's server answers a TCP connection within `timeout` seconds (comet_ml itself
    retries for ~30 s and prints tracebacks when there is no network)."""
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("COMET_URL_OVERRIDE") or f"https://{COMET_HOST}").hostname or COMET_HOST
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


# An offline zip keeps a copy of every logged file: beyond this many audio files it would hold
# the run folder's WAVs a second time, so offline experiments log the first few only.
MAX_OFFLINE_AUDIO = 4


class Tracker:
    """One Comet experiment (or nothing, in disabled mode); use it as a context manager."""

    def __init__(self, experiment=None, mode: str = "disabled", name: Optional[str] = None):
        self.experiment = experiment  # comet_ml experiment, None when disabled
        self.mode, self.name = mode, name
        self.audio_logged = 0
        self.url = getattr(experiment, "url", None) if mode == "online" else None
        self.offline_zip: Optional[Path] = None
        self.ended = experiment is None

    def log_metrics(self, metrics: dict, step: int) -> None:
        """Log numbers (floats, 0-d tensors) under their names at a training step."""
        if self.ended:
            return
        values = {}
        for name, value in metrics.items():
            try:
                values[name] = float(value)
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"metric {name!r} must be a number, got {type(value).__name__}: {value!r}"
                ) from error
        self.experiment.log_metrics(values, step=step)

    def log_text(self, text: str, name: Optional[str] = None, step: Optional[int] = None) -> None:
        """Log a text sample, e.g. generated ABC; name goes into its metadata."""
        if self.ended:
            return
        metadata = {"name": name} if name else None
        self.experiment.log_text(text, step=step, metadata=metadata)

    def log_audio(self, path_or_array, name: Optional[str] = None,
                  sample_rate: Optional[int] = None, step: Optional[int] = None) -> None:
        """Log an audio file (WAV, Ogg), or a numpy array of samples (then sample_rate is needed); offline, only
        the first MAX_OFFLINE_AUDIO (the files themselves stay where they are)."""
        if self.ended:
            return
        if self.mode == "offline" and self.audio_logged >= MAX_OFFLINE_AUDIO:
            if self.audio_logged == MAX_OFFLINE_AUDIO:
                print(f"Comet offline: the zip holds the first {MAX_OFFLINE_AUDIO} audio files only "
                      "(the others stay where they are, e.g. in the run folder's audio/).")
            self.audio_logged += 1
            return
        self.audio_logged += 1
        normalize = "PCM_16_BIT"
        if isinstance(path_or_array, (str, os.PathLike)):
            path_or_array = str(_existing_file(path_or_array, "audio"))
            name = name or Path(path_or_array).name
        else:
            import numpy as np

            if sample_rate is None:
                raise ValueError("sample_rate is needed to log an audio array, "
                                 "e.g. sample_rate=16000.")
            path_or_array = np.asarray(path_or_array)
            if not np.any(path_or_array):
                normalize = "OFF"  # comet_ml would divide by the peak, which is 0 in silence
            name = name or "audio.wav"
        self.experiment.log_audio(path_or_array, sample_rate=sample_rate, file_name=name,
                                  normalize_data=normalize, step=step)

    def log_image(self, path, name: Optional[str] = None, step: Optional[int] = None) -> None:
        """Log an image file, e.g. the loss plot PNG."""
        if self.ended:
            return
        path = _existing_file(path, "image")
        self.experiment.log_image(str(path), name=name or path.name, step=step)

    def end(self) -> None:
        """End this tracker's own experiment (once) and, offline, report where the zip is."""
        global _running_tracker
        if self.ended:
            return
        self.ended = True
        if _running_tracker is self:
            _running_tracker = None
        self.experiment.end()  # our own object, never comet_ml.end() (the "current" one)
        if self.mode == "offline":
            folder = Path(self.experiment.offline_directory)
            zips = sorted(folder.glob(f"{self.experiment.get_key()}*.zip"), key=os.path.getmtime)
            if zips:
                self.offline_zip = zips[-1]
                replaced = _replace_earlier_zip(self.offline_zip, self.name)
                print(f"Comet: offline experiment saved to {self.offline_zip}{replaced} — upload it with: "
                      f"comet upload {self.offline_zip}  (needs COMET_API_KEY)")
            else:
                print(f"Comet: the offline experiment ended but no zip was written in {folder}; "
                      "check that the folder is writable.")

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        self.end()
        return False  # never swallow the exception (or Ctrl-C)


OFFLINE_ZIPS = ".labutils-comet-zips.json"  # in an offline folder: {experiment name: the zip labutils wrote}


def _replace_earlier_zip(new_zip: Path, name: Optional[str]) -> str:
    """Delete the zip that the last offline experiment of this name wrote in this folder (a notebook
    cell run again) and record the new one; a zip labutils did not record is never touched.
    Returns the words to add to the saved message ('' when nothing was replaced)."""
    if not name:
        return ""
    record = new_zip.parent / OFFLINE_ZIPS
    try:
        written = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        written = {}
    earlier = written.get(name) if isinstance(written, dict) else None
    written = {**(written if isinstance(written, dict) else {}), name: new_zip.name}
    atomic_write_text(record, json.dumps(written, indent=1, sort_keys=True) + "\n")
    old = new_zip.parent / earlier if isinstance(earlier, str) and Path(earlier).name == earlier else None
    if old is None or old == new_zip or not old.is_file():
        return ""
    old.unlink()
    return f" (it replaces {old.name}, the earlier run of {name!r})"


def _existing_file(path, kind: str) -> Path:
    """Return path as a Path, or raise FileNotFoundError saying which file is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Cannot log {kind}: no file at {path}. Write the file first.")
    return path


def start_experiment(params: dict, api_key: Optional[str] = None,
                     project_name: str = "rnn-music-lab", mode: str = "auto", run_dir=None,
                     name: Optional[str] = None) -> Tracker:
    """Start a Comet experiment, log params; offline zips go to run_dir or <temp>/cometml-runs, where
    an experiment of the same `name` replaces the zip it wrote before (a notebook cell run again)."""
    global _running_tracker
    requested_mode, mode = mode, choose_mode(mode, api_key)
    if mode == "disabled":
        return Tracker(None, "disabled")
    try:
        comet_ml = _import_comet()
    except ImportError as error:
        if requested_mode == "auto":
            print("Comet: comet_ml is not installed, so this run is not tracked "
                  "(pip install comet_ml).")
            return Tracker(None, "disabled")
        raise ImportError(
            f"comet_ml is needed for mode={mode!r} tracking: pip install comet_ml "
            "(or use mode='disabled')."
        ) from error
    if _running_tracker is not None:
        # comet_ml runs one experiment per process and would cut the previous one short.
        print("Comet: ending the previous experiment first (one runs at a time).")
        _running_tracker.end()
    if mode == "online" and not comet_reachable():
        print(f"Comet: cannot reach {COMET_HOST} (no network?), so this run logs to an offline zip instead; "
              "upload it later with `comet upload`.")
        mode = "offline"
    if mode == "online":
        experiment = comet_ml.Experiment(api_key=api_key or os.environ.get("COMET_API_KEY"),
                                         project_name=project_name, **QUIET_EXPERIMENT_OPTIONS)
    else:
        offline_dir = Path(run_dir) if run_dir is not None else default_offline_dir()
        offline_dir.mkdir(parents=True, exist_ok=True)
        experiment = comet_ml.OfflineExperiment(project_name=project_name,
                                                offline_directory=str(offline_dir),
                                                **QUIET_EXPERIMENT_OPTIONS)
        # Offline runs get a name now, so comet_ml does not warn about naming it at upload.
        name = name or f"{project_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if name:
        experiment.set_name(name)
    if params:
        experiment.log_parameters(dict(params))
    tracker = Tracker(experiment, mode, name)
    _running_tracker = tracker
    if mode == "online" and not getattr(experiment, "alive", True):
        print("Comet: the online experiment could not start (see the message above), so this "
              "run is not tracked. Check the API key and the network, or use mode='offline'.")
    elif mode == "online":
        print(f"Comet: logging online to {tracker.url}")
    return tracker
