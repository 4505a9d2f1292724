"""spaCy/medspaCy pipeline: note text -> entities with context -> per-lesion frames."""
