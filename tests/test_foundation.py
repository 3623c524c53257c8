import numpy as np
import pytest
import torch

from avseq.errors import MediaError, NotMediaError
from avseq.io.atomic import atomic_path
from avseq.io.encode import write_video
from avseq.registry import Registry
from avseq.types import Features, FrameBatch, Frames, pad_sequences, unpad


def test_registry_refuses_duplicates_and_lists_choices():
    reg = Registry("thing")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)
    with pytest.raises(ValueError, match=r"unknown thing 'b'; known: a"):
        reg.get("b")
    assert reg.list() == ["a"]


def test_frame_batch_pads_and_recovers_clips():
    a = Frames(torch.ones(3, 3, 11, 17, dtype=torch.uint8), torch.arange(3, dtype=torch.float64))
    b = Frames(torch.full((1, 3, 11, 17), 2, dtype=torch.uint8), torch.tensor([0.5], dtype=torch.float64))
    batch = FrameBatch.from_clips([a, b])
    assert batch.data.shape == (2, 3, 3, 11, 17)
    assert batch.lengths.tolist() == [3, 1]
    assert torch.equal(batch.clip(1).data, b.data)
    assert "(2, 3, 3, 11, 17)" in repr(batch)


def test_padding_round_trips_along_any_dim():
    items = [torch.arange(6.0).view(2, 3), torch.ones(2, 1)]
    padded, lengths = pad_sequences(items, dim=1, value=-1)
    assert padded.shape == (2, 2, 3) and lengths.tolist() == [3, 1] and torch.all(padded[1, :, 1:] == -1)
    assert all(torch.equal(a, b) for a, b in zip(unpad(padded, lengths, dim=1), items, strict=True))


def test_batches_move_their_lengths_with_the_data():
    pts = torch.arange(2, dtype=torch.float64)
    batch = FrameBatch.from_clips([Frames(torch.ones(2, 3, 4, 4), pts)]).to("meta")
    assert batch.data.is_meta and batch.lengths.is_meta and not batch.pts.is_meta
    assert Features(torch.ones(1, 2, 3), torch.tensor([2])).to("meta").lengths.is_meta


def test_frames_reject_mismatched_pts():
    with pytest.raises(ValueError, match="pts"):
        Frames(torch.zeros(2, 3, 4, 4), torch.zeros(3))


def test_media_error_names_file():
    err = NotMediaError("/x/y.mp4", "not a media file")
    assert isinstance(err, MediaError) and str(err) == "/x/y.mp4: not a media file"


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "out.wav"
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_write_video_roundtrip(tmp_path):
    import av

    frames = np.random.default_rng(0).integers(0, 255, (6, 12, 16, 3), dtype=np.uint8)
    audio = np.sin(np.linspace(0, 100, 8000)).astype(np.float32)
    path = write_video(tmp_path / "a.mp4", frames, fps=10, audio=audio, sample_rate=16000)
    with av.open(str(path)) as c:
        assert c.streams.video[0].width == 16 and c.streams.video[0].height == 12
        assert sum(1 for _ in c.decode(video=0)) == 6
        assert c.streams.audio[0].sample_rate == 16000
