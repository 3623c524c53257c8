"""One run per output folder: a second ``avseq run`` into a folder another run holds exits 2 and
touches nothing; a run killed with SIGKILL leaves the folder usable. Real processes, since the
lock is the kernel's."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avseq.pipeline.outdir_lock import LOCK_NAME, output_folder_lock
from tests.pipeline.pipeline_helpers import (
    bundles,  # noqa: F401  (fixture)
    clips,  # noqa: F401  (fixture)
    full_pipeline,
    make_clip,
    output_files,
    read_results,
)

ROOT = Path(__file__).resolve().parents[2]


def tree(folder: Path) -> dict[Path, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders)."""
    return {p: (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def avseq(*args: object) -> list[str]:
    return [sys.executable, "-m", "avseq", *map(str, args)]


def wait_for(check, proc: subprocess.Popen, what: str, seconds: float = 120) -> None:
    """Poll ``check()`` until true; fail naming ``what`` if ``proc`` ends or time runs out first."""
    deadline = time.monotonic() + seconds
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} never happened (the run exited with {proc.poll()})")
        time.sleep(0.02)


def lock_holder(out: Path) -> int | None:
    text = (out / LOCK_NAME).read_text() if (out / LOCK_NAME).is_file() else ""
    return int(text.split()[0]) if text.strip() else None


@pytest.fixture
def many_clips(tmp_path) -> Path:
    folder = tmp_path / "in"
    for i in range(8):
        make_clip(folder / f"c{i}.mp4", seconds=0.5, seed=i)
    return folder


def test_a_second_run_exits_2_and_touches_nothing_while_the_first_finishes_intact(
    tmp_path,
    bundles,  # noqa: F811
    many_clips,
):
    out = tmp_path / "out"
    args = ["run", full_pipeline(tmp_path, bundles), "-i", many_clips, "-o", out, "--quiet"]
    first = subprocess.Popen(avseq(*args, "--workers", "1"), cwd=ROOT, start_new_session=True)
    try:
        wait_for(lambda: lock_holder(out) == first.pid, first, "the first run taking the lock")
        os.killpg(first.pid, signal.SIGSTOP)  # hold it still, lock held, while the second starts
        before = tree(out)
        second = subprocess.run(avseq(*args), cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert tree(out) == before  # no staging sweep, no results line, nothing
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone if it never took the lock
            os.killpg(first.pid, signal.SIGCONT)
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {out}: another avseq run (pid {first.pid} on ")
    assert first.wait(timeout=300) == 0
    results = read_results(out)
    assert sorted(r["id"] for r in results) == [f"c{i}" for i in range(8)]
    assert all(r["status"] == "ok" for r in results)
    written = {path for r in results for path in r["outputs"].values()}
    assert written == output_files(out) and all((out / p).is_file() for p in written)


def test_a_sigkilled_run_leaves_the_folder_usable_though_its_workers_live_on(
    tmp_path,
    bundles,  # noqa: F811
    many_clips,
):
    """The lock ends with the run's process: its decode workers (forked, still alive here) hold none."""
    out = tmp_path / "out"
    args = ["run", full_pipeline(tmp_path, bundles), "-i", many_clips, "-o", out, "--quiet"]
    first = subprocess.Popen(
        avseq(*args, "--workers", "2", "--batch-size", "1"),
        cwd=ROOT,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: bool(_result_lines(out)), first, "a results line")
        workers = _children(first.pid)
        assert workers, "the run has no decode workers to outlive it"
        first.send_signal(signal.SIGKILL)  # the run only, not its process group
        first.wait()
        second = subprocess.run(avseq(*args), cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)  # the orphaned workers
    assert second.returncode == 0, second.stderr
    assert sorted(r["id"] for r in read_results(out)) == [f"c{i}" for i in range(8)]


def _result_lines(out: Path) -> bytes:
    path = out / "results.jsonl"
    return path.read_bytes().strip() if path.is_file() else b""


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_a_held_folder_is_refused_in_process_too(invoke, tmp_path, bundles, clips):  # noqa: F811
    """The run (local or Ray) checks before anything else: a planted staging leftover and
    results.jsonl stay as they are, and Ray is not started."""
    out = tmp_path / "out"
    (out / ".staging" / "ab").mkdir(parents=True)
    (out / ".staging" / "ab" / "x.wav").write_text("another run's")
    (out / "results.jsonl").write_text('{"id": "x"}\n')
    before = tree(out)
    pipeline = full_pipeline(tmp_path, bundles)
    executors = ["local"] + (["ray"] if importlib.util.find_spec("ray") else [])
    with output_folder_lock(out):
        for executor in executors:
            result = invoke("run", pipeline, "-i", clips[0], "-o", out, "--quiet", "--executor", executor)
            assert result.exit_code == 2, result.output
            assert "another avseq run (pid " in result.output and str(out) in result.output
            assert {p: b for p, b in tree(out).items() if p.name != LOCK_NAME} == before
    assert invoke("run", pipeline, "-i", clips[0], "-o", out, "--quiet").exit_code == 0


def test_the_lock_file_is_no_output_and_no_link_is_followed(invoke, tmp_path, bundles, clips):  # noqa: F811
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).symlink_to(victim)
    args = ["run", full_pipeline(tmp_path, bundles), "-i", clips[0].parent, "-o", out, "--quiet"]
    assert invoke(*args).exit_code == 0
    assert victim.read_text() == "precious\n" and not (out / LOCK_NAME).is_symlink()
    assert (out / LOCK_NAME).is_file()  # kept: see avseq.pipeline.outdir_lock
    assert all(LOCK_NAME not in p for r in read_results(out) for p in r["outputs"].values())
    assert invoke(*args).exit_code == 0  # a rerun, resuming, locks the same file again
    assert {r["status"] for r in read_results(out)} == {"skipped"}
