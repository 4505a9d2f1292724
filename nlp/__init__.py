"""spaCy/medspaCy pipeline: note text -> entities with context -> per-lesion frames."""

from dermcoder.nlp._lazy import defer_nltk

# before anything imports medspaCy (its QuickUMLS imports NLTK, which DermCoder never runs)
defer_nltk()
