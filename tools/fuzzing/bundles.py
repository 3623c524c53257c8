"""Tiny random-init stand-ins for the bundled synth-caption / synth-sound models (when absent)."""

from __future__ import annotations

from pathlib import Path

FPS = 4.0
MEL = {"name": "tiny", "sample_rate": 8000, "n_fft": 256, "hop_length": 128, "n_mels": 16}
ENCODER = {"name": "compact", "out_dim": 8, "width": 4, "depth": 2}
PREPROCESSING = {"frame_size": [16, 16], "fps": FPS, "frame_transform": "fit"}
WANTED = {"caption": "synth-caption", "sound": "synth-sound"}


def tiny_bundles(folder: Path, seed: int = 0) -> dict[str, Path]:
    """{"caption": folder, "sound": folder}: random-init bundles with 16x16 frames at 4 fps."""
    import torch

    from avseq.bundles import save_bundle
    from avseq.models import Tokenizer, build_system

    rate = MEL["sample_rate"] / MEL["hop_length"]
    sound = {
        "kind": "sound",
        "encoder": ENCODER,
        "model": {
            "n_mels": MEL["n_mels"],
            "video_fps": FPS,
            "mel_frame_rate": rate,
            "hidden_size": 8,
            "num_layers": 1,
        },
    }
    tok = Tokenizer.build(["a red ball bounces", "a blue cube slides", "two balls roll"])
    caption = {
        "kind": "caption",
        "encoder": ENCODER,
        "model": {"vocab_size": len(tok), "hidden_size": 8, "embed_dim": 8},
    }
    torch.manual_seed(seed)
    out = {}
    for kind, config, extra in (("sound", sound, {"mel": MEL}), ("caption", caption, {})):
        target = folder / f"tiny-{kind}"
        if not (target / "bundle.json").is_file():
            system = build_system(config)
            save_bundle(
                target,
                system,
                {**PREPROCESSING, **extra},
                tokenizer=tok if kind == "caption" else None,
                version="fuzz-1",
            )
        out[kind] = target
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
