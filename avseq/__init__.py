"""avseq: audio-and-video sequence models (sound from silent video, video captioning)."""

from avseq.errors import AvseqError

__version__ = "0.1.0"
__all__ = ["AvseqError", "__version__"]
