"""Public datasets on disk -> train/val/test manifests of probed clips (``avseq data``).

One module per source, each reading its dataset's own annotation files and layout into
:class:`~avseq.data.sources.base.Clip` records (``collect(root, ...) -> Collected``) and stating
whether the audio track is its target (``SOUND``); :func:`~avseq.data.sources.build.build_manifests`
probes every clip in parallel, leaves out (and reports, with the reason) the ones that cannot be
trained on, and writes the manifests. Nothing here imports torch.

- captions: :mod:`~avseq.data.sources.msvd`, :mod:`~avseq.data.sources.msrvtt`;
- sound: :mod:`~avseq.data.sources.vggsound`, :mod:`~avseq.data.sources.vas`,
  :mod:`~avseq.data.sources.greatest_hits` (hit annotations as events),
  :mod:`~avseq.data.sources.folder` (any folder of videos with sound);
- shared: base.py (records, finding files), splits.py (hash splits), probing.py (the checks),
  build.py (manifests, report, summary).
"""

from avseq.data.sources.base import Clip, Collected, Problem
from avseq.data.sources.build import BuildResult, LeftOut, build_manifests
from avseq.data.sources.probing import Checks, Facts, inspect_clip

__all__ = [
    "BuildResult",
    "Checks",
    "Clip",
    "Collected",
    "Facts",
    "LeftOut",
    "Problem",
    "build_manifests",
    "inspect_clip",
]
