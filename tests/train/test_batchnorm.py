import torch

from avseq.data.collate import collate_caption
from avseq.train.batchnorm import batchnorm_layers, recompute_batchnorm
from avseq.train.loop import setup


def test_batchnorm_statistics_become_those_of_the_current_weights(tiny_config):
    cfg = tiny_config("caption")
    run = setup(cfg, cfg.output_dir)
    system, first = run.system, batchnorm_layers(run.system)[0]
    for m in batchnorm_layers(system):
        m.running_mean.fill_(123.0)  # stale averages, far from anything the weights produce
    system.eval()
    rng = torch.get_rng_state()
    used = recompute_batchnorm(system, run.train_set, "caption", batches=2, batch_size=2, device=run.device)
    assert used == 2 and not system.training and first.momentum == 0.1
    assert torch.equal(torch.get_rng_state(), rng)  # the training RNG stream is untouched
    # the first layer's mean: the first convolution's mean per batch of two clips, averaged
    means = []
    for i in (0, 2):
        video = collate_caption([run.train_set[i], run.train_set[i + 1]]).video
        mask = torch.arange(video.data.shape[1])[None] < video.lengths[:, None]
        with torch.no_grad():
            conv = system.encoder.backbone.features[0](
                (video.data[mask] - system.encoder.mean) / system.encoder.std
            )
        means.append(conv.mean((0, 2, 3)))
    torch.testing.assert_close(first.running_mean, (means[0] + means[1]) / 2)


def test_a_frozen_encoder_keeps_its_statistics(tiny_config):
    cfg = tiny_config("caption")
    run = setup(cfg, cfg.output_dir)
    run.system.encoder.freeze()
    assert batchnorm_layers(run.system) == []
    assert (
        recompute_batchnorm(run.system, run.train_set, "caption", batches=2, batch_size=3, device=run.device)
        == 0
    )


def test_zero_batches_changes_nothing(tiny_config):
    cfg = tiny_config("caption")
    run = setup(cfg, cfg.output_dir)
    before = {k: v.clone() for k, v in run.system.state_dict().items()}
    recompute_batchnorm(run.system, run.train_set, "caption", batches=0, batch_size=3, device=run.device)
    assert all(torch.equal(before[k], v) for k, v in run.system.state_dict().items())


def test_only_the_trained_members_of_a_concatenated_encoder_are_recomputed(tiny_config):
    from tests.train.conftest import ENCODER

    cfg = tiny_config("caption", system={"encoder": [ENCODER, {**ENCODER, "frozen": True}]})
    run = setup(cfg, cfg.output_dir)
    trained, frozen = run.system.encoder.members
    layers = batchnorm_layers(run.system)
    assert {id(m) for m in layers} == {
        id(m) for m in trained.modules() if isinstance(m, torch.nn.BatchNorm2d)
    }
    kept = {k: v.clone() for k, v in frozen.state_dict().items()}
    recompute_batchnorm(run.system, run.train_set, "caption", batches=1, batch_size=2, device=run.device)
    assert all(torch.equal(v, frozen.state_dict()[k]) for k, v in kept.items())
