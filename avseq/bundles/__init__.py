"""Bundles: trained weights (safetensors) + the preprocessing, config and vocabulary they need.

``save_bundle(dir, system, preprocessing, tokenizer=, meta=)`` writes one atomically;
``load(name_or_path, device)`` returns a :class:`Bundle` with ``.system`` (eval mode),
``.preprocessing``, ``.tokenizer``, ``.meta``, ``.name``, ``.version``. Loading never
unpickles; ``convert_checkpoint`` turns a ``.pt`` file into a bundle once, safely.
"""

from avseq.lazy import lazy_package

_EXPORTS = {
    "FORMAT_VERSION": "avseq.bundles.document",
    "Bundle": "avseq.bundles.store",
    "Preprocessing": "avseq.bundles.preprocessing",
    "convert_checkpoint": "avseq.bundles.convert",
    "list_bundled": "avseq.bundles.locate",
    "load": "avseq.bundles.store",
    "read_checkpoint": "avseq.bundles.convert",
    "read_preprocessing": "avseq.bundles.locate",
    "resolve": "avseq.bundles.locate",
    "save_bundle": "avseq.bundles.store",
}
__all__ = lazy_package(__name__, _EXPORTS)
