"""The progress bar on stderr: files done, failures, rate and ETA (tqdm)."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    """Counts finished inputs; draws a tqdm bar on stderr unless ``enabled`` is False."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.failed = 0
        self.skipped = 0
        self._bar = tqdm(total=total, unit="file", file=sys.stderr, disable=not enabled, dynamic_ncols=True)

    def update(self, status: str) -> None:
        self.failed += status == "failed"
        self.skipped += status == "skipped"
        self._bar.set_postfix(failed=self.failed, skipped=self.skipped, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()
