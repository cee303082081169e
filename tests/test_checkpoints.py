"""labutils.checkpoints: saved, loaded back, refused when not one, sizes checked before anything is allocated."""
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from labutils import checkpoints
from labutils.model import LSTMModel


def make_model():
    torch.manual_seed(0)
    return LSTMModel(12, 16, 32)


def test_checkpoint_round_trip_and_bad_file(tmp_path):
    model = make_model()
    checkpoints.save_checkpoint(tmp_path / "m.pt", model, vocab=list("abcdefghijkl"))
    loaded, vocab = checkpoints.model_from_checkpoint(tmp_path / "m.pt")
    assert vocab == list("abcdefghijkl") and not loaded.training
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "none.pt")


# --- sizes checked before anything is allocated ------------------------------------------------------


GENERATE = """import sys
from labutils import cli
try:
    status = cli.main(sys.argv[1:])
finally:  # this process's own peak (VmHWM: since exec, unlike ru_maxrss, which counts the parent's pages)
    peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
    print("peak-kB", peak, file=sys.__stdout__)
sys.exit(status)
"""


def _generate_peak_memory(checkpoint):
    """(peak resident MB, stderr) of `python -m labutils generate --checkpoint <checkpoint>` in a fresh process."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs /proc (Linux) to read a process's peak memory")
    done = subprocess.run([sys.executable, "-c", GENERATE, "generate", "--checkpoint", str(checkpoint),
                           "--length", "20", "--num-tunes", "1"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2, done.stderr
    peak = int(done.stdout.split("peak-kB")[-1].split()[0])
    return peak / 1024, done.stderr.strip()


def _compressed(source, out):
    """`source` (a torch.save zip) re-packed with its entries deflated, written in chunks."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as packed:
        for info in archive.infolist():
            with archive.open(info) as entry, packed.open(info.filename, "w", force_zip64=True) as target:
                shutil.copyfileobj(entry, target, 2**24)


def test_a_small_file_claiming_a_huge_model_is_refused_before_it_is_built(tmp_path):
    model = make_model()
    small = tmp_path / "claims_8000.pt"
    torch.save({"model_state": model.state_dict(), "model_config": {**model.config(), "hidden_size": 8000}}, small)
    peak, err = _generate_peak_memory(small)
    assert peak < 450, f"{peak:.0f} MB"  # the model it claims takes 1 GB
    assert len(err.splitlines()) == 1 and "do not fit its model_config" in err and "(12, 8000)" in err, err


def test_a_compressed_checkpoint_is_refused_before_it_is_unpacked(tmp_path):
    stored = tmp_path / "stored.pt"
    torch.save({"model_state": {"x": torch.empty(100_000_000)}, "model_config": {}}, stored)  # untouched: no RAM
    packed = tmp_path / "packed.pt"
    _compressed(stored, packed)
    stored.unlink()
    assert packed.stat().st_size < 2_000_000
    peak, err = _generate_peak_memory(packed)
    assert peak < 450, f"{peak:.0f} MB"  # unpacked: 400 MB more
    assert len(err.splitlines()) == 1 and "would unpack to 400,000," in err, err


@pytest.mark.parametrize("vocab, words", [(list("abcdefghijk") + ["lm"], "entry 11 is 'lm'"),
                                          (list("abcdefghijk"), "11 characters but its model has 12 outputs"),
                                          ("abcdefghijkl", "not a list of characters")])
def test_a_vocabulary_that_does_not_fit_the_model_is_one_line(tmp_path, vocab, words, capsys):
    from labutils import cli

    model = make_model()
    checkpoints.save_checkpoint(tmp_path / "m.pt", model, vocab=list("abcdefghijkl"))
    ckpt = torch.load(tmp_path / "m.pt", weights_only=True)
    torch.save({**ckpt, "vocab": vocab}, tmp_path / "m.pt")
    with pytest.raises(ValueError, match=re.escape(words)):
        checkpoints.model_from_checkpoint(tmp_path / "m.pt")
    assert cli.main(["generate", "--checkpoint", str(tmp_path / "m.pt"), "--length", "20", "--num-tunes", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err


def test_a_checkpoint_without_vocabulary_gets_the_labs_unless_its_model_is_wider(tmp_path):
    from labutils.corpus import lab_vocab

    for outputs, fits in ((12, True), (100, False)):
        model = LSTMModel(outputs, 4, 8)
        torch.save({"model_state": model.state_dict(), "model_config": model.config()}, tmp_path / "m.pt")
        if fits:
            assert checkpoints.model_from_checkpoint(tmp_path / "m.pt")[1] == lab_vocab()[0]
        else:
            with pytest.raises(ValueError, match="no vocabulary and its model has 100 outputs"):
                checkpoints.model_from_checkpoint(tmp_path / "m.pt")
