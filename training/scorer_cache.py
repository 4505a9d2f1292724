"""The shipped scorer's parameters as JSON, cached per machine, so coding never imports scikit-learn.

Unpickling `model.joblib` needs scikit-learn (its classes are in the pickle), and importing
scikit-learn with the scipy.stats and pandas it pulls in was ~2 s of a ~5 s cold start (and
memory in every process). Scoring itself reads only a few arrays and vocabularies
(training/rowscore.py, `FastProba`): those are written once per machine, per artifact and
per installed scikit-learn, as JSON beside the ICD-10-CM index, and later starts read them
in a few milliseconds. JSON, not a pickle: a file in a user cache folder must not be able
to run code (the artifact itself is only unpickled after its hash is checked), and Python
writes every float with the digits that read back to the same double.

The key names the artifact's SHA-256 (checked against its card before anything is read),
the scikit-learn version that unpickled it, this format and the source of the modules
that compute the parameters and score with them: a change to any of them is a new file.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Callable

from dermcoder.coding.icd import cache_dir

# Bump when the layout of the cached JSON changes.
CACHE_FORMAT = 1
# The code whose output is cached: a change to either module is a new cache entry.
_SOURCES = ("rowscore.py", "model.py")


def _sources_digest() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _SOURCES:
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            digest.update(b"?" + name.encode())
    return digest.hexdigest()[:16]


def cache_path(model_sha256: str) -> Path:
    """Where the parameters of the artifact with this hash are kept on this machine."""
    try:
        sklearn = metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        sklearn = "none"
    return cache_dir() / f"scorer-v{CACHE_FORMAT}-{model_sha256[:24]}-sklearn{sklearn}-{_sources_digest()}.json"


def cached_parameters(model_sha256: str, build: Callable[[], dict | None]) -> dict | None:
    """The cached parameters of the artifact with hash `model_sha256`; on a miss `build()`
    computes them (with scikit-learn) and they are written atomically for later starts.
    None when `build` has none to give (a pipeline shape that needs the library)."""
    path = cache_path(model_sha256)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("model_sha256") == model_sha256:
            return data["parameters"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    built = build()
    if built is None:
        return None
    text = json.dumps({"model_sha256": model_sha256, "parameters": built})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # read-only home: this process scores from the parameters it just built
    # read back from the JSON like a later start, so the first start scores the same way
    return json.loads(text)["parameters"]
