"""The autograder zip on a bare system: a fresh Debian root made with debootstrap stands in for Gradescope's
image; the zip's setup.sh runs in it as root (chroot), then run_autograder grades a solution notebook.

Slow (`make test-slow`): minutes, and downloads. Skipped with the reason without root, debootstrap or the
package mirrors. The bare root, apt's and pip's downloads are kept between runs in
$LABUTILS_DEBOOTSTRAP_CACHE (default /var/cache/labutils-tests), outside the repository; each run starts
from a fresh copy of the bare root.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from test_gradescope import validate
from test_grading import FULL, HEADER, solution_source, write_notebook

from labutils.grading import gradescope, sandbox

CACHE = Path(os.environ.get("LABUTILS_DEBOOTSTRAP_CACHE", "/var/cache/labutils-tests"))
SUITE = "bookworm"  # Debian 12: its Python refuses a system-wide pip install (PEP 668), as Ubuntu 24.04's does
TORCH_INDEX = "https://download.pytorch.org/whl/cpu/torch/"  # setup.sh's default source of the CPU torch
# where a machine that cannot reach it keeps its wheels (pip's find-links), a CPU torch among them
LOCAL_WHEELS = Path((os.environ.get("PIP_FIND_LINKS", "").split() or ["/nonexistent"])[0])


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10):
            return True
    except OSError:
        return False


def _debian_mirror() -> str:
    """The Debian mirror this machine's apt uses ('' when none is found: debootstrap's default)."""
    for source in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))]:
        text = source.read_text(errors="replace") if source.is_file() else ""
        found = re.search(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s*)?)(\S+/debian)/?\s", text + "\n", re.M)
        if found:
            return found.group(1)
    return ""


def _why_not() -> str:
    """Why the test cannot run here ('' when it can)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root (debootstrap, chroot and mounts)"
    for program in ("debootstrap", "chroot", "unshare", "mount"):
        if shutil.which(program) is None:
            return f"needs {program} (apt-get install debootstrap)"
    mirror = _debian_mirror()
    if mirror and not _reachable(f"{mirror}/dists/{SUITE}/Release"):
        return f"needs Debian's packages ({mirror} is not reachable)"
    index = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "pip", "--isolated"],
                           capture_output=True, timeout=120)  # pip's default index, as setup.sh's pip will use
    if index.returncode != 0:
        return "needs the Python package index (pip index versions pip --isolated failed)"
    return ""


pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "runs")]


def _bare_root() -> Path:
    """The cached bare Debian root, made once with debootstrap (about a minute and a half)."""
    base = CACHE / f"{SUITE}-minbase"
    if not (base / "etc" / "debian_version").exists():
        partial = CACHE / f"{SUITE}-minbase.part"
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        mirror = [_debian_mirror()] if _debian_mirror() else []
        subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(partial), *mirror], check=True,
                       capture_output=True, timeout=1800)
        partial.rename(base)
    return base


def _torch_settings() -> dict:
    """setup.sh's torch source: download.pytorch.org when reachable, else PyPI plus a local CPU wheel."""
    if _reachable(TORCH_INDEX):
        return {}
    if not list(LOCAL_WHEELS.glob("torch-*+cpu-*.whl")):
        pytest.skip(f"needs {TORCH_INDEX} or a CPU torch wheel in {LOCAL_WHEELS}")
    default_index = subprocess.run([sys.executable, "-c", "from pip._internal.models.index import PyPI; "
                                    "print(PyPI.simple_url)"], capture_output=True, text=True).stdout.strip()
    # PyPI's newest torch in the range is a CUDA build: pin the local CPU wheel's version instead
    version = sorted(LOCAL_WHEELS.glob("torch-*+cpu-*.whl"))[-1].name.split("-")[1]
    return {"TORCH_INDEX_URL": default_index, "PIP_FIND_LINKS": "/wheels",  # the wheel's dependencies from PyPI
            "TORCH_SPEC": f"torch=={version}"}


def _host_certificates(root: Path) -> dict:
    """This machine's CA bundle, copied into the root for pip (a network behind a TLS proxy needs it; elsewhere
    it holds the usual public authorities)."""
    for name in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if os.environ.get(name) and Path(os.environ[name]).is_file():
            bundle = Path(os.environ[name])
            break
    else:
        bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file():
        return {}
    shutil.copy(bundle, root / "etc" / "host-ca-bundle.crt")
    return {"PIP_CERT": "/etc/host-ca-bundle.crt"}


def _in_chroot(root: Path, command: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Run `command` (bash) as root in the chroot, with /proc, /dev, /sys and the download caches mounted in a
    private mount namespace (gone when it ends)."""
    caches = {"pip": "root/.cache/pip", "apt": "var/cache/apt/archives"}
    mounts = ['mount --bind "$R" "$R"',  # the root a mount point, as in a container: bwrap and unshare need one
              'mount -t proc proc "$R/proc"', 'mount --rbind /dev "$R/dev"', 'mount --rbind /sys "$R/sys"']
    for name, inside in caches.items():
        (CACHE / name).mkdir(parents=True, exist_ok=True)
        (root / inside).mkdir(parents=True, exist_ok=True)
        mounts.append(f'mount --bind "{CACHE / name}" "$R/{inside}"')
    if LOCAL_WHEELS.is_dir():
        (root / "wheels").mkdir(exist_ok=True)
        mounts.append(f'mount --bind -o ro "{LOCAL_WHEELS}" "$R/wheels"')
    settings = " ".join(f"{key}={value!r}" for key, value in env.items())
    script = "set -e; " + "; ".join(mounts) + f'; exec chroot "$R" /usr/bin/env -i {settings} /bin/bash -c {command!r}'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
                          env={"R": str(root), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, capture_output=True,
                          timeout=timeout)


def test_setup_sh_and_run_autograder_on_a_bare_debian(tmp_path):
    root = tmp_path / "debian"
    subprocess.run(["cp", "-a", str(_bare_root()), str(root)], check=True, timeout=600)
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    zip_path = tmp_path / "autograder.zip"
    assert gradescope.main(["--out", str(zip_path), "--timeout", "150", "--cell-timeout", "60",
                            "--total-timeout", "400"]) == 0
    autograder = root / "autograder"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(autograder / "source")
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
           **_host_certificates(root), **_torch_settings()}
    setup = _in_chroot(root, "cd /autograder/source && bash setup.sh", env, timeout=2400)
    output = (setup.stdout + setup.stderr).decode(errors="replace")
    assert setup.returncode == 0, output[-4000:]
    assert "labutils autograder ready" in output
    write_notebook(autograder / "submission" / "lab.ipynb", HEADER, solution_source())
    (autograder / "results").mkdir()
    run = _in_chroot(root, "bash /autograder/source/run_autograder", {"PATH": env["PATH"], "HOME": "/root"},
                     timeout=900)
    said = (run.stdout + run.stderr).decode(errors="replace")
    print(output[-1500:], said[-3000:], sep="\n")  # shown with -s
    if sandbox.detect().mode == "bwrap":  # namespaces work here: the bubblewrap setup.sh installed must too
        assert "Isolation: bwrap as root" in said, said[-3000:]
    results_file = autograder / "results" / "results.json"
    assert results_file.exists(), (run.stdout + run.stderr).decode(errors="replace")[-4000:]
    results = json.loads(results_file.read_text())
    validate(results)
    assert results["score"] == FULL, results["output"]
