"""Corpus IO, evaluation, features and training of the candidate classifier."""
