"""Trained artifacts, each in its own folder with a model card (meta.json)."""
