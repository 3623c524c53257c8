"""Defaults that configs and pipeline files read without importing the models (or torch)."""

DEFAULT_BEAM_SIZE = 5  # every caption decode that is not told a beam size (1 is greedy)
