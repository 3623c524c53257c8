"""How busy the GPU is while something runs: ``nvidia-smi`` sampled in the background.

``utilization.gpu`` is the share of each sample period in which a kernel ran, so the mean of
the samples over a run is the share of its wall time the GPU was busy.
Use: ``with GpuBusy() as busy: run(); busy.share`` (None without nvidia-smi or samples).
"""

from __future__ import annotations

import shutil
import subprocess
import threading


class GpuBusy:
    """Samples ``utilization.gpu`` of GPU ``index`` every ``interval_ms`` while in the ``with``."""

    def __init__(self, index: int = 0, interval_ms: int = 100) -> None:
        self.index, self.interval_ms = index, interval_ms
        self.samples: list[float] = []
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> GpuBusy:
        exe = shutil.which("nvidia-smi")
        if exe is None:
            return self
        cmd = [exe, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
               f"-lms={self.interval_ms}", f"--id={self.index}"]  # fmt: skip
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        for line in self._proc.stdout:
            try:
                self.samples.append(float(line.strip()))
            except ValueError:
                continue

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
            self._reader.join(timeout=5)

    @property
    def share(self) -> float | None:
        """Mean utilisation over the samples as a share of 1 (None: nothing sampled)."""
        return round(sum(self.samples) / len(self.samples) / 100.0, 3) if self.samples else None
