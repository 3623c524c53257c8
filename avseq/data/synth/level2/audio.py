"""Soundtrack of a :class:`~avseq.data.synth.level2.world.Level2Scene`.

Each object has one voice for the clip (level 1's timbres, :func:`~avseq.data.synth.audio.draw_voice`),
and every contact of its events sounds as level 1's :func:`~avseq.data.synth.audio.impact_sound`,
starting on the exact sample of its frame, so the sounds of overlapping events overlap. Objects in
the back lane sound quieter (0.7); a hammer hits harder than a stick and adds a dull knock of
its own head. Under it all lies an ambience bed (room tone with mains hum, wind, rain or street)
and off-screen sounds (bird chirps, distant knocks, beeps), none of which the picture shows.
The mix is scaled down as a whole when its peak would pass 0.95.
"""

from __future__ import annotations

import numpy as np

from avseq.data.synth.audio import FADE_OUT_S, Voice, draw_voice, impact_sample, impact_sound
from avseq.data.synth.level2.looks import OffscreenSound, Soundscape
from avseq.data.synth.level2.world import Level2Scene

LANE_GAIN = (0.7, 1.0)
HAMMER_GAIN = 1.3
_HAMMER_HEAD = Voice("wood", 180.0, 0.02)


def _shaped_noise(
    rng: np.random.Generator, n: int, sample_rate: int, alpha: float, band: tuple[float, float]
) -> np.ndarray:
    """(n,) noise of unit std with power ~ f^-alpha inside ``band`` (Hz), nothing outside."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sample_rate)
    inside = (f >= band[0]) & (f <= min(band[1], 0.45 * sample_rate))
    spectrum *= np.where(inside, (np.maximum(f, band[0]) / band[0]) ** (-alpha / 2), 0.0)
    wave = np.fft.irfft(spectrum, n)
    return wave / max(float(wave.std()), 1e-12)


def _slow(rng: np.random.Generator, n: int, sample_rate: int, every_s: float) -> np.ndarray:
    """(n,) smooth random curve in [0, 1] with a new value every ``every_s`` seconds."""
    keys = rng.uniform(0, 1, int(n / sample_rate / every_s) + 2)
    return np.interp(np.arange(n) / sample_rate / every_s, np.arange(len(keys)), keys)


def ambience(kind: str, level: float, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) ambience bed of ``kind`` (looks.AMBIENCES) with std about ``level``."""
    if level <= 0 or n == 0:
        return np.zeros(n)
    t = np.arange(n) / sample_rate
    if kind == "room":
        mains = 50.0 if rng.random() < 0.5 else 60.0
        hum = np.sin(2 * np.pi * mains * t) + 0.5 * np.sin(2 * np.pi * 2 * mains * t + rng.uniform(0, 6.3))
        wave = _shaped_noise(rng, n, sample_rate, 1.0, (40.0, 4000.0)) + 0.6 * hum
    elif kind == "wind":
        wave = _shaped_noise(rng, n, sample_rate, 2.0, (20.0, 900.0)) * (
            0.3 + 1.4 * _slow(rng, n, sample_rate, 1.5)
        )
    elif kind == "rain":
        wave = _shaped_noise(rng, n, sample_rate, 0.0, (800.0, 7000.0))
        drops = np.zeros(n)
        drops[rng.integers(0, n, int(20 * n / sample_rate))] = rng.uniform(
            -2.5, 2.5, int(20 * n / sample_rate)
        )
        wave += np.convolve(drops, np.exp(-np.arange(40) / 6.0), mode="same")
    else:  # street: a low rumble with cars passing
        wave = _shaped_noise(rng, n, sample_rate, 2.0, (30.0, 1500.0)) * (
            0.4 + 1.2 * _slow(rng, n, sample_rate, 4.0) ** 2
        )
    return level * wave / max(float(wave.std()), 1e-12)


def _offscreen(sound: OffscreenSound, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One off-screen sound, from its start: a few chirps, two or three distant knocks, or a beep or two."""
    sr = sample_rate
    if sound.kind == "chirp":
        parts = []
        for _ in range(int(rng.integers(3, 7))):
            length = int(rng.uniform(0.04, 0.09) * sr)
            f = np.linspace(rng.uniform(2000, 3500), rng.uniform(2500, 4200), length)
            env = np.sin(np.linspace(0, np.pi, length)) ** 2
            parts += [
                0.25 * env * np.sin(2 * np.pi * np.cumsum(f) / sr),
                np.zeros(int(rng.uniform(0.04, 0.08) * sr)),
            ]
        wave = np.concatenate(parts)
    elif sound.kind == "knock":
        voice = Voice("wood", float(rng.uniform(140, 260)), 0.03)
        gap = int(rng.uniform(0.15, 0.25) * sr)
        knocks = int(rng.integers(2, 4))
        wave = np.zeros(gap * knocks + int(0.1 * sr))
        for k in range(knocks):
            wave[k * gap : k * gap + int(0.1 * sr)] += 0.3 * impact_sound(voice, 1.0, sr, int(0.1 * sr), rng)
        wave = np.convolve(wave, np.ones(8) / 8, mode="same")  # far away: duller
    else:
        parts = []
        freq = rng.uniform(800, 2000)
        for _ in range(int(rng.integers(1, 3))):
            length = int(rng.uniform(0.12, 0.25) * sr)
            ramp = np.clip(np.minimum(np.arange(length), np.arange(length)[::-1]) / (0.005 * sr), 0, 1)
            parts += [
                0.12 * ramp * np.sin(2 * np.pi * freq * np.arange(length) / sr),
                np.zeros(int(0.1 * sr)),
            ]
        wave = np.concatenate(parts)
    return sound.strength * wave


def _add(wave: np.ndarray, start: int, sound: np.ndarray) -> None:
    end = min(len(wave), start + len(sound))
    if start < end:
        wave[start:end] += sound[: end - start]


def render_audio(scene: Level2Scene, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mono soundtrack: (N,) float32 in [-1, 1] with N = num_frames / fps * sample_rate."""
    n = int(round(scene.num_frames / scene.fps * sample_rate))
    wave = np.zeros(n)
    voices = [draw_voice(rng, obj.material) for obj in scene.objects]
    for event in scene.events:
        voice = voices[event.obj]
        gain = LANE_GAIN[scene.lanes[event.obj]] * (HAMMER_GAIN if event.actor == "hammer" else 1.0)
        for frame, strength in zip(event.contacts, event.motion.strengths, strict=True):
            start = impact_sample(frame, scene.fps, sample_rate)
            length = min(n - start, int(8 * voice.decay * sample_rate) + 1)
            if length <= 0:
                continue
            _add(wave, start, gain * impact_sound(voice, strength, sample_rate, length, rng))
            if event.actor == "hammer":
                head = min(length, int(0.2 * sample_rate))
                _add(wave, start, 0.4 * strength * impact_sound(_HAMMER_HEAD, 1.0, sample_rate, head, rng))
    sounds: Soundscape = scene.sounds
    wave += ambience(sounds.ambience, sounds.level, n, sample_rate, rng)
    for sound in sounds.offscreen:
        _add(wave, int(round(sound.time * sample_rate)), _offscreen(sound, sample_rate, rng))
    fade = min(n, int(FADE_OUT_S * sample_rate))
    wave[n - fade :] *= np.cos(np.linspace(0, np.pi / 2, fade)) ** 2
    peak = float(np.abs(wave).max()) if n else 0.0
    if peak > 0.95:
        wave *= 0.95 / peak
    return wave.astype(np.float32)
