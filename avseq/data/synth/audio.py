"""Sound of a :class:`~avseq.data.synth.world.Scene`: one modal "impact" per contact.

Each material has a timbre: a few damped partials plus a short noise burst.

- metal: long inharmonic ring (partials at 1, 2.76, 5.40, 8.93 x f0),
- wood: short low-mid knock,
- glass: high, fairly short ping,
- rubber: low thud with a falling pitch.

An impact starts at the exact sample of its contact frame (``frame / fps``)
and its amplitude grows with the impact strength (faster hits are louder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avseq.data.synth.world import Scene

ATTACK_S = 0.001
FADE_OUT_S = 0.03


@dataclass(frozen=True)
class Timbre:
    """Ranges a material's sound is drawn from (Hz, seconds) and its fixed partial layout."""

    f0: tuple[float, float]
    ratios: tuple[float, ...]
    amps: tuple[float, ...]
    decay: tuple[float, float]
    burst: float
    gain: float
    glide: float = 0.0
    burst_smooth: int = 1  # moving-average length (samples) that darkens the noise burst


TIMBRES: dict[str, Timbre] = {
    "metal": Timbre((600.0, 900.0), (1.0, 2.76, 5.40, 8.93), (1.0, 0.6, 0.4, 0.25), (0.45, 0.7), 0.15, 0.45),
    "wood": Timbre(
        (220.0, 360.0), (1.0, 2.3, 3.9), (1.0, 0.5, 0.3), (0.025, 0.045), 0.5, 0.9, burst_smooth=6
    ),
    "glass": Timbre((1800.0, 2600.0), (1.0, 2.32, 4.25), (1.0, 0.45, 0.2), (0.1, 0.16), 0.2, 0.55),
    "rubber": Timbre((70.0, 110.0), (1.0, 1.9), (1.0, 0.3), (0.05, 0.08), 0.35, 1.0, 0.35, burst_smooth=12),
}


@dataclass(frozen=True)
class Voice:
    """The sound of one object, fixed for the whole clip: f0 (Hz) and decay time (s)."""

    material: str
    f0: float
    decay: float


def draw_voice(rng: np.random.Generator, material: str) -> Voice:
    """Pick this clip's pitch and decay for ``material`` within its timbre's ranges."""
    timbre = TIMBRES[material]
    return Voice(material, float(rng.uniform(*timbre.f0)), float(rng.uniform(*timbre.decay)))


def impact_sound(
    voice: Voice, strength: float, sample_rate: int, length: int, rng: np.random.Generator
) -> np.ndarray:
    """One impact: (length,) float64, peak roughly ``gain * strength``."""
    timbre = TIMBRES[voice.material]
    t = np.arange(length) / sample_rate
    env = np.exp(-t / voice.decay) * np.clip(t / ATTACK_S, 0.0, 1.0)
    glide = 1.0 + timbre.glide * np.exp(-t / 0.03)
    wave = np.zeros(length)
    nyquist = 0.45 * sample_rate
    for ratio, amp in zip(timbre.ratios, timbre.amps, strict=True):
        freq = voice.f0 * ratio
        if freq >= nyquist:
            continue
        phase = 2 * np.pi * np.cumsum(freq * glide) / sample_rate
        wave += amp * np.sin(phase + rng.uniform(0, 2 * np.pi)) * env ** (1 + 0.3 * (ratio - 1))
    wave /= sum(timbre.amps)
    burst = rng.standard_normal(length) * np.exp(-t / 0.004)
    if timbre.burst_smooth > 1:
        k = timbre.burst_smooth
        burst = np.convolve(burst, np.ones(k) / np.sqrt(k), mode="same")
    return timbre.gain * strength * (wave + timbre.burst * burst)


def render_audio(scene: Scene, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mono soundtrack of ``scene``: (N,) float32 in [-1, 1] with N = num_frames / fps * sample_rate."""
    n = int(round(scene.num_frames / scene.fps * sample_rate))
    wave = np.zeros(n)
    voice = draw_voice(rng, scene.main.material)
    for impact in scene.impacts:
        start = impact_sample(impact.frame, scene.fps, sample_rate)
        if start >= n:
            continue
        length = min(n - start, int(8 * voice.decay * sample_rate) + 1)
        wave[start : start + length] += impact_sound(voice, impact.strength, sample_rate, length, rng)
    if scene.noise_level > 0:
        wave += scene.noise_level * rng.standard_normal(n)
    fade = min(n, int(FADE_OUT_S * sample_rate))
    wave[n - fade :] *= np.cos(np.linspace(0, np.pi / 2, fade)) ** 2  # no click where a ring is cut
    peak = float(np.abs(wave).max()) if n else 0.0
    if peak > 0.95:
        wave *= 0.95 / peak
    return wave.astype(np.float32)


def impact_sample(frame: int, fps: float, sample_rate: int) -> int:
    """Sample index at which the impact drawn on video frame ``frame`` starts."""
    return int(round(frame / fps * sample_rate))
