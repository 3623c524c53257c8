"""Frame transforms on awkward 17x11 (H x W) frames: H/W order, batching, dtype, devices."""

from __future__ import annotations

import pytest
import torch

from avseq.transforms import CenterCrop, Fit, Resize, ToFloat, center_crop, fit, resize, to_float
from tests.conftest import DEVICES


def _frames(t: int = 3, h: int = 17, w: int = 11) -> torch.Tensor:
    """uint8 (T, 3, H, W): brightness grows down the rows only, so a transposed result shows."""
    rows = torch.linspace(0, 255, h).round().to(torch.uint8).view(1, 1, h, 1)
    return rows.expand(t, 3, h, w).clone()


@pytest.mark.parametrize("device", DEVICES)
def test_resize_keeps_height_width_order(device):
    out = resize(_frames().to(device), (9, 5))
    assert out.shape == (3, 3, 9, 5) and out.dtype == torch.uint8 and out.device.type == device
    column = out[0, 0, :, 0].float()
    assert torch.all(column[1:] >= column[:-1]) and column[-1] > column[0] + 100
    assert torch.equal(out[0, 0, :, 0], out[0, 0, :, -1])  # constant along W


def test_resize_batch_equals_per_clip():
    batch = torch.stack([_frames(), 255 - _frames()])
    out = resize(batch, (8, 6), "bicubic")
    assert out.shape == (2, 3, 3, 8, 6)
    assert torch.equal(out[1], resize(255 - _frames(), (8, 6), "bicubic"))


def test_center_crop_takes_the_middle():
    frames = torch.arange(17 * 11, dtype=torch.int32).view(1, 1, 17, 11).expand(2, 3, 17, 11)
    assert torch.equal(center_crop(frames, (5, 3)), frames[..., 6:11, 4:7])
    with pytest.raises(
        ValueError, match=r"crop size \(H, W\)=\(18, 3\) is larger than the frames \(17, 11\)"
    ):
        center_crop(frames, (18, 3))


def test_to_float_scales_to_unit_range():
    out = to_float(_frames())
    assert out.dtype == torch.float32 and out.min() == 0.0 and out.max() == 1.0
    with pytest.raises(ValueError, match="expects uint8 frames, got dtype torch.float32"):
        to_float(out)


def test_fit_covers_then_crops_with_aspect_kept():
    out = fit(_frames(h=17, w=11), (8, 8))
    assert out.shape == (3, 3, 8, 8)
    wide = fit(_frames(h=11, w=17), (11, 11))
    assert wide.shape == (3, 3, 11, 11)


def test_modules_match_functions_and_errors_name_choices():
    frames = _frames()
    pipeline = torch.nn.Sequential(Resize((12, 8)), CenterCrop((10, 6)), ToFloat())
    assert torch.equal(pipeline(frames), to_float(center_crop(resize(frames, (12, 8)), (10, 6))))
    assert torch.equal(Fit((8, 8))(frames), fit(frames, (8, 8)))
    with pytest.raises(ValueError, match="Invalid interpolation 'area'. Supported: bilinear, bicubic"):
        resize(frames, (4, 4), "area")
    with pytest.raises(ValueError, match=r"frames must be \(T, 3, H, W\)"):
        resize(frames[:, 0], (4, 4))


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_resize_matches_torchvision(interpolation, dtype):
    """resize uses plain torch (the pipeline never imports torchvision) and gives torchvision's pixels."""
    import torchvision.transforms.v2.functional as TF
    from torchvision.transforms import InterpolationMode

    seeded = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (2, 3, 37, 61), dtype=torch.uint8, generator=seeded)
    frames = frames if dtype == torch.uint8 else frames.float() / 255
    mode = InterpolationMode(interpolation)
    for size in [(17, 11), (64, 90)]:
        expected = TF.resize(frames, list(size), interpolation=mode, antialias=True)
        assert torch.equal(resize(frames, size, interpolation), expected)
