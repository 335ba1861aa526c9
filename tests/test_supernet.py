"""The supernet holds every design as a path: the network it extracts for a spec is the one
``build_model`` builds, with inherited weights, and computes what the supernet computes on that path."""

from __future__ import annotations

import pytest
import torch

from slwsr_search import PRESETS
from slwsr_search.model.network import SLWSR
from slwsr_search.model.spec import ArchSpec, BlockSpec, random_spec
from slwsr_search.model.supernet import SuperNet

torch.manual_seed(0)


@pytest.mark.parametrize("expansions", ["shared", "separate"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_an_extracted_network_computes_the_supernets_path(scale, expansions):
    net = SuperNet(scale, max_feats=12, max_expand=6, expansions=expansions).eval()
    specs = [random_spec(seed, scales=(scale,), n_feats=(4, 8, 12), types=("res", "ir")) for seed in range(3)]
    x = torch.rand(2, 3, 9, 11) * 255
    for spec in specs:
        model = net.extract(spec).eval()
        assert isinstance(model, SLWSR) and model.spec == spec
        with torch.no_grad():
            assert torch.allclose(model(x), net(x, spec), atol=1e-3, rtol=1e-5), spec.arch


def test_the_papers_designs_are_paths_of_a_wide_enough_supernet():
    net = SuperNet(4, max_feats=16, max_expand=6).eval()
    x = torch.rand(1, 3, 8, 8) * 255
    for name in ("s-lwsr16", "s-lwsr16-half"):
        with torch.no_grad():
            assert torch.allclose(net.extract(PRESETS[name])(x), net(x, PRESETS[name]), atol=1e-3)


def _expansions_2_and_6(net: SuperNet) -> tuple[torch.Tensor, torch.Tensor]:
    """The first slot's expand weight that a design with expansion 2, and one with 6, inherit."""
    a = PRESETS["s-lwsr16"].replace(n_feats=8)
    blocks = list(a.blocks)
    blocks[0] = BlockSpec("ir", 2, True)
    b2 = a.replace(blocks=tuple(blocks))
    blocks[0] = BlockSpec("ir", 6, True)
    b6 = a.replace(blocks=tuple(blocks))
    w2 = net.extract(b2).state_dict()["extractor.0.blocks.0.body.0.weight"]
    w6 = net.extract(b6).state_dict()["extractor.0.blocks.0.body.0.weight"]
    assert w2.shape[0] == 16 and w6.shape[0] == 48
    return w2, w6


def test_shared_expansions_share_their_leading_hidden_channels():
    w2, w6 = _expansions_2_and_6(SuperNet(4, max_feats=8, max_expand=6))
    assert torch.equal(w2, w6[:16])


def test_separate_expansions_hold_a_weight_each_and_train_apart():
    net = SuperNet(4, max_feats=8, max_expand=6, blocks=(("res", None), ("ir", 2), ("ir", 6)), expansions="separate")
    assert sorted(net.slots[0].ir) == ["2", "6"] and not hasattr(net.slots[0], "expand")
    w2, w6 = _expansions_2_and_6(net)
    assert not torch.equal(w2, w6[:16])
    spec = PRESETS["s-lwsr16"].replace(n_feats=8)
    spec = spec.replace(blocks=(BlockSpec("ir", 2, True), *spec.blocks[1:]))
    net(torch.rand(1, 3, 6, 6) * 255, spec).mean().backward()
    assert net.slots[0].ir["2"].expand.weight.grad is not None and net.slots[0].ir["6"].expand.weight.grad is None


def test_an_unknown_expansions_setting_is_refused_naming_it():
    with pytest.raises(ValueError, match="expansions: expected one of shared, separate, got 'split'"):
        SuperNet(4, max_feats=8, max_expand=6, expansions="split")


@pytest.mark.parametrize("change, msg", [
    (dict(n_feats=32), "n_feats: 32 is over the supernet's 16"),
    (dict(scale=2), "scale: the supernet is x4, the spec x2"),
])
def test_a_spec_outside_the_supernet_is_refused_naming_the_field(change, msg):
    with pytest.raises(ValueError, match=msg):
        SuperNet(4, max_feats=16, max_expand=6).extract(PRESETS["s-lwsr16"].replace(**change))


# ----- training it, scoring with inherited weights --------------------------------------------

import random  # noqa: E402

import optuna  # noqa: E402

from helpers import DATA  # noqa: E402
from slwsr_search.search.evaluators import InheritedWeights  # noqa: E402
from slwsr_search.search.record import TrialRecord  # noqa: E402
from slwsr_search.sr.evaluate import evaluate_pairs, model_upscaler  # noqa: E402
from slwsr_search.training.supernet import (SupernetPlan, SupernetTraining, fair_paths,  # noqa: E402
                                            score_design, supernet_speedups, train_supernet)

CHOICES = [BlockSpec("res"), BlockSpec("ir", 1), BlockSpec("ir", 2), BlockSpec("ir", 4)]


def _draw(rng: random.Random):
    return random_spec(rng, n_feats=(4, 8), scales=(DATA.scale,), max_expand=4, types=("res", "ir"))


def test_strict_fairness_uses_every_choice_once_per_slot():
    paths = fair_paths(_draw, CHOICES, random.Random(1))
    assert len(paths) == len(CHOICES)
    for slot in range(len(paths[0].blocks)):
        assert sorted((p.blocks[slot].type, p.blocks[slot].expand or 0) for p in paths) == [
            ("ir", 1), ("ir", 2), ("ir", 4), ("res", 0)]


@pytest.mark.parametrize("sampling", ["fair", "uniform", "sandwich"])
def test_each_sampling_trains_the_shared_weights(sampling):
    net = SuperNet(DATA.scale, max_feats=8, max_expand=4)
    before = [p.detach().clone() for p in net.parameters()]
    big = _draw(random.Random(0)).replace(n_feats=8, blocks=tuple(BlockSpec("ir", 4) for _ in range(26)))
    small = _draw(random.Random(0)).replace(n_feats=4, blocks=tuple(BlockSpec("res") for _ in range(26)))
    seen = []
    losses = train_supernet(net, DATA.train, SupernetPlan(steps=2, batch_size=2, lr_patch=12, sampling=sampling),
                            _draw, CHOICES, extremes=(big, small), on_step=lambda k, loss: seen.append(k))
    assert seen == [1, 2] and all(0 < v < 255 for v in losses)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_the_sandwich_rule_logs_its_largest_paths_loss_against_the_ground_truth():
    from slwsr_search.training.supernet import SupernetTraining, _step

    net = SuperNet(DATA.scale, max_feats=8, max_expand=4)
    big = _draw(random.Random(0)).replace(n_feats=8, blocks=tuple(BlockSpec("ir", 4) for _ in range(26)))
    small = _draw(random.Random(0)).replace(n_feats=4, blocks=tuple(BlockSpec("res") for _ in range(26)))
    t = SupernetTraining(net, DATA.train, SupernetPlan(steps=1, batch_size=2, lr_patch=12, sampling="sandwich"),
                         _draw, CHOICES, (big, small))
    lr_img, hr_img = t.patches.sample()
    with torch.no_grad():
        truth = float(torch.nn.functional.l1_loss(net(lr_img, big), hr_img))
        distilled = float(torch.nn.functional.l1_loss(net(lr_img, small), net(lr_img, big)))
    assert _step(t, lr_img, hr_img) == pytest.approx(truth, rel=1e-5) and abs(truth - distilled) > 1


def test_the_sandwich_rule_needs_its_extremes():
    with pytest.raises(ValueError, match="needs the largest and the smallest path"):
        train_supernet(SuperNet(DATA.scale, 8, 4), DATA.train, SupernetPlan(1, 2, 12, sampling="sandwich"), _draw, CHOICES)
    with pytest.raises(ValueError, match="sampling: expected one of fair, uniform, sandwich, got 'spos'"):
        SupernetPlan(1, sampling="spos")


def _trained(device: str = "cpu", speedups=None, steps: int = 2) -> tuple[SuperNet, list[float], list]:
    """A small supernet trained ``steps`` uniform steps; its losses and the paths it drew."""
    torch.manual_seed(0)
    net, drawn = SuperNet(DATA.scale, max_feats=8, max_expand=4), []

    def draw(rng):
        drawn.append(_draw(rng))
        return drawn[-1]
    t = SupernetTraining(net, DATA.train, SupernetPlan(steps, 2, 12, sampling="uniform"), draw, CHOICES,
                         device=device, speedups=speedups)
    return net, t.run(), drawn


def test_a_gpus_switches_draw_the_same_paths_and_train_alike_on_a_cpu():
    """channels_last and bf16 autocast (CUDA's defaults, supernet_speedups) run here on the CPU's
    bf16 path: the same paths and patches, losses within bf16's rounding, weights kept in fp32."""
    from slwsr_search.training.device import Speedups

    assert supernet_speedups("cuda").channels_last and supernet_speedups("cuda").train_bf16("cuda")
    assert not supernet_speedups("cpu").channels_last and not supernet_speedups("cpu").train_bf16("cpu")
    _, plain, paths = _trained()
    net, fast, fast_paths = _trained(speedups=Speedups(channels_last=True, cpu_bf16=True))
    assert [p.arch for p in fast_paths] == [p.arch for p in paths]
    assert all(abs(a - b) < 0.05 * a for a, b in zip(plain, fast)), (plain, fast)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert net.head.weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_supernet_trains_and_scores_on_cuda_as_on_the_cpu():
    _, cpu_losses, paths = _trained()
    net, gpu_losses, gpu_paths = _trained("cuda")
    assert [p.arch for p in gpu_paths] == [p.arch for p in paths] and next(net.parameters()).is_cuda
    assert all(abs(a - b) < 0.05 * a for a, b in zip(cpu_losses, gpu_losses))
    spec = paths[0]
    on_gpu = score_design(net, spec, DATA.val, "cuda")
    on_cpu = score_design(net.cpu(), spec, DATA.val)
    assert abs(on_gpu[0] - on_cpu[0]) < 1e-3 and abs(on_gpu[1] - on_cpu[1]) < 1e-4


def test_a_design_is_scored_as_its_extracted_network_scores():
    net = SuperNet(DATA.scale, max_feats=8, max_expand=4).eval()
    spec = _draw(random.Random(3))
    res = evaluate_pairs(DATA.val, model_upscaler(net.extract(spec).eval()), DATA.scale)
    assert score_design(net, spec, DATA.val) == (res.psnr, res.ssim)


def test_a_study_scored_with_inherited_weights_trains_nothing(monkeypatch):
    """The evaluator seam: the runner, the record and the front work unchanged with the supernet's scores."""
    from slwsr_search.search import rungs as rungs_mod
    from slwsr_search.search.runner import Runner, run_study
    from slwsr_search.search.study import StudyConfig

    monkeypatch.setattr(rungs_mod.Training, "run", lambda *a, **k: pytest.fail("a training ran"))
    cfg = StudyConfig.load("smoke")
    net = SuperNet(cfg.space.scale, max_feats=8, max_expand=2).eval()
    runner = Runner(cfg, None, cfg.protocol_for("cpu"), "cpu", "supernet-test", evaluator=InheritedWeights(net, DATA.val))
    study = optuna.create_study(directions=cfg.directions, sampler=optuna.samplers.RandomSampler(seed=0))
    run_study(study, runner, n_trials=3, timeout=None)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert done
    for t in done:
        rec = TrialRecord.of(t)
        spec = ArchSpec.from_json(rec.spec)
        assert (rec.psnr, rec.ssim) == score_design(net, spec, DATA.val) and t.values[0] == rec.psnr
