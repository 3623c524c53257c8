import warnings

import numpy as np
import pytest
import torch

from avseq.errors import NoStreamError, TruncatedMediaError
from avseq.io import decode_video, iter_video
from avseq.io import source as source_module
from avseq.io.scan import scan_stream
from avseq.io.source import make_plan, open_video
from tests.io.conftest import FPS, N_FRAMES, frame_ids


def test_all_frames_shapes_and_timestamps(media):
    frames = decode_video(media["gop"])
    assert frames.data.shape == (N_FRAMES, 3, 24, 32) and frames.data.dtype == torch.uint8
    assert frame_ids(frames.data) == list(range(N_FRAMES))
    assert torch.allclose(frames.pts, torch.arange(N_FRAMES, dtype=torch.float64) / FPS)


def test_odd_size_keeps_height_and_width(media):
    frames = decode_video(media["odd"])
    assert frames.data.shape == (5, 3, 11, 17)
    assert decode_video(media["odd"], size=(7, 9)).data.shape == (5, 3, 7, 9)
    assert decode_video(media["odd"], size=22).data.shape == (5, 3, 22, 34)  # short side 22


def test_rotation_is_applied(media):
    frames = decode_video(media["rot"])  # stored 17 wide x 11 high, rotated 90 degrees counter-clockwise
    assert frames.data.shape == (3, 3, 17, 11)
    img = frames.data[0, 0].float()
    corners = [img[:4, :4].mean(), img[:4, -4:].mean(), img[-4:, :4].mean(), img[-4:, -4:].mean()]
    assert [bool(c > 200) for c in corners] == [False, False, True, False]  # top-left -> bottom-left
    assert decode_video(media["rot"], size=(20, 10)).data.shape == (3, 3, 20, 10)


def test_fps_on_vfr_picks_the_frame_shown_at_each_time(media):
    # pts 0, .1, .15, .4, .45, .5, .9, 1.0, 1.05, 1.5 (ends 1.6); sample every 0.1 s
    frames = decode_video(media["vfr"], fps=10)
    assert frame_ids(frames.data) == [0, 1, 2, 2, 3, 5, 5, 5, 5, 6, 7, 8, 8, 8, 8, 9]
    shown = decode_video(media["vfr"], fps=10, start=0.42, end=1.0)  # t = .42 .52 .62 .72 .82 .92
    assert frame_ids(shown.data) == [3, 5, 5, 5, 5, 6]


def test_uniform_sampling_takes_segment_centres(media):
    frames = decode_video(media["gop"], num_frames=4)  # centres .75, 2.25, 3.75, 5.25 s
    assert frame_ids(frames.data) == [15, 45, 75, 105]
    part = decode_video(media["gop"], num_frames=2, start=1.0, end=2.0)  # 1.25, 1.75
    assert frame_ids(part.data) == [25, 35]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"fps": 2},
        {"fps": 7, "start": 0.33},
        {"fps": 45},
        {"num_frames": 3},
        {"num_frames": 5, "start": 1.0, "end": 4.9},
        {"start": 2.0, "end": 3.0},
    ],
)
@pytest.mark.parametrize("name", ["gop", "vfr", "mkv"])
def test_fast_and_exact_choose_the_same_frames(media, name, kwargs):
    fast = decode_video(media[name], mode="fast", **kwargs)
    exact = decode_video(media[name], mode="exact", **kwargs)
    assert fast.pts.tolist() == exact.pts.tolist()
    assert torch.equal(fast.data, exact.data)


def test_fast_decodes_only_what_it_needs(media, monkeypatch):
    with open_video(media["gop"], 0) as (container, vs):
        table = scan_stream(container, vs)
        plan = make_plan(table, torch.tensor([15, 105]).numpy())  # two frames in GOPs 1 and 10 of 12
        decoded = list(source_module.planned_frames(container, vs, plan))
    assert [s[0] for s in plan.segments] == [10, 100]
    assert len(decoded) < 25
    seeks = []
    monkeypatch.setattr(source_module, "_seek_to", lambda *a: seeks.append(a[-1]) or _real_seek(*a))
    decode_video(media["gop"], num_frames=2)
    assert seeks  # sparse samples seek over the skipped GOPs


_real_seek = source_module._seek_to


