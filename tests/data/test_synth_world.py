"""The synthetic world: determinism, disjoint splits, sound at the drawn contact, captions vs events."""

from __future__ import annotations

import dataclasses
import json
import re

import librosa
import numpy as np
import pytest

from avseq.data import SPLIT_SEEDS, SynthConfig, clip_seed, generate_split, read_manifest, render_clip
from avseq.data.synth.captions import COUNT_WORDS, MATERIAL_ADJECTIVES
from avseq.data.synth.world import COLOURS
from avseq.errors import ConfigError


def test_same_seed_gives_identical_frames_and_audio(tiny_config):
    a, b = render_clip(7, tiny_config), render_clip(7, tiny_config)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    assert a.captions == b.captions and a.events == b.events
    c = render_clip(8, tiny_config)
    assert a.frames.shape != c.frames.shape or not np.array_equal(a.frames, c.frames)
    assert a.audio.shape != c.audio.shape or not np.array_equal(a.audio, c.audio)


def test_clip_shapes_follow_config(tiny_config):
    clip = render_clip(3, tiny_config)
    t = clip.frames.shape[0]
    assert clip.frames.shape == (t, 32, 32, 3) and clip.frames.dtype == np.uint8
    assert 1.0 - 1 / 30 <= clip.duration <= 2.0 + 1 / 30
    assert clip.audio.shape == (round(t / 15 * 16000),) and np.abs(clip.audio).max() <= 1.0


def test_written_files_are_deterministic(tmp_path, tiny_config, decode_rgb, decode_mono):
    """Same seeds give the same decoded media, in one process or two, and match the rendered clip."""
    a = read_manifest(generate_split(tmp_path / "a", "val", 3, tiny_config, progress=False))
    b = read_manifest(generate_split(tmp_path / "b", "val", 3, tiny_config, progress=False, workers=2))
    for x, y in zip(a, b, strict=True):
        assert x.id == y.id and x.captions == y.captions and x.events == y.events
        assert np.array_equal(decode_rgb(x.path), decode_rgb(y.path))
        assert np.array_equal(decode_mono(x.path)[0], decode_mono(y.path)[0])
    assert not np.array_equal(decode_rgb(a[0].path)[:5], decode_rgb(a[1].path)[:5])
    rendered = render_clip(SPLIT_SEEDS["val"][0], tiny_config).frames.astype(float)
    written = decode_rgb(a[0].path).astype(float)
    assert written.shape == rendered.shape
    err = lambda i, j: np.abs(written[i] - rendered[j]).mean()  # noqa: E731
    moving = [i for i in range(1, len(rendered)) if np.abs(rendered[i] - rendered[i - 1]).mean() > 0.5]
    assert len(moving) > 5 and all(err(i, i) < err(i, i - 1) for i in moving)  # frame i is drawn at i / fps


def test_split_seed_ranges_are_disjoint_and_enforced(tmp_path, tiny_config):
    ranges = sorted(SPLIT_SEEDS.values())
    assert all(r0[1] <= r1[0] for r0, r1 in zip(ranges, ranges[1:], strict=False))
    ids = {s: {e.id for e in read_manifest(generate_split(tmp_path, s, 2, tiny_config, progress=False))}
           for s in SPLIT_SEEDS}  # fmt: skip
    assert ids["train"].isdisjoint(ids["val"]) and ids["val"].isdisjoint(ids["test"])
    assert ids["train"].isdisjoint(ids["test"])
    assert clip_seed("val", 3) == SPLIT_SEEDS["val"][0] + 3
    with pytest.raises(ConfigError, match=r"outside the val range"):
        clip_seed("val", 0, seed_offset=100_000)
    with pytest.raises(ConfigError, match=r"Invalid split 'dev'\. Supported: train, val, test"):
        clip_seed("dev", 0)


def test_event_times_match_audio_onsets_in_the_written_file(tiny_entries, decode_mono):
    """Each impact starts a sound at its frame time (within one video frame); no other onsets."""
    for entry in tiny_entries:
        wave, rate = decode_mono(entry.path)
        onsets = librosa.onset.onset_detect(y=wave, sr=rate, hop_length=64, units="time")
        times = np.array([e.time for e in entry.events])
        for t in times:
            assert np.min(np.abs(onsets - t)) <= 1 / entry.fps, (entry.id, t, onsets)
        assert onsets.min() >= times.min() - 1 / entry.fps, (entry.id, onsets)
        assert len(onsets) == len(times), (entry.id, onsets, times)  # and nothing else sounds


