"""Issue 18: nothing a user made is lost, every bad input ends in one clear line."""
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from labutils import cli

QUICK = ["--preset", "small", "--iterations", "4", "--eval-every", "2", "--checkpoint-every", "2",
         "--comet", "disabled", "--quiet"]


def one_line_error(capsys, *needles):
    """The captured stderr is one line holding every needle (no traceback)."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("argv", [["train", "--iteration", "10"], ["play", "x.abc", "--max-second", "3"],
                                  ["grade", "x", "--cell-time", "3"], ["build-notebooks", "--che"]])
def test_abbreviated_flags_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