def test_plan_mismatch_falls_back_to_exact(media, monkeypatch):
    def broken(*args, **kwargs):
        raise source_module.PlanMismatch("test")
        yield

    monkeypatch.setattr("avseq.io.video.planned_frames", broken)
    frames = decode_video(media["gop"], num_frames=4)
    assert frame_ids(frames.data) == [15, 45, 75, 105]


def test_iter_video_windows_match_one_decode(media):
    whole = decode_video(media["gop"], fps=5)
    windows = list(iter_video(media["gop"], window=2.0, fps=5))
    assert [len(w) for w in windows] == [10, 10, 10]
    assert torch.equal(torch.cat([w.data for w in windows]), whole.data)
    assert all(float(w.pts[0]) == pytest.approx(2.0 * i) for i, w in enumerate(windows))
    per_window = list(iter_video(media["gop"], window=2.5, num_frames=1))
    assert [frame_ids(w.data) for w in per_window] == [[25], [75], [110]]


def test_iter_video_is_lazy(media):
    gen = iter_video(media["gop"], window=1.0)
    first = next(gen)
    assert len(first) == FPS
    gen.close()


def test_truncated_file_raises_or_warns(media):
    for mode in ("fast", "exact"):
        with pytest.raises(TruncatedMediaError, match=r"ends at 2\.\d\d s but the header declares 6\.00 s"):
            decode_video(media["truncated"], mode=mode)
    with pytest.warns(UserWarning, match="truncated"):
        frames = decode_video(media["truncated"], on_truncated="warn")
    assert 0 < len(frames) < N_FRAMES * 0.6
    assert frame_ids(frames.data) == list(range(len(frames)))


