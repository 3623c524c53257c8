"""Griffin-Lim vocoder: undo the log, invert the mel filterbank, recover phase.

Steps, all batched on the device of the input:

1. :func:`~avseq.transforms.mel.from_log` undoes the log and any normalization.
2. :func:`mel_to_linear` maps the mel spectrogram back to STFT bins with the
   filterbank's pseudo-inverse, clamped at zero, then refines that with a few
   projected-gradient steps of non-negative least squares (``nnls_iter``). The
   pseudo-inverse is one matmul (precomputed once per recipe); the NNLS steps
   close most of the gap to librosa's exact (and much slower, CPU-only) NNLS.
3. :func:`griffin_lim` runs fast Griffin-Lim (Perraudin et al. 2013, the momentum
   variant librosa and torchaudio implement) with its own STFT / inverse STFT pair so
   that padded items behave exactly as if processed alone: frames past an item's length
   are masked out of the overlap-add *and* of its window envelope, and each item is
   reflect-padded at its own end. For one unpadded item it computes what
   ``torchaudio.functional.griffinlim`` computes (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avseq.transforms.mel import (
    MelRecipe,
    frame_mask,
    from_log,
    get_recipe,
    mel_filterbank,
    num_samples,
    pad_reflect,
    reflect_index,
    stft_window,
)
from avseq.vocoders.base import check_options
from avseq.vocoders.options import GriffinLimOptions, PhaseInit


def mel_to_linear(
    mel: torch.Tensor, fb: torch.Tensor, fb_pinv: torch.Tensor, nnls_iter: int = 16
) -> torch.Tensor:
    """Non-negative STFT bins whose mel projection best matches ``mel``.

    mel: (B, n_mels, T) linear mel; fb: (n_freqs, n_mels) filterbank; fb_pinv: its
    pseudo-inverse, (n_mels, n_freqs). Starts from ``relu(pinv @ mel)`` and takes
    ``nnls_iter`` projected-gradient steps on ||fb.T @ spec - mel||^2 with step
    1 / sigma_max(fb)^2. Returns (B, n_freqs, T) >= 0.
    """
    basis = fb.t()  # (n_mels, n_freqs): mel = basis @ spec
    spec = torch.matmul(fb_pinv.t(), mel).clamp(min=0)
    if nnls_iter <= 0:
        return spec
    step = 1.0 / torch.linalg.matrix_norm(basis, ord=2).pow(2).clamp(min=1e-12)
    for _ in range(nnls_iter):
        spec = (spec - step * (basis.t() @ (basis @ spec - mel))).clamp(min=0)
    return spec


def _stft(
    wave: torch.Tensor, index: tuple | None, n_fft: int, hop: int, window: torch.Tensor
) -> torch.Tensor:
    """Centred STFT with per-item reflect padding: (B, N) -> (B, n_fft//2+1, N//hop+1) complex.

    ``index`` comes from :func:`reflect_index`, or is None when every item fills the batch.
    """
    padded = pad_reflect(wave, None, n_fft // 2, index)
    return torch.stft(padded, n_fft, hop, window.shape[0], window, center=False, return_complex=True)


def _padded_window(window: torch.Tensor, n_fft: int) -> torch.Tensor:
    """The analysis window centred in ``n_fft`` samples, as torch.stft applies it."""
    left = (n_fft - window.shape[0]) // 2
    return F.pad(window, (left, n_fft - window.shape[0] - left))


def overlap_add(frames: torch.Tensor, hop: int) -> torch.Tensor:
    """(B, n, T) frames -> (B, n + hop * (T - 1)) signal with frame t added from sample t * hop.

    As ``F.fold`` computes it, in ``ceil(n / hop)`` strided adds of whole rows: on the CPU
    fold's column loop was half of Griffin-Lim's time.
    """
    b, n, t = frames.shape
    chunks = -(-n // hop)
    out = frames.new_zeros((b, (t + chunks - 1) * hop))
    for j in range(chunks):  # rows j*hop.. of every frame land in one run of t * hop samples
        rows = frames[:, j * hop : (j + 1) * hop]
        out[:, j * hop : (j + t) * hop].view(b, t, hop)[..., : rows.shape[1]] += rows.transpose(1, 2)
    return out[:, : n + hop * (t - 1)]


def _inverse_envelope(win: torch.Tensor, mask: torch.Tensor, hop: int) -> torch.Tensor:
    """1 / (overlap-added squared window) per item, 0 where no valid frame covers a sample.

    win: (n_fft,); mask: (B, 1, T) valid frames. Returns (B, n_fft + hop * (T - 1)).
    """
    env = overlap_add(win.pow(2).view(1, -1, 1) * mask, hop)
    return torch.where(env > 1e-11, 1.0 / env.clamp(min=1e-11), torch.zeros_like(env))


def _istft(
    spec: torch.Tensor, win: torch.Tensor, inv_env: torch.Tensor, hop: int, length: int
) -> torch.Tensor:
    """Inverse of :func:`_stft` normalised by each item's own envelope (``_inverse_envelope``).

    spec: (B, F, T) complex with zeros in padded frames. Returns (B, length).
    """
    n_fft = win.shape[0]
    frames = torch.fft.irfft(spec, n=n_fft, dim=1) * win.view(1, -1, 1)
    total = inv_env.shape[1]
    wave = overlap_add(frames, hop) * inv_env
    start = n_fft // 2
    return F.pad(wave[:, start : start + length], (0, max(0, length - (total - start))))


def _initial_phase(
    shape: tuple[int, int, int], init: PhaseInit, seed: int, device: torch.device
) -> torch.Tensor:
    """Unit-modulus complex phases (B, F, T). "random" draws one frame-major stream from ``seed``
    (on the CPU), so an item gets the same first T frames whatever its batch or device."""
    b, f, t = shape
    if init == "zeros":
        return torch.ones(shape, dtype=torch.complex64, device=device)
    gen = torch.Generator().manual_seed(seed)
    phase = (torch.rand((t, f), generator=gen).t() * (2 * torch.pi)).to(device)
    return torch.polar(torch.ones_like(phase), phase).expand(b, f, t)


def griffin_lim(
    magnitude: torch.Tensor,
    frame_lengths: torch.Tensor,
    *,
    n_fft: int,
    hop_length: int,
    window: torch.Tensor,
    n_iter: int = 32,
    momentum: float = 0.99,
    init: PhaseInit = "random",
    seed: int = 0,
) -> torch.Tensor:
    """Fast Griffin-Lim on a padded batch of STFT magnitudes.

    magnitude: (B, n_fft//2+1, T) >= 0; frame_lengths: (B,) valid frames per item;
    window: (win_length,). Returns wave (B, (T - 1) * hop_length); samples past
    ``(frame_lengths - 1) * hop_length`` are zero.
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    b, _, t = magnitude.shape
    mask = frame_mask(frame_lengths, t).to(magnitude.dtype)
    magnitude = magnitude * mask
    wave_lengths = (frame_lengths - 1).clamp(min=0) * hop_length
    length = (t - 1) * hop_length
    if length == 0:
        return magnitude.new_zeros((b, 0))
    full = bool((wave_lengths == length).all()) and length > n_fft // 2
    index = None if full else reflect_index(wave_lengths, length, n_fft // 2)
    win = _padded_window(window, n_fft)
    inv_env = _inverse_envelope(win, mask, hop_length)
    angles = _initial_phase(tuple(magnitude.shape), init, seed, magnitude.device)
    prev = torch.zeros((), dtype=angles.dtype, device=magnitude.device)
    coef = momentum / (1 + momentum)
    for _ in range(n_iter):
        wave = _istft(magnitude * angles, win, inv_env, hop_length, length)
        rebuilt = _stft(wave, index, n_fft, hop_length, window)
        angles = torch.sgn(torch.sub(rebuilt, prev, alpha=coef) if momentum else rebuilt)
        prev = rebuilt
    wave = _istft(magnitude * angles, win, inv_env, hop_length, length)
    keep = torch.arange(length, device=wave.device).view(1, -1) < wave_lengths.view(-1, 1)
    return wave * keep


class GriffinLim(nn.Module):
    """Vocoder: log-mel of ``recipe`` -> waveform by mel inversion + fast Griffin-Lim.

    ``forward(log_mel (B, n_mels, T), lengths (B,) | None) -> (wave (B, N), wave_lengths (B,))``
    with ``N = (T - 1) * hop_length`` and ``wave_lengths = (lengths - 1) * hop_length``.
    Runs on the device of ``log_mel``. ``init="random"`` with a fixed ``seed`` is
    deterministic; ``init="zeros"`` starts from zero phase. The options are checked by
    :class:`GriffinLimOptions` (ConfigError naming the bad one).
    """

    def __init__(
        self,
        recipe: MelRecipe | str | dict,
        n_iter: int = 32,
        momentum: float = 0.99,
        nnls_iter: int = 16,
        init: PhaseInit = "random",
        seed: int = 0,
    ) -> None:
        super().__init__()
        options = dict(n_iter=n_iter, momentum=momentum, nnls_iter=nnls_iter, init=init, seed=seed)
        o = check_options(GriffinLimOptions, options, "Griffin-Lim")
        self.recipe = get_recipe(recipe)
        self.n_iter, self.momentum, self.nnls_iter, self.init, self.seed = (
            o.n_iter, o.momentum, o.nnls_iter, o.init, o.seed
        )  # fmt: skip
        fb = mel_filterbank(self.recipe).double()
        self.register_buffer("fb", fb.float(), persistent=False)
        self.register_buffer("fb_pinv", torch.linalg.pinv(fb).float(), persistent=False)
        self.register_buffer("window", stft_window(self.recipe), persistent=False)

    @property
    def sample_rate(self) -> int:
        """Output sample rate in Hz (the recipe's)."""
        return self.recipe.sample_rate

    @torch.no_grad()
    def forward(
        self, log_mel: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if log_mel.dim() != 3 or log_mel.shape[1] != self.recipe.n_mels:
            raise ValueError(
                f"log_mel must be (B, n_mels={self.recipe.n_mels}, T), got shape {tuple(log_mel.shape)}"
            )
        device = log_mel.device
        b, _, t = log_mel.shape
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.int64)
        lengths = lengths.to(device=device, dtype=torch.int64)
        mel = from_log(log_mel.float(), self.recipe)
        spec = mel_to_linear(mel, self.fb.to(device), self.fb_pinv.to(device), self.nnls_iter)
        if self.recipe.power != 1.0:
            spec = spec.pow(1.0 / self.recipe.power)
        wave = griffin_lim(
            spec,
            lengths,
            n_fft=self.recipe.n_fft,
            hop_length=self.recipe.hop_length,
            window=self.window.to(device),
            n_iter=self.n_iter,
            momentum=self.momentum,
            init=self.init,
            seed=self.seed,
        )
        return wave, num_samples(lengths, self.recipe)

    def extra_repr(self) -> str:
        return f"recipe={self.recipe.name!r}, n_iter={self.n_iter}, momentum={self.momentum}"


def build_griffin_lim(recipe: MelRecipe, options: GriffinLimOptions) -> GriffinLim:
    """Registry builder: ``build_vocoder("griffin-lim", recipe, n_iter=32, ...)``."""
    return GriffinLim(recipe, **options.model_dump())
