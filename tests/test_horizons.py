"""The ranking at every horizon: regret, crossovers, leave-one-out fits, the extrapolated loss and
the summary over a ladder, on made-up audits whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from slwsr_search.audit.horizons import (crossovers, extrapolated_loss, horizon_summary, loo_scores,
                                         reference_curves, retest_tau, top1_regret)
from slwsr_search.audit.store import REFERENCE, SCREEN
from slwsr_search.reporting.fidelity import horizons_dict, horizons_html, horizons_text

ARCH = "x4-n16-{}-pool:h,2.1,3.1,4.1,5.1,5.2"
STEPS = [100, 1000, 5000]


def _arch(k: int) -> str:
    """A valid arch with k residual blocks (the rest ir2), for the block-mix share."""
    toks = ["R"] * k + ["I2"] * (26 - k)
    b = [3, 3, 3, 3, 2, 3, 3, 3, 3]
    groups, i = [], 0
    for n in b:
        groups.append("".join(toks[i:i + n]))
        i += n
    return ARCH.format(".".join(groups[:5]) + "-" + ".".join(groups[5:]))


def _audit(n: int = 6, seeds: int = 2) -> dict[str, dict]:
    """n designs: at 100 and 1,000 steps the reference ranks them by k; at 5,000, d0 and d1 swap
    places with the top two (d5, d4). The screening loss follows the early order, its PSNR the
    late one; d0 and d1 have a second reference seed, 0.01 dB above the first."""
    late = list(range(n))
    late[0], late[n - 1] = n - 1, 0
    late[1], late[n - 2] = n - 2, 1
    out = {}
    for k in range(n):
        h, common = f"h{k}", {"label": f"d{k}", "arch": _arch(2 * k), "params": 100_000 + 1000 * k, "macs": 10 ** 9 * (k + 1)}
        for s in range(seeds):
            out[f"{SCREEN}:{h}:{s}"] = {**common, "key": f"{SCREEN}:{h}:{s}", "hash": h, "role": SCREEN, "seed": s,
                                         "status": "ok", "psnr": 28.0 + late[k] * 0.01 + s * 0.001, "ssim": 0.8,
                                         "loss_mean": 10.0 - k, "loss_tail": 9.0 - k, "rung_loss": [12.0 - k, 9.0 - k]}
        for s in (0, 1) if k < 2 else (0,):
            curve = [{"step": t, "psnr": 26.0 + (k if t < 5000 else late[k]) * 0.1 + s * 0.01 + t * 1e-4, "ssim": 0.7,
                      "loss": 9.0} for t in STEPS]
            out[f"{REFERENCE}:{h}:{s}"] = {**common, "key": f"{REFERENCE}:{h}:{s}", "hash": h, "role": REFERENCE,
                                           "seed": s, "status": "ok", "psnr": curve[-1]["psnr"], "ssim": 0.7,
                                           "loss_mean": 9.0, "loss_tail": None, "steps": 5000, "curve": curve}
    return out


def test_top1_regret():
    assert top1_regret(np.array([3, 1, 2.0]), np.array([27.0, 27.5, 26.0])) == pytest.approx(0.5)
    assert top1_regret(np.array([1, 3, 2.0]), np.array([27.0, 27.5, 26.0])) == 0.0
    assert math.isnan(top1_regret(np.array([]), np.array([])))


def test_crossovers_name_the_pairs_that_swap_and_where():
    ref = pd.DataFrame([[27.0, 27.2, 27.3], [26.9, 27.25, 27.5], [26.0, 26.5, 26.6]], index=["a", "b", "c"],
                       columns=[500, 2000, 5000])
    (c,) = crossovers(ref)
    assert (c.ahead_early, c.ahead_late, c.flips) == ("a", "b", (2000,))
    assert c.margin_early == pytest.approx(0.1) and c.margin_late == pytest.approx(0.2)
    assert crossovers(ref[[500, 2000]].iloc[[0, 2]]) == []


def test_leave_one_out_never_sees_the_design_it_predicts():
    t = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert loo_scores(t, 2 * t["x"].to_numpy() + 1, ["x"]) == pytest.approx([3, 5, 7, 9, 11])
    y = np.array([1.0, 1.0, 1.0, 1.0, 6.0])  # an outlier: its own prediction comes from the other four
    assert loo_scores(t, y, ["x"])[-1] == pytest.approx(1.0)


def test_the_retest_tau_falls_as_the_seed_noise_nears_the_spread():
    ref = np.linspace(27.0, 28.0, 8)  # 0.14 dB apart
    assert retest_tau(ref, [1e-6]) == pytest.approx(1.0)
    noisy = [retest_tau(ref, [d]) for d in (0.01, 0.1, 0.3, 3.0)]
    assert noisy == sorted(noisy, reverse=True) and noisy[0] > 0.95 and abs(noisy[-1]) < 0.1
    assert math.isnan(retest_tau(ref, [])) and math.isnan(retest_tau(ref[:1], [0.1]))


def test_the_extrapolated_loss_follows_a_line_in_log_steps():
    loss = np.array([[10.0, 8.0], [9.0, 8.5]])
    mids = [math.log(math.sqrt(1 * 75)), math.log(math.sqrt(75 * 225))]
    got = extrapolated_loss(loss, [75, 225], 5000)
    slope = (np.array([8.0, 8.5]) - np.array([10.0, 9.0])) / (mids[1] - mids[0])
    assert got == pytest.approx(np.array([8.0, 8.5]) + slope * (math.log(5000) - mids[1]))
    assert got[0] < got[1]  # the faster learner is extrapolated ahead


def test_the_summary_scores_every_estimator_at_every_rung():
    recs = _audit()
    h = horizon_summary(recs, 2, n_boot=200, rung_steps=[75, 225])
    assert h.horizons == STEPS and len(h.reference) == 6
    assert {r.name for r in h.rows} >= {"psnr_seed0", "loss_tail", "params", "loss_extrap", "loss+logparams_loo"}
    by = {(r.horizon, r.name): r for r in h.rows}
    assert by[(100, "loss_tail")].tau == 1.0 and by[(100, "loss_tail")].regret == 0.0  # the loss follows the early order
    assert by[(5000, "psnr_seed0")].tau == 1.0 and by[(5000, "psnr_seed0")].regret == 0.0  # seed 0, the late one
    # the loss picks d5, last at 5,000 steps (26.5 dB); the best is d0 (27.0 dB, two seeds: +0.005)
    assert by[(5000, "loss_tail")].regret == pytest.approx(0.505)
    assert h.noise[5000] == [pytest.approx(0.01), pytest.approx(0.01)]
    swapped = {(c.ahead_early, c.ahead_late) for c in h.crossovers}
    assert ("d5", "d0") in swapped and ("d4", "d1") in swapped and ("d3", "d2") not in swapped
    text = horizons_text(h)
    assert "d0 overtakes d5" in text and "seed noise 0.010, 0.010 dB" in text
    assert h.retest[5000] > 0.95 and f"agree with it at Kendall tau {h.retest[5000]:.2f}" in text  # 0.01 dB: far below the spread
    d = horizons_dict(h)
    assert d["steps"] == STEPS and len(d["estimators"]) == len(h.rows) and d["reference_psnr"]["d0"][0] is not None
    assert d["reference_retest_tau"]["5000"] == pytest.approx(h.retest[5000])
    assert horizons_html(h).count("Kendall tau") >= 2


def test_a_reference_without_a_curve_is_one_rung():
    recs = _audit()
    for r in recs.values():
        r.pop("curve", None)
    assert set(reference_curves(recs)["step"]) == {5000}
    assert horizon_summary(recs, 2, n_boot=50).horizons == [5000]


@pytest.mark.parametrize("seed", range(4))
def test_the_row_forms_equal_the_plain_statistics(seed):
    """The bootstrap's all-resamples-at-once statistics equal the plain ones, ties included."""
    from slwsr_search.audit.stats import ROW_FORMS

    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 4, (50, 7)).astype(float), rng.normal(size=(50, 7))
    b[:, 0] = b[:, 1]  # ties in both
    for plain, rows in ROW_FORMS.items():
        got = rows(a, b)
        want = np.array([plain(x, y) for x, y in zip(a, b)])
        assert np.allclose(got, want, equal_nan=True), plain.__name__
