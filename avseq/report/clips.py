"""The per-clip part of the run report: video with its caption track, text, metrics, domain check,
spectrograms."""

from __future__ import annotations

import base64
from pathlib import Path, PurePosixPath

from avseq.errors import MediaError
from avseq.io.probe import probe
from avseq.report import spectrograms as spec
from avseq.report.html import esc, fmt_score, grid_table, href
from avseq.report.records import ClipResult

# output key in results.jsonl -> the fixed file names `avseq run` gives it (docs/architecture.md);
# the muxed video's container follows its codec (results of older runs say with_sound_mp4)
OUTPUT_FILES = {
    "with_sound": ("with_sound.mp4", "with_sound.webm", "with_sound.mkv"),
    "caption_vtt": ("caption.vtt",),
    "caption_srt": ("caption.srt",),
    "caption_json": ("caption.json",),
    "sound_wav": ("sound.wav",),
    "sound_flac": ("sound.flac",),
    "features": ("features.safetensors",),
}
GENERATED_PNG, ORIGINAL_PNG = "sound_mel.png", "input_mel.png"
EMPTY_CAPTION = "<p class='caption muted'>(empty caption)</p>"


def find_output(clip: ClipResult, key: str) -> str | None:
    """The clip's output path (relative to the output folder) for ``key``, by key or by file name."""
    if key in clip.outputs:
        return clip.outputs[key]
    names = OUTPUT_FILES[key]
    return next((p for p in clip.outputs.values() if PurePosixPath(p).name in names), None)


def render_clip(outdir: Path, clip: ClipResult, anchor: str) -> str:
    """One clip's <section>: heading and status, error, player, caption, metrics, files, spectrograms."""
    player = _player(outdir, clip)
    player_html = f"<div>{player}</div>" if player else ""
    body = f"<div class='clip-body'>{player_html}<div>{_details(outdir, clip)}</div></div>"
    return (
        f"<section class='clip' id='{esc(anchor)}'>{_heading(clip)}{_error(clip)}"
        f"{body}{_spectrograms(outdir, clip)}</section>"
    )


def _heading(clip: ClipResult) -> str:
    name = Path(clip.input).name if clip.input else ""
    duration = f" · {clip.duration:.2f} s" if clip.duration is not None else ""
    return (
        f"<div class='clip-head'><h2>{esc(clip.id)}</h2><span class='badge {esc(clip.status)}'>"
        f"{esc(clip.status)}</span>{domain_badge(clip)}"
        f"<span class='muted'>{esc(name)}{esc(duration)}</span></div>"
    )


def domain_badge(clip: ClipResult) -> str:
    """``out of domain`` (or ``in domain``) with the scores on hover; empty when the run did not check."""
    if clip.domain is None:
        return ""
    label = "out of domain" if clip.domain == "out" else "in domain"
    return f"<span class='badge domain-{esc(clip.domain)}' title='{esc(_domain_text(clip))}'>{label}</span>"


def _domain_text(clip: ClipResult) -> str:
    scores = ", ".join(f"{bundle} {ratio:.3g}" for bundle, ratio in clip.domain_scores.items())
    what = (
        "its frames are unlike the clips the models were trained on, so their output says little about it"
        if clip.domain == "out"
        else "its frames are like the clips the models were trained on"
    )
    return f"{what} (score over threshold, above 1 is out: {scores})"


def _error(clip: ClipResult) -> str:
    if clip.error is None:
        return ""
    return f"<p class='error'><strong>{esc(clip.error.type)}</strong>: {esc(clip.error.message)}</p>"


def _player(outdir: Path, clip: ClipResult) -> str:
    """A <video> of the muxed output (else the input itself) with the caption as a default track."""
    muxed = find_output(clip, "with_sound")
    if muxed and (outdir / muxed).is_file():
        src = href(muxed)
    elif clip.input and Path(clip.input).is_file():
        src = esc(Path(clip.input).resolve().as_uri())
    else:
        return "<p class='muted'>no video to play</p>" if clip.status != "failed" else ""
    return f"<video controls preload='metadata' src='{src}'>{_track(outdir, clip)}</video>"


