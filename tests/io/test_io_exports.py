"""``avseq.io`` exports its names lazily (PEP 562) and still behaves like a plain package."""

import inspect

import pytest

import avseq.io


def test_every_public_name_resolves():
    from avseq.io import MediaLimits, decode_audio, decode_video, iter_video, probe, write_video  # noqa: F401

    for name in avseq.io.__all__:
        assert not inspect.ismodule(getattr(avseq.io, name)), name
    assert probe is avseq.io.probe and inspect.isfunction(probe)  # the function, not the submodule
    assert set(avseq.io.__all__) <= set(dir(avseq.io))


def test_submodules_still_import_by_name():
    from avseq.io import heap, paths

    assert inspect.ismodule(heap) and {".mp4", ".wav"} <= paths.MEDIA_EXTENSIONS


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="module 'avseq.io' has no attribute 'decode_vidoe'"):
        avseq.io.decode_vidoe  # noqa: B018
    with pytest.raises(ImportError, match="decode_vidoe"):
        from avseq.io import decode_vidoe  # noqa: F401
