"""The training loop as plain functions, its config, checkpoints and schedule.

Public API: ``load_config(path, overrides) -> TrainConfig``, ``train(cfg, run_dir, resume,
stop_at) -> TrainResult``; the pieces ``setup``, ``train_step``, ``validate``,
``save_checkpoint``, ``restore``; ``save_training_state`` / ``load_training_state``;
``lr_factor`` / ``build_scheduler``.
"""

from avseq.train.config import TrainConfig, config_from_dict, load_config
from avseq.train.loop import TrainResult, restore, save_checkpoint, setup, train
from avseq.train.schedule import build_scheduler, lr_factor
from avseq.train.state import CheckpointError, load_training_state, save_training_state
from avseq.train.steps import LossOptions, StepStats, train_step
from avseq.train.validation import validate

__all__ = [
    "CheckpointError",
    "LossOptions",
    "StepStats",
    "TrainConfig",
    "TrainResult",
    "build_scheduler",
    "config_from_dict",
    "load_config",
    "load_training_state",
    "lr_factor",
    "restore",
    "save_checkpoint",
    "save_training_state",
    "setup",
    "train",
    "train_step",
    "validate",
]
