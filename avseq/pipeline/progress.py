"""The progress bar on stderr: files done, failures, rate and ETA (tqdm)."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    """Counts finished inputs; draws a tqdm bar on stderr unless ``enabled`` is False.

    The bar appears at :meth:`show` or at the first finished input, so an error while the run
    is still starting (a bundle that fails to load) is the only line on stderr.
    """

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.failed = 0
        self.skipped = 0
        self._total, self._enabled = total, enabled
        self._bar: tqdm | None = None

    def show(self) -> None:
        if self._bar is None:
            self._bar = tqdm(
                total=self._total, unit="file", file=sys.stderr, disable=not self._enabled, dynamic_ncols=True
            )

    def update(self, status: str) -> None:
        self.show()
        self.failed += status == "failed"
        self.skipped += status == "skipped"
        self._bar.set_postfix(failed=self.failed, skipped=self.skipped, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
