"""Deferring NLTK, which medspaCy imports and DermCoder never runs.

`import medspacy` (any of its submodules) imports QuickUMLS, whose first line is
`import nltk`: ~2.4 s of a ~4.5-5 s cold start (NLTK pulls scipy.stats and its taggers and
chunkers). QuickUMLS only reads `nltk.corpus` when a QuickUMLS matcher is built, which
DermCoder never does. `defer_nltk` registers a stand-in module: the first read of an
attribute it lacks (`nltk.corpus`, `nltk.__path__` for a submodule import, ...) runs the
real import, puts the real module in sys.modules and answers from it, so code that does
use NLTK gets NLTK, only later. (importlib's LazyLoader does not help on Python 3.11:
the `import nltk` statement itself reads the module's attributes and loads it.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


class _DeferredModule(types.ModuleType):
    """Stands in for a module until one of its attributes is needed."""

    def __getattr__(self, name: str):  # only for attributes the stand-in does not have
        real = sys.modules.get(self.__name__)
        if real is None or real is self:
            sys.modules.pop(self.__name__, None)
            real = importlib.import_module(self.__name__)
        return getattr(real, name)


def defer_nltk() -> bool:
    """Register NLTK as a deferred module unless it is imported already or missing; True if deferred."""
    if "nltk" in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec("nltk")
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    stand_in = _DeferredModule("nltk")
    stand_in.__spec__ = None  # the import statement reads __spec__; None = nothing being initialised
    sys.modules["nltk"] = stand_in
    return True
