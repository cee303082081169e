"""Tasks for the grader's pool in tests/test_grading_batch.py (a module light to import: the pool's processes are spawned)."""
import os
import signal
import time
from pathlib import Path

SECRET = "TOPSECRET-" + "x" * 40  # what no report, status or terminal line may ever show


def task(folder, name):
    """Dies by SIGKILL for 'doomed*' (always) and 'flaky*' (the first time), raises for 'buggy', sleeps for
    'slow', else returns its name."""
    mark = Path(folder) / name
    if name.startswith("doomed") or name.startswith("flaky") and not mark.exists():
        mark.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    if name == "buggy":
        raise KeyError(SECRET)
    if name == "slow":
        time.sleep(60)
    return name