def _track(outdir: Path, clip: ClipResult) -> str:
    """The WebVTT caption as a <track>, inlined as a data: URL.

    Chromium treats every file:// URL as its own origin and refuses a <track>
    loaded from a sibling file, so the cues travel inside the page instead.
    """
    vtt = find_output(clip, "caption_vtt")
    if not vtt or not (outdir / vtt).is_file():
        return ""
    data = base64.b64encode((outdir / vtt).read_bytes()).decode("ascii")
    return (
        "<track kind='captions' default srclang='en' label='Caption' "
        f"src='data:text/vtt;charset=utf-8;base64,{data}'>"
    )


def _details(outdir: Path, clip: ClipResult) -> str:
    parts = []
    if clip.captions:
        texts = (f"<p class='caption'>{esc(c)}</p>" if c.strip() else EMPTY_CAPTION for c in clip.captions)
        parts.append("<h3>Caption</h3>" + "".join(texts))
    if clip.references:
        items = "".join(f"<li>{esc(r)}</li>" for r in clip.references)
        parts.append(f"<h3>References</h3><ul>{items}</ul>")
    if clip.metrics:
        parts.append(
            "<h3>Metrics</h3>"
            + grid_table(list(clip.metrics), [[fmt_score(v) for v in clip.metrics.values()]])
        )
    if clip.domain is not None:
        text = f"<span class='muted'>{esc(_domain_text(clip))}</span>"
        parts.append(f"<h3>Domain</h3><p>{domain_badge(clip)} {text}</p>")
    parts.append(_files(outdir, clip))
    if clip.timings or clip.finished_at:
        parts.append(f"<h3>Timings</h3><p class='muted'>{_timings(clip)}</p>")
    return "".join(parts)


def _timings(clip: ClipResult) -> str:
    """Seconds per stage on one line, then when the clip finished."""
    text = " · ".join(f"{k} {v:.3f} s" for k, v in clip.timings.items())
    if clip.finished_at:
        text += f"{' · ' if text else ''}finished {clip.finished_at}"
    return esc(text)


def _files(outdir: Path, clip: ClipResult) -> str:
    if not clip.outputs:
        return ""
    links = []
    for rel in clip.outputs.values():
        name = esc(PurePosixPath(rel).name)
        exists = (outdir / rel).is_file()
        links.append(
            f"<a href='{href(rel)}'>{name}</a>" if exists else f"{name} <span class='error'>(missing)</span>"
        )
    return "<h3>Files</h3><p>" + " · ".join(links) + "</p>"


def _spectrograms(outdir: Path, clip: ClipResult) -> str:
    """Generated vs original log-mel pictures (PNG files written into the clip folder)."""
    sound = find_output(clip, "sound_wav") or find_output(clip, "sound_flac")
    if not sound or not (outdir / sound).is_file():
        return ""
    clip_dir = (outdir / sound).parent
    candidates = [Path(p) for p in (clip.reference_audio, clip.input) if p]
    original = next((p for p in candidates if p.is_file()), None)
    figures, note = _draw(outdir / sound, original, clip_dir)
    html = "".join(
        f"<figure><img src='{href(png.relative_to(outdir).as_posix())}' alt='{esc(title)}'></figure>"
        for title, png in figures
    )
    note_html = f"<p class='muted'>{esc(note)}</p>" if note else ""
    return f"<h3>Log-mel spectrograms</h3><div class='spectrograms'>{html}</div>{note_html}"


def _draw(sound: Path, original: Path | None, clip_dir: Path) -> tuple[list[tuple[str, Path]], str]:
    """Draw (or reuse up-to-date) PNGs; returns [(title, png)] and a note on the original sound."""
    items = [("generated sound", sound, clip_dir / GENERATED_PNG)]
    note = "" if original else "original input not found: no comparison"
    if original is not None:
        try:
            has_audio = _has_audio(original)
        except MediaError as err:
            has_audio, note = False, f"original sound unreadable: {err}"
        if has_audio:
            items.append(("original sound", original, clip_dir / ORIGINAL_PNG))
        elif not note:
            note = "the input had no sound: nothing to compare with"
    pngs = [png for _, _, png in items]
    if not spec.is_fresh(pngs, [src for _, src, _ in items]):
        try:
            spec.save_mel_pngs([(spec.log_mel(*_audio(src)), title, png) for title, src, png in items])
        except (MediaError, ValueError) as err:
            return [], f"spectrograms unavailable: {err}"
    return [(title, png) for title, _, png in items], note


def _audio(path: Path) -> tuple:
    audio = spec.load_mono(path)
    if audio is None:
        raise ValueError(f"{path.name} has no audio stream")
    return audio


def _has_audio(path: Path) -> bool:
    return bool(probe(path).audio)