def _contact_gap(scene, i: int) -> float:
    """Pixels between the main object and what it hits (floor, wall or stick tip) at frame ``i``."""
    layout, r, tr = scene.layout, scene.main.radius, scene.main.track
    if scene.action == "bounce":
        return layout.floor_y - (tr.y[i] + r * tr.sy[i])
    if scene.action == "slide":
        wall = layout.left_wall if scene.direction == "left" else layout.right_wall
        return abs(tr.x[i] - wall) - r * tr.sx[i]
    return (tr.y[i] - r * tr.sy[i]) - scene.stick.tip_y[i]


def test_every_impact_is_drawn_as_contact(tiny_config):
    """At an impact frame the object touches floor, wall or stick; on the frame before it does not."""
    for seed in range(12):
        scene = render_clip(seed, tiny_config).scene
        for imp in scene.impacts:
            assert abs(_contact_gap(scene, imp.frame)) < 1e-6, (seed, scene.action, imp.frame)
            assert _contact_gap(scene, imp.frame - 1) > 0.5, (seed, scene.action, imp.frame)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text))


def test_captions_agree_with_events_and_attributes(tiny_config):
    config = SynthConfig(**{**tiny_config.__dict__, "min_duration": 3.0, "max_duration": 4.0})
    actions = set()
    for seed in range(40):
        clip = render_clip(seed, config)
        att = clip.attributes
        actions.add(att["action"])
        assert att["count"] == len(clip.events) >= 1
        distractor_colour = att["distractor"].split(" ")[0] if att["distractor"] else None
        assert len(set(clip.captions)) == len(clip.captions) == 3
        for cap in clip.captions:
            words = _words(cap)
            assert att["colour"] in words, cap
            assert {att["material"], MATERIAL_ADJECTIVES[att["material"]]} & words, cap
            assert att["shape"] in words, cap
            assert words & set(COLOURS) <= {att["colour"], distractor_colour}, cap
            if att["action"] != "slide" or "once" in words:
                assert COUNT_WORDS[att["count"]] in cap, (cap, att["count"])
            other_counts = {w for n, w in COUNT_WORDS.items() if n != att["count"]}
            assert not any(w in cap for w in other_counts), cap
            if att["action"] == "slide":
                assert att["direction"] in words and "wall" in words, cap
    assert actions == {"bounce", "slide", "struck"}


def test_bounce_intervals_shrink_and_louder_hits_are_faster(tiny_config):
    config = SynthConfig(
        **{**tiny_config.__dict__, "actions": ("bounce",), "min_duration": 4.0, "max_duration": 4.0}
    )
    seen_multi = 0
    for seed in range(10):
        clip = render_clip(seed, config)
        times = [e.time for e in clip.events]
        strengths = [e.strength for e in clip.events]
        gaps = np.diff(times)
        assert all(b <= a for a, b in zip(gaps, gaps[1:], strict=False)), times
        assert all(b <= a for a, b in zip(strengths, strengths[1:], strict=False)), strengths
        seen_multi += len(times) >= 3
    assert seen_multi >= 3


def test_generate_split_resumes_and_rejects_other_config(tmp_path, tiny_config):
    first = generate_split(tmp_path, "train", 2, tiny_config, progress=False)
    clip0 = tmp_path / "train" / "train_0000000.mp4"
    stamp = clip0.stat().st_mtime_ns
    manifest = generate_split(tmp_path, "train", 3, tiny_config, progress=False)
    assert manifest == first and clip0.stat().st_mtime_ns == stamp
    lines = [json.loads(x) for x in manifest.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["train_0000000", "train_0000001", "train_0000002"]
    assert lines[0]["path"] == "train/train_0000000.mp4"
    clip0.unlink()
    generate_split(tmp_path, "train", 3, tiny_config, silent_copy=True, progress=False)
    entries = read_manifest(manifest)
    assert clip0.is_file() and all(e.silent_path.is_file() for e in entries)  # missing files are redone
    with pytest.raises(ConfigError, match="different SynthConfig"):
        generate_split(tmp_path, "train", 3, SynthConfig(width=48, height=48), progress=False)


def test_silent_copy_has_no_audio(tmp_path, tiny_config):
    import av

    entry = read_manifest(generate_split(tmp_path, "test", 1, tiny_config, silent_copy=True, progress=False))[
        0
    ]
    with av.open(str(entry.silent_path)) as c:
        assert len(c.streams.audio) == 0 and len(c.streams.video) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["materials=metal,stone"],
            r"Invalid material 'stone' in SynthConfig\.materials\. Supported: metal, wood",
        ),
        (["width=33"], r"SynthConfig\.width must be an even number >= 16, got 33"),
        (["size=3"], r"Unknown SynthConfig key 'size'\. Supported: width, height"),
        (["fps=fast"], r"SynthConfig\.fps must be float, got 'fast'"),
        (["max_count"], r"expected key=value"),
    ],
)
def test_config_errors_name_value_and_choices(overrides, message):
    with pytest.raises(ConfigError, match=message):
        SynthConfig().with_overrides(overrides)


