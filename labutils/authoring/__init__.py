"""Authoring the lab: the student notebooks and the editions in other languages, built from solutions/.

    python -m labutils build-notebooks [--check] [--force]   # build.py
    python -m labutils translations update|check             # editions.py

Each module builds on those listed before it and imports none listed after it:

    sources.py      the folders, the solution notebooks, BuildError
    transforms.py   one notebook: the Colab header put in, solution regions turned into TODOs
    translation.py  a notebook's English prose (paragraphs, TODO hints, comments), and translating it
    catalogs.py     translations/<lang>/NN_*.yaml: look-up, what is missing, update, YAML
    editions.py     solutions/<lang>/ and notebooks/<lang>/; the `translations` command
    manifest.py     notebooks/.build-manifest.json: the files the build wrote
    build.py        the whole build, its --check, the `build-notebooks` command

The Colab header itself (REPO_URL, the badge, the set-up cell) is labutils/notebooks.py.
"""
from labutils.authoring import build, catalogs, editions, manifest, sources, transforms, translation

__all__ = ["build", "catalogs", "editions", "manifest", "sources", "transforms", "translation"]
