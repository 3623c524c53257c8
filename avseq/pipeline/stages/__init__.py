"""Stage types, looked up by name in :data:`STAGES` (a pipeline file can name nothing else)."""

from avseq.pipeline.stages import compute, decode, labels, sinks  # noqa: F401  (registers the types)
from avseq.pipeline.stages.base import KINDS, STAGES, FileInfo, StageType, register, split_batch
from avseq.pipeline.stages.decode import make_decoder

__all__ = ["KINDS", "STAGES", "FileInfo", "StageType", "make_decoder", "register", "split_batch"]
