"""Media fuzzing for avseq: seed clips, byte-level mutators, hand-made hostile cases, a run harness.

Used by ``tools/fuzz_media.py`` and by ``tests/hostile``. Nothing here is product code.
"""
