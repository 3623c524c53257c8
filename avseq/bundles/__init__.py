"""Bundles: trained weights (safetensors) + the preprocessing, config and vocabulary they need.

``save_bundle(dir, system, preprocessing, tokenizer=, meta=)`` writes one atomically;
``load(name_or_path, device)`` returns a :class:`Bundle` with ``.system`` (eval mode),
``.preprocessing``, ``.tokenizer``, ``.meta``, ``.name``, ``.version``, ``.card`` (its
:class:`ModelCard`) and ``.feature_stats`` (its encoder's :class:`FeatureStats` on the training
clips, which the domain check of ``avseq run`` reads; :mod:`avseq.bundles.domain` fits them).
Loading never unpickles; ``convert_checkpoint`` turns a ``.pt`` file into a bundle once, safely.
``read_card`` / ``list_cards`` read the cards from bundle.json alone, without torch.
"""

from avseq.lazy import lazy_package

_EXPORTS = {
    "FORMAT_VERSION": "avseq.bundles.document",
    "Bundle": "avseq.bundles.store",
    "BundleCard": "avseq.bundles.locate",
    "FeatureStats": "avseq.bundles.card",
    "ModelCard": "avseq.bundles.card",
    "Preprocessing": "avseq.bundles.preprocessing",
    "convert_checkpoint": "avseq.bundles.convert",
    "list_bundled": "avseq.bundles.locate",
    "list_cards": "avseq.bundles.locate",
    "load": "avseq.bundles.store",
    "read_card": "avseq.bundles.locate",
    "read_checkpoint": "avseq.bundles.convert",
    "read_preprocessing": "avseq.bundles.locate",
    "resolve": "avseq.bundles.locate",
    "save_bundle": "avseq.bundles.store",
}
__all__ = lazy_package(__name__, _EXPORTS)
