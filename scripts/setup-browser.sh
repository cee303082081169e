#!/usr/bin/env bash
# What the browser test needs beyond `make setup` (called by `make test-browser`; safe to re-run):
# Debian's chromium (apt-get, as root) and the `browser` extra of pyproject.toml (Playwright's
# Python driver, which drives that chromium: nothing downloads a browser of its own).
# Kept out of `make setup`: chromium is about 300 MB installed and students never need it.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
export PIP_DISABLE_PIP_VERSION_CHECK=1

if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  :
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 900 apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; then
    timeout 300 apt-get update -q >/dev/null 2>&1 || true
    timeout 900 apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
      || { echo "apt-get could not install chromium." >&2; exit 1; }
  fi
else
  echo "chromium not found and not root: install it first (sudo apt-get install chromium)." >&2
  exit 1
fi

# The extra's packages only, read from pyproject.toml: labutils itself stays installed as it is.
# (tomllib is Python 3.11+; older Pythons read the file with the copy of tomli that pip carries.)
packages=$("$VENV/bin/python" - <<'EOF'
try:
    import tomllib
except ImportError:
    from pip._vendor import tomli as tomllib
with open("pyproject.toml", "rb") as file:
    print("\n".join(tomllib.load(file)["project"]["optional-dependencies"]["browser"]))
EOF
)
echo "Installing the browser driver: $(echo $packages)"
mapfile -t specs <<<"$packages"
# (pip's one warning per missing local index folder on some machines is left out, as in setup.sh)
"$VENV/bin/python" -m pip install -q "${specs[@]}" 2> >(grep -v -e "^WARNING: Location" >&2)
echo "Browser set-up done: $(chromium --version 2>/dev/null)"
