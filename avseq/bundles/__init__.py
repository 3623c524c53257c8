"""Bundles: trained weights (safetensors) + the preprocessing, config and vocabulary they need.

``save_bundle(dir, system, preprocessing, tokenizer=, meta=)`` writes one atomically;
``load(name_or_path, device)`` returns a :class:`Bundle` with ``.system`` (eval mode),
``.preprocessing``, ``.tokenizer``, ``.meta``, ``.name``, ``.version``. Loading never
unpickles; ``convert_checkpoint`` turns a ``.pt`` file into a bundle once, safely.
"""

from avseq.bundles.convert import convert_checkpoint, read_checkpoint
from avseq.bundles.document import FORMAT_VERSION
from avseq.bundles.preprocessing import Preprocessing
from avseq.bundles.store import Bundle, list_bundled, load, read_preprocessing, resolve, save_bundle

__all__ = [
    "FORMAT_VERSION",
    "Bundle",
    "Preprocessing",
    "convert_checkpoint",
    "list_bundled",
    "load",
    "read_checkpoint",
    "read_preprocessing",
    "resolve",
    "save_bundle",
]