def test_config_overrides_parse_tuples_and_numbers():
    cfg = SynthConfig().with_overrides(["materials=metal, wood", "fps=10", "max_count=2"])
    assert cfg.materials == ("metal", "wood") and cfg.fps == 10.0 and cfg.max_count == 2
    assert SynthConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert SynthConfig.from_dict({"shapes": ["ball"]}).shapes == ("ball",)
    with pytest.raises(ConfigError, match=r"Unknown SynthConfig keys \['shape'\]\. Supported: width"):
        SynthConfig.from_dict({"shape": ["ball"]})
    with pytest.raises(ConfigError, match="must be a list of names, got the string 'ball'"):
        SynthConfig(shapes="ball")


def test_cli_synth_writes_manifest(tmp_path):
    from click.testing import CliRunner

    from avseq.cli import main

    sets = ["width=32", "height=32", "max_duration=1", "min_duration=1"]
    args = ["synth", "-o", str(tmp_path), "--split", "val", "--n", "2"] + [f"--set={s}" for s in sets]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    entries = read_manifest(tmp_path / "val.jsonl")
    assert [e.split for e in entries] == ["val", "val"] and all(e.path.is_file() for e in entries)
    bad = CliRunner().invoke(main, ["synth", "-o", str(tmp_path), "--set", "colours=red,pink"])
    assert bad.exit_code == 2 and "Invalid colour 'pink'" in bad.output
    help_text = " ".join(CliRunner().invoke(main, ["synth", "--help"]).output.split())
    assert all(f.name in help_text for f in dataclasses.fields(SynthConfig))


def test_material_sets_timbre_and_strength_sets_loudness():
    from avseq.data.synth.audio import TIMBRES, Voice, impact_sound

    sr, n = 16000, 48000
    freqs = np.fft.rfftfreq(n, 1 / sr)
    centroid, ring = {}, {}
    for material, timbre in TIMBRES.items():
        voice = Voice(material, float(np.mean(timbre.f0)), float(np.mean(timbre.decay)))
        wave = impact_sound(voice, 1.0, sr, n, np.random.default_rng(0))
        spectrum = np.abs(np.fft.rfft(wave))
        centroid[material] = float((freqs * spectrum).sum() / spectrum.sum())
        env = np.abs(wave)
        ring[material] = float(np.nonzero(env > 0.01 * env.max())[0].max() / sr)
        soft = impact_sound(voice, 0.5, sr, n, np.random.default_rng(0))
        assert np.allclose(soft, 0.5 * wave)  # a hit half as fast is half as loud
    assert centroid["rubber"] < centroid["wood"] < centroid["metal"] < centroid["glass"], centroid
    assert ring["metal"] > ring["glass"] > ring["wood"] and ring["metal"] > 1.5, ring


def test_material_shows_in_the_picture(tiny_config):
    from avseq.data.synth.render import draw_object
    from avseq.data.synth.world import SceneObject

    track = render_clip(0, tiny_config).scene.main.track
    looks = {}
    for material in ("metal", "wood", "glass", "rubber"):
        canvas = np.full((32, 32, 3), 50.0, dtype=np.float32)
        draw_object(canvas, SceneObject("cube", "blue", material, 6.0, track), 0)
        looks[material] = canvas
    assert looks["metal"].max() > 240  # specular highlight
    wood_rows = looks["wood"][..., 2].max(axis=1)
    assert len({round(float(v)) for v in wood_rows if v > 60}) >= 2  # stripes
    assert looks["rubber"][looks["rubber"] != 50].min() < 0.35 * 235  # dark rim
    glass = looks["glass"][looks["glass"][..., 2] != 50]
    assert (
        glass[..., 2].max() < 0.5 * 235 + 0.5 * 255 + 1 and glass[..., 2].min() < 0.46 * 235 + 0.55 * 50
    )  # see-through
    for a in looks:
        for b in looks:
            assert a == b or not np.array_equal(looks[a], looks[b])
