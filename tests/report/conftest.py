"""Fake `avseq run` output folders with tiny real media, built to the documented schema."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from avseq.io import Cue, mux_audio, write_audio, write_caption_json, write_video, write_vtt
from avseq.types import Audio

SR = 16000
SCRIPT_NAME = "<script>alert(1)</script>"  # contains "/", so on disk: a folder and a file
IMG_NAME = "<img src=x onerror=alert(1)>"


def frames(seconds: float, fps: int = 10, h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: a coloured square moving over a gradient."""
    t = round(seconds * fps)
    out = np.zeros((t, h, w, 3), np.uint8)
    out[..., 2] = np.linspace(40, 200, w, dtype=np.uint8)[None, None, :]
    color = np.random.default_rng(seed).integers(80, 255, 3)
    for i in range(t):
        x = int((w - 16) * i / max(t - 1, 1))
        out[i, 24:40, x : x + 16] = color
    return out


def tone(seconds: float, freq: float, clicks: int = 0) -> np.ndarray:
    """(N,) float32 sine at ``freq`` Hz with ``clicks`` short noise bursts."""
    n = int(seconds * SR)
    wave_ = 0.2 * np.sin(2 * np.pi * freq * np.arange(n) / SR)
    rng = np.random.default_rng(int(freq))
    for k in range(clicks):
        start = int((k + 0.5) * n / clicks)
        wave_[start : start + 800] += 0.5 * rng.standard_normal(min(800, n - start))
    return np.clip(wave_, -1, 1).astype(np.float32)


def ok_clip(outdir: Path, clip_id: str, source: Path, caption: str, *, seconds: float = 1.5) -> dict:
    """Write a clip folder as `avseq run` does (avseq.io writers, muxed caption track); return its line."""
    clip_dir = outdir / clip_id
    clip_dir.mkdir(parents=True)
    sound = tone(seconds, 330.0, clicks=3)
    cues = [Cue(0.0, seconds, caption)]
    write_audio(clip_dir / "sound.wav", sound, SR)
    write_video(clip_dir / "video.mp4", frames(seconds), fps=10)
    mux_audio(
        clip_dir / "video.mp4",
        clip_dir / "with_sound.mp4",
        Audio(torch.from_numpy(sound)[None], SR),
        captions=cues,
    )
    (clip_dir / "video.mp4").unlink()
    write_vtt(clip_dir / "caption.vtt", cues)
    write_caption_json(clip_dir / "caption.json", [caption], cues)
    names = ("with_sound.mp4", "sound.wav", "caption.vtt", "caption.json")
    return {
        "id": clip_id, "input": str(source), "status": "ok", "error": None,
        "outputs": {n.replace(".", "_"): f"{clip_id}/{n}" for n in names},
        "captions": [caption], "duration": seconds, "timings": {"decode": 0.01, "sound": 0.02},
        "finished_at": "2026-11-29T01:00:00+00:00",
    }  # fmt: skip


@pytest.fixture
def fake_run(tmp_path: Path) -> Path:
    """An output folder with 3 clips: ok with original sound, failed (hostile name), ok from silent input."""
    inputs, outdir = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    outdir.mkdir()
    ball = write_video(inputs / "red ball.mp4", frames(1.5, seed=1), fps=10, audio=tone(1.5, 440.0, 2))
    hostile = inputs / f"{SCRIPT_NAME}.mp4"
    hostile.parent.mkdir(parents=True)
    write_video(hostile, frames(1.0, seed=2), fps=10)
    first = ok_clip(outdir, "street/red ball", ball, "a red ball bounces twice")
    first["references"] = ["a red ball bounces", "a ball hits the floor twice"]
    first["metrics"] = {"bleu4": 0.4213, "cider": 1.25}
    failed = {
        "id": IMG_NAME, "input": str(inputs / f"{IMG_NAME}.mp4"), "status": "failed",
        "error": {"type": "TruncatedMediaError", "message": "<b>moov</b> atom missing & file cut"},
        "outputs": {}, "captions": [], "duration": None, "timings": {},
        "finished_at": "2026-11-29T01:00:01+00:00",
    }  # fmt: skip
    third = ok_clip(outdir, "silent", hostile, SCRIPT_NAME, seconds=1.0)
    lines = [first, failed, third]
    (outdir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    summary = {
        "counts": {"ok": 2, "failed": 1, "skipped": 0, "total": 3, "not_run": 0},
        "wall_seconds": 3.5, "files_per_second": 0.857, "media_seconds_per_second": 0.714,
        "device": "cpu", "batch_size": 8, "workers": 2, "pipeline": "pipelines/caption_and_sound.yaml",
        "bundles": [{"name": "synth-caption", "version": "1.0", "path": "/b/c"},
                    {"name": "synth-sound", "version": "1.0", "path": "/b/s"}],
        "stage_seconds": {"decode": 0.02},
    }  # fmt: skip
    (outdir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return outdir


# --- headless Chromium, driven over the DevTools protocol on a pipe (no extra packages) ---

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--mute-audio", "--remote-debugging-pipe",
]  # fmt: skip


def ensure_chromium() -> str:
    """The chromium executable; skips the calling test, with the reason, when it is absent.

    Tests never install anything: `.ci/run` installs Debian's chromium where it can.
    """
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not on PATH (Debian's chromium package; .ci/run installs it in CI)")
    return found


class Browser:
    """One headless Chromium; :meth:`call` sends a DevTools command to the page and returns its result."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        # the child must see the pipe ends as fds 3 (commands in) and 4 (replies out)
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser, from_browser)]

        def wire() -> None:
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        cmd = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=wire,
        )  # fmt: skip
        for fd in (to_browser, from_browser, *ends):
            os.close(fd)
        self._buffer, self._next_id, self.session, self.events = b"", 0, None, []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def call(self, method: str, params: dict | None = None, timeout: float = 60.0) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if "method" in reply:
                self.events.append(reply)
            elif reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def wait_event(self, method: str, timeout: float = 60.0) -> dict:
        """The first event called ``method`` received so far or within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["method"] == method:
                    self.events.remove(event)
                    return event
            self.events.append(self._receive(deadline))

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if not select.select([self._read], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium exited")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._write)
        os.close(self._read)


@pytest.fixture
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile, closed after the test."""
    chromium = Browser(ensure_chromium(), tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()
