#!/usr/bin/env bash
# Creates .venv and installs everything the lab needs. Called by the Makefile on first use
# (and again when requirements.txt or pyproject.toml change); safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
# A CPU build of torch by default: CI and laptops need no multi-GB CUDA download.
# Elsewhere set TORCH_SPEC (e.g. "torch") or TORCH_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu).
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-}
export PIP_DISABLE_PIP_VERSION_CHECK=1

pip_quiet() {
  # pip prints one warning per missing local index folder on some machines, and (on a re-run) that
  # mitdeeplearning's own dependencies are missing, which is on purpose: keep real errors only.
  "$VENV/bin/python" -m pip install -q "$@" 2> >(grep -v -e "^WARNING: Location" \
    -e "^ERROR: pip's dependency resolver does not currently" -e "^mitdeeplearning [0-9.]* requires " >&2)
}

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "Installing $TORCH_SPEC"
  if [ -n "$TORCH_INDEX_URL" ]; then
    pip_quiet "$TORCH_SPEC" --index-url "$TORCH_INDEX_URL"
  else
    pip_quiet "$TORCH_SPEC"
  fi
fi


echo "Installing labutils (editable) and its dependencies (requirements.txt, pyproject.toml)"
pip_quiet -r requirements.txt

# The tune collection ships inside mitdeeplearning, whose build needs pkg_resources
# (setuptools < 81). We install it without its dependencies (TensorFlow, ...) and only
# ever read its data/irish.abc file.
if ! "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('mitdeeplearning') is None)"; then
  echo "Installing the tune data (mitdeeplearning==0.7.5, without its dependencies)"
  pip_quiet "setuptools<81" wheel
  pip_quiet --no-deps --no-build-isolation mitdeeplearning==0.7.5
fi

# Audio and sheet-music tools, and bubblewrap (the grader's sandbox, Linux). Optional: without them labutils uses its pure-Python path.
# fluid-soundfont-gm is the sound font Debian's timidity config names: with freepats alone
# timidity reports a config error and pauses 1 s on every call.
APT_PACKAGES="abcmidi timidity fluid-soundfont-gm abcm2ps bubblewrap"
if command -v abc2midi >/dev/null && command -v abcm2ps >/dev/null && command -v timidity >/dev/null \
    && { command -v bwrap >/dev/null || [ "$(uname)" != Linux ]; } \
    && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; then
  :
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing $APT_PACKAGES with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 apt-get install -y -q --no-install-recommends $APT_PACKAGES >/dev/null 2>&1; then
    timeout 300 apt-get update -q >/dev/null 2>&1 || true
    timeout 600 apt-get install -y -q --no-install-recommends $APT_PACKAGES >/dev/null 2>&1 \
      || echo "apt-get could not install $APT_PACKAGES: using the pure-Python audio path."
  fi
else
  echo "abc2midi/abcm2ps/timidity's sound font not found and not root: labutils uses its pure-Python path (music21 + numpy synth)."
  echo "  For the faster path: sudo apt-get install $APT_PACKAGES"
fi
echo "Set-up done."