def test_no_video_stream(media):
    with pytest.raises(NoStreamError, match="no video stream"):
        decode_video(media["m4a"])
    with pytest.raises(NoStreamError, match="no video stream 1 \\(the file has 1 video streams\\)"):
        decode_video(media["gop"], stream=1)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"mode": "quick"}, "Invalid mode 'quick'. Supported: 'fast', 'exact'"),
        ({"fps": 0}, "Invalid fps 0"),
        ({"fps": 2, "num_frames": 2}, "not both"),
        ({"num_frames": 0}, "Invalid num_frames 0"),
        ({"start": 2.0, "end": 1.0}, "Invalid end 1.0"),
        ({"size": (0, 4)}, "Invalid size"),
        ({"hwaccel": "vaapi"}, "Invalid hwaccel 'vaapi'. Supported: None, 'cuda'"),
        ({"on_truncated": "ignore"}, "Invalid on_truncated 'ignore'"),
    ],
)
def test_bad_arguments_name_the_value_and_choices(media, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_video(media["odd"], **kwargs)


def test_cuda_request_falls_back_to_cpu_with_a_warning(media, monkeypatch):
    monkeypatch.setattr("avseq.io.hwaccel.cuda_decode_available", lambda: False)
    with pytest.warns(UserWarning, match="hwaccel='cuda' unavailable .* decoding on the CPU"):
        frames = decode_video(media["odd"], hwaccel="cuda")
    assert frames.data.shape == (5, 3, 11, 17)


def test_cuda_device_error_falls_back_to_cpu(media, monkeypatch):
    monkeypatch.setattr("avseq.io.hwaccel.cuda_decode_available", lambda: True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = decode_video(media["odd"], hwaccel="cuda")
    assert frames.data.shape == (5, 3, 11, 17)
    if not torch.cuda.is_available():
        assert any("decoding on the CPU" in str(w.message) for w in caught)


@pytest.mark.gpu
def test_cuda_decode_picks_the_cpus_frames_and_says_where_it_ran(media):
    from avseq.io.sampling import Sampling
    from avseq.io.windows import iter_sampled_arrays

    gpu = decode_video(media["gop"], hwaccel="cuda", num_frames=4)
    assert frame_ids(gpu.data) == [15, 45, 75, 105]
    (window,) = iter_sampled_arrays(media["gop"], [Sampling(None, 4)], hwaccel="cuda")
    # the device must be there; NVDEC itself may refuse a 32x24 stream (its smallest H.264 frame
    # is 48x16), and then says so. tests/io/test_hwaccel.py checks larger clips really ran on it.
    where = window.decoded_on
    assert where.device == "cuda" or where.fallback.startswith("NVDEC cannot decode this stream"), where


def test_frame_stack_grows_past_its_capacity_hint(media):
    from avseq.io.convert import FrameStack
    from avseq.io.source import exact_frames

    stack = FrameStack(size=None, capacity=1)
    with open_video(media["gop"], 0) as (container, vs):
        for frame in exact_frames(container, vs):
            stack.add(frame, float(frame.pts * frame.time_base))
            stack.add(frame, float(frame.pts * frame.time_base))  # a repeat is copied, not converted
            if len(stack) >= 40:
                break
    frames = stack.frames()
    assert frames.data.shape == (40, 3, 24, 32) and frames.data.is_contiguous()
    assert frame_ids(frames.data) == [i // 2 for i in range(40)]


def test_one_scaler_per_decode_with_pyavs_pixels(media, monkeypatch):
    """A scaler per frame cost 7-8 ms a frame (avseq.io.convert): a decode keeps one, same pixels."""
    import av
    from av.video.reformatter import VideoReformatter

    from avseq.io import convert

    made = []

    def counting() -> VideoReformatter:
        made.append(VideoReformatter())
        return made[-1]

    monkeypatch.setattr(convert, "VideoReformatter", counting)
    frames = decode_video(media["gop"], size=(12, 16))
    assert len(made) == 1 and frames.data.shape == (N_FRAMES, 3, 12, 16)
    with av.open(str(media["gop"])) as c:
        expected = [f.reformat(width=16, height=12, format="rgb24").to_ndarray() for f in c.decode(video=0)]
    assert torch.equal(frames.data, torch.from_numpy(np.stack(expected)).permute(0, 3, 1, 2))


def test_windows_reuse_a_buffer_only_once_its_frames_are_dropped(media):
    """Window buffers are recycled (fresh pages cost more than the conversion) but never under a holder."""
    whole = decode_video(media["gop"])
    ptrs, held = [], None
    for i, w in enumerate(iter_video(media["gop"], window=1.0)):
        ptrs.append(w.data.data_ptr())
        if i == 1:
            held = w.data[2:].numpy()  # a numpy view of a slice still holds the buffer
        assert torch.equal(w.data, whole.data[i * FPS : (i + 1) * FPS])
    assert ptrs[2] == ptrs[0]  # window 0 was dropped: its buffer came back
    assert len(set(ptrs)) == 3  # window 1's buffer stayed held, so a third one was made
    assert np.array_equal(held, whole.data[FPS + 2 : 2 * FPS].numpy())
    kept = list(iter_video(media["gop"], window=1.0))
    assert len({w.data.data_ptr() for w in kept}) == len(kept)
    assert torch.equal(torch.cat([w.data for w in kept]), whole.data)


def test_converting_on_a_worker_thread_keeps_the_pixels(media):
    import threading

    for kwargs in ({}, {"size": (12, 16)}, {"fps": 45}):
        inline = decode_video(media["gop"], threads=1, **kwargs)
        worker = decode_video(media["gop"], threads=0, **kwargs)
        assert torch.equal(inline.data, worker.data) and torch.equal(inline.pts, worker.pts)
    windows = iter_video(media["gop"], window=1.0, threads=2)
    next(windows)
    windows.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("avseq-convert")]


def test_a_conversion_error_on_the_worker_reaches_the_caller(media, monkeypatch):
    from avseq.io import convert

    def broken(*args):
        raise ValueError("swscale refused")

    monkeypatch.setattr(convert, "write_frame", broken)
    for threads in (0, 1):
        with pytest.raises(ValueError, match="swscale refused"):
            decode_video(media["gop"], threads=threads)


def test_closing_the_writer_keeps_the_error_already_raised(media, monkeypatch):
    from avseq.io import convert

    monkeypatch.setattr(convert, "write_frame", lambda *args: 1 / 0)
    with open_video(media["odd"], 0) as (container, vs):
        frame = next(container.decode(vs))
    with pytest.raises(KeyError, match="decode failed"), convert.FrameWriter(None, background=True) as writer:
        writer.write(np.empty((3, 11, 17), np.uint8), frame)
        raise KeyError("decode failed")  # the queued write's ZeroDivisionError must not replace it
