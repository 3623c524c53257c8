"""The vocoder registry is the only path: a registered vocoder is all the pipeline stage needs."""

from __future__ import annotations

import pytest
import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from avseq.errors import ConfigError
from avseq.pipeline.stages.compute import VocoderParams
from avseq.transforms.mel import MelRecipe, num_samples
from avseq.vocoders import VOCODERS, GriffinLim, VocoderType, build_vocoder


class ConstantOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: float = 0.0


class Constant:
    """A second vocoder: a constant wave of the right length."""

    def __init__(self, recipe: MelRecipe, options: ConstantOptions) -> None:
        self.recipe, self.sample_rate, self.level = recipe, recipe.sample_rate, options.level

    def __call__(self, log_mel: torch.Tensor, lengths: torch.Tensor | None = None):
        lengths = torch.full((log_mel.shape[0],), log_mel.shape[2]) if lengths is None else lengths
        wave_lengths = num_samples(lengths, self.recipe)
        return torch.full((log_mel.shape[0], int(wave_lengths.max())), self.level), wave_lengths


@pytest.fixture
def constant(monkeypatch):
    monkeypatch.setitem(VOCODERS._items, "constant", VocoderType(ConstantOptions, Constant))


def test_a_registered_vocoder_is_all_the_pipeline_needs(constant):
    params = VocoderParams.model_validate({"name": "constant", "level": 0.5})
    vocoder = build_vocoder(params.name, "default", **params.options)
    wave, lengths = vocoder(torch.zeros(1, 64, 3))
    assert torch.all(wave == 0.5) and lengths.tolist() == [320]
    with pytest.raises(
        ValidationError, match=r"unknown keys \['n_iter'\] for vocoder 'constant'; allowed: name, level"
    ):
        VocoderParams.model_validate({"name": "constant", "n_iter": 3})


def test_pipeline_files_spell_griffin_lim_with_an_underscore():
    params = VocoderParams.model_validate({"name": "griffin_lim", "n_iter": 32})  # pipelines/sound.yaml
    assert params.options == {"n_iter": 32}
    vocoder = build_vocoder(params.name, "default", **params.options)
    assert isinstance(vocoder, GriffinLim) and vocoder.n_iter == 32 and vocoder.nnls_iter == 16
    with pytest.raises(ValidationError, match="less than or equal to 1000"):
        VocoderParams.model_validate({"name": "griffin_lim", "n_iter": 5000})


def test_a_bad_option_is_one_config_error_naming_it():
    with pytest.raises(
        ConfigError, match=r"vocoder 'griffin-lim': n_iter: .* greater than or equal to 0 \(got -1\)"
    ):
        build_vocoder("griffin-lim", "default", n_iter=-1)
    with pytest.raises(ConfigError, match=r"Griffin-Lim: momentum: .* less than 1 \(got 1.5\)"):
        GriffinLim("default", momentum=1.5)
