"""Saving and loading a component's data files with the pipeline (`nlp.to_disk`/`from_disk`).

Components read their data from the packaged `nlp/resources/` by default; a saved
pipeline carries its own copy, so it loads the data it was saved with.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dermcoder.nlp.lexicons import resources_dir


class ResourceBacked:
    """Mixin: `resource_files` are copied on to_disk and re-read on from_disk."""

    resource_files: tuple[str, ...] = ()
    resource_dir: Path

    def init_resources(self, directory: Path | None = None) -> None:
        self.resource_dir = Path(directory) if directory is not None else resources_dir()
        self.load_resources()

    def load_resources(self) -> None:  # pragma: no cover - each component overrides
        raise NotImplementedError

    def to_disk(self, path, exclude=()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for name in self.resource_files:
            shutil.copyfile(self.resource_dir / name, path / name)

    def from_disk(self, path, exclude=()):
        self.init_resources(Path(path))
        return self
