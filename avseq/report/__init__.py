"""Static HTML reports: of an ``avseq run`` output folder and of a training run.

Public API: :func:`write_report` (OUTDIR/report.html) and
:func:`write_training_report` (RUN_DIR/report.html). The pages need no server and
no network: inline CSS, no scripts, relative links to the files beside them.
"""

from avseq.report.run import write_report
from avseq.report.training import write_training_report

__all__ = ["write_report", "write_training_report"]
