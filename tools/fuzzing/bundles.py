"""Tiny random-init stand-ins for the bundled synth-caption / synth-sound models (when absent)."""

from __future__ import annotations

from pathlib import Path

FPS = 4.0
MEL = {"name": "tiny", "sample_rate": 8000, "n_fft": 256, "hop_length": 128, "n_mels": 16}
ENCODER = {"name": "compact", "out_dim": 8, "width": 4, "depth": 2}
PREPROCESSING = {"frame_size": [16, 16], "fps": FPS, "frame_transform": "fit"}
WANTED = {"caption": "synth-caption", "sound": "synth-sound"}
CAPTIONS = ("a red ball bounces", "a blue cube slides", "two balls roll")


def save_random_bundle(
    folder: Path,
    config: dict,
    preprocessing: dict,
    *,
    tokenizer=None,
    seed: int = 0,
    version: str = "fuzz-1",
    meta: dict | None = None,
) -> Path:
    """Build ``config`` with random weights drawn from ``seed`` and save it as a bundle in ``folder``."""
    import torch

    from avseq.bundles import save_bundle
    from avseq.models import build_system

    torch.manual_seed(seed)
    system = build_system(config)
    return save_bundle(folder, system, preprocessing, tokenizer=tokenizer, version=version, meta=meta)


def tiny_bundles(
    folder: Path,
    *,
    version: str = "fuzz-1",
    words: tuple[str, ...] = CAPTIONS,
    sound_meta: dict | None = None,
) -> dict[str, Path]:
    """{"caption": folder, "sound": folder}: random-init bundles with 16x16 frames at 4 fps.

    ``words``: the captions the caption bundle's vocabulary is built from; ``sound_meta``:
    meta recorded in the sound bundle. Bundles already in ``folder`` are kept.
    """
    from avseq.models import Tokenizer

    sound = {
        "kind": "sound",
        "encoder": ENCODER,
        "model": {
            "n_mels": MEL["n_mels"],
            "video_fps": FPS,
            "mel_frame_rate": MEL["sample_rate"] / MEL["hop_length"],
            "hidden_size": 8,
            "num_layers": 1,
        },
    }
    tok = Tokenizer.build(list(words))
    caption = {
        "kind": "caption",
        "encoder": ENCODER,
        "model": {"vocab_size": len(tok), "hidden_size": 8, "embed_dim": 8},
    }
    out = {"sound": folder / "tiny-sound", "caption": folder / "tiny-caption"}
    if not (out["sound"] / "bundle.json").is_file():
        save_random_bundle(
            out["sound"], sound, {**PREPROCESSING, "mel": MEL}, version=version, meta=sound_meta
        )
    if not (out["caption"] / "bundle.json").is_file():
        save_random_bundle(out["caption"], caption, PREPROCESSING, tokenizer=tok, seed=1, version=version)
    return out


def bundle_overrides(folder: Path) -> tuple[list[str], str]:
    """--set overrides for caption_and_sound.yaml and a note saying which bundles are used.

    Uses the bundled synth-caption / synth-sound when installed, else tiny random-init ones
    written under ``folder``.
    """
    from avseq.bundles import list_bundled

    if set(WANTED.values()) <= set(list_bundled()):
        return [], "bundled synth-caption and synth-sound"
    made = tiny_bundles(folder)
    sets = [f"stages.{kind}.params.bundle={made[kind]}" for kind in ("caption", "sound")]
    return sets, f"synth-caption/synth-sound not installed: tiny random-init bundles in {folder}"
