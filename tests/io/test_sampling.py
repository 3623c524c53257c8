import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avseq.io.sampling import Selector, choose_indices, fps_times, uniform_times, window_uniform_times


def test_fps_times_stop_before_end():
    assert list(fps_times(1.0, 2.0, 4)) == [1.0, 1.25, 1.5, 1.75]


def test_uniform_times_are_segment_centres():
    assert uniform_times(0.0, 4.0, 4) == [0.5, 1.5, 2.5, 3.5]
    assert list(window_uniform_times(0.0, 5.0, 2.0, 1)) == [1.0, 3.0, 4.5]


def test_choose_picks_the_frame_shown_at_each_time():
    pts = np.array([0.0, 0.1, 0.15, 0.4])
    assert choose_indices(pts, [0.0, 0.05, 0.1, 0.149, 0.15, 0.39, 0.4, 9.0]).tolist() == [
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    assert choose_indices(np.array([0.2, 0.3]), [0.0]).tolist() == [0]  # before the first frame


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(0.01, 0.5), min_size=1, max_size=30),
    fps=st.floats(0.5, 60.0),
    start=st.floats(0.0, 2.0),
)
def test_streaming_selector_matches_vectorised_choice(gaps, fps, start):
    pts = np.cumsum([0.0, *gaps[:-1]])
    stream_end = float(pts[-1] + gaps[-1])
    times = list(fps_times(start, stream_end, fps))
    expected = [int(i) for i in choose_indices(pts, times)] if times else []
    selector = Selector(fps_times(start, None, fps), start)
    got = [i for k, p in enumerate(pts) for _, i in selector.feed(float(p), k)]
    got += [i for _, i in selector.finish(stream_end)]
    assert got == expected


def test_selector_every_frame_mode_keeps_the_range():
    selector = Selector(None, start=0.1, end=0.3)
    got = [i for k, p in enumerate([0.0, 0.1, 0.2, 0.3]) for _, i in selector.feed(p, k)]
    assert got == [1, 2]
    assert list(selector.finish(1.0)) == []


@pytest.mark.parametrize("bad", [[0.2, 0.1], [0.1, 0.1]])
def test_selector_ignores_out_of_order_timestamps(bad):
    selector = Selector(None)
    assert [i for k, p in enumerate(bad) for _, i in selector.feed(p, k)] == [0]
