"""Off-policy estimators: unbiased on synthetic logs of known value, bounded where they
should be, and clear errors for bad propensities."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from fusionrank.datasets import DataValidationError, load_logs, logs_to_pages, obd_impressions
from fusionrank.evaluation.ope import (
    BanditLog,
    TargetPolicy,
    estimate_all,
    examination_from_logs,
    fit_reward_model,
    from_obd,
    from_pages,
    ips,
    pbm_ips,
    ranking_policy_target,
    ranking_target,
    snips,
    uniform_target,
)
from fusionrank.evaluation.ope.obd import validate_on_obd
from fusionrank.types import CandidateBatch, Query

N_ACTIONS, N_POSITIONS = 5, 2
W_CONTEXT = np.array([0.8, -0.5])
ACTION_EFFECT = np.array([-1.0, -0.5, 0.0, 0.4, 0.8])
POSITION_EFFECT = np.array([0.0, -0.7])


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _logging(x: np.ndarray) -> np.ndarray:
    """Logging policy, (n, K, A): prefers actions opposite to the best ones."""
    logits = -0.6 * ACTION_EFFECT[None, None, :] + 0.5 * x[:, None, :1] * np.arange(N_ACTIONS)
    return _softmax(np.broadcast_to(logits, (len(x), N_POSITIONS, N_ACTIONS)))


def _target(x: np.ndarray) -> np.ndarray:
    """Target policy, (n, K, A): prefers the best actions."""
    logits = 1.2 * ACTION_EFFECT[None, None, :] + 0.3 * x[:, None, 1:2]
    return _softmax(np.broadcast_to(logits, (len(x), N_POSITIONS, N_ACTIONS)))


def _q(x: np.ndarray) -> np.ndarray:
    """True click probability, (n, K, A): a logistic model the reward model can fit."""
    logit = (x @ W_CONTEXT)[:, None, None] + ACTION_EFFECT + POSITION_EFFECT[:, None] - 1.0
    return 1 / (1 + np.exp(-logit))


def _true_value(rng: np.random.Generator) -> float:
    x = rng.normal(size=(400_000, 2))
    return float((_target(x) * _q(x)).sum(axis=2).mean())


def _synthetic(n_pages: int, rng: np.random.Generator) -> tuple[BanditLog, TargetPolicy]:
    """n_pages pages of N_POSITIONS slots, each slot's item drawn from the logging policy."""
    x = rng.normal(size=(n_pages, 2))
    mu, pi, q = _logging(x), _target(x), _q(x)
    u = rng.random((n_pages, N_POSITIONS, 1))
    action = (u > np.cumsum(mu, axis=2)).sum(axis=2)  # (n, K) inverse-CDF draws
    page, slot = np.divmod(np.arange(n_pages * N_POSITIONS), N_POSITIONS)
    a = action.ravel()
    reward = (rng.random(len(a)) < q[page, slot, a]).astype(np.float64)
    log = BanditLog(
        reward=reward,
        action=a.astype(np.int64),
        position=slot.astype(np.int64),
        propensity=mu[page, slot, a],
        context=x[page],
        group=page.astype(np.int64),
        n_actions=N_ACTIONS,
        n_positions=N_POSITIONS,
    )
    actions = np.broadcast_to(np.arange(N_ACTIONS), (len(a), N_ACTIONS))
    target = TargetPolicy(actions, pi[page, slot], pi[page, :, a], "synthetic target")
    return log, target


@pytest.mark.slow
def test_estimators_are_unbiased_on_logs_of_known_value():
    # 150 independent logs of 300 pages; each estimator's mean over the logs must match
    # the true value within 3 standard errors of that mean (plus 0.003 for the small-sample
    # bias of the self-normalised ones and the reward model's estimation).
    truth = _true_value(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    names = ("IPS", "SNIPS", "DM", "DR", "SNDR")
    values = np.array(
        [
            [
                e.value
                for e in estimate_all(
                    *_synthetic(300, rng), n_bootstrap=0, rng=rng, estimators=names
                )
            ]
            for _ in range(150)
        ]
    )
    mean, se = values.mean(axis=0), values.std(axis=0, ddof=1) / np.sqrt(len(values))
    for name, m, s in zip(names, mean, se, strict=True):
        assert abs(m - truth) <= 3 * s + 0.003, (name, m, truth, s)
    assert values[:, 3].std() < values[:, 0].std()  # DR is less noisy than IPS here


def test_bootstrap_interval_covers_the_truth_and_reports_ess():
    truth = _true_value(np.random.default_rng(0))
    log, target = _synthetic(3000, np.random.default_rng(2))
    result = ips(log, target, rng=np.random.default_rng(3))
    assert result.ci[0] <= truth <= result.ci[1]
    assert result.n == 6000 and result.n_groups == 3000
    assert 0 < result.ess < result.n and result.std_error > 0


def test_snips_stays_within_the_reward_range_where_ips_does_not():
    rng = np.random.default_rng(4)
    n = 200
    propensity = np.where(rng.random(n) < 0.05, 1e-4, 0.5)  # a few huge weights
    log = BanditLog(
        reward=rng.random(n),
        action=np.zeros(n, np.int64),
        position=np.zeros(n, np.int64),
        propensity=propensity,
        context=np.zeros((n, 0)),
        group=np.arange(n, dtype=np.int64),
        n_actions=1,
        n_positions=1,
    )
    target = uniform_target(log)  # pi = 1 everywhere
    s = snips(log, target, rng=rng)
    assert log.reward.min() <= s.value <= log.reward.max()
    assert log.reward.min() <= s.ci[0] <= s.ci[1] <= log.reward.max()
    assert ips(log, target, rng=rng).value > log.reward.max()


def _pbm_log(n_pages: int, rng: np.random.Generator) -> tuple[BanditLog, np.ndarray, float]:
    """Slates of 3 slots under a position-based model: click = examined and attracted."""
    theta = np.array([1.0, 0.6, 0.3])
    alpha = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7])
    mu = _softmax(np.array([[1.0, 1, 0.5, 0, -0.5, -1]] * 3) * np.array([[1.0], [0], [-1]]))
    action = np.stack([rng.choice(6, n_pages, p=mu[k]) for k in range(3)], axis=1)
    clicks = rng.random((n_pages, 3)) < theta * alpha[action]
    page, slot = np.divmod(np.arange(n_pages * 3), 3)
    a = action.ravel()
    log = BanditLog(
        reward=clicks.ravel().astype(np.float64),
        action=a.astype(np.int64),
        position=slot.astype(np.int64),
        propensity=mu[slot, a],
        context=np.zeros((len(a), 0)),
        group=page.astype(np.int64),
        n_actions=6,
        n_positions=3,
    )
    best = np.array([5, 4, 3])  # the target shows the three most attractive items
    value = float((theta * alpha[best]).mean())  # per impression
    return log, best, value


def test_pbm_ips_is_unbiased_and_pools_the_slots():
    rng = np.random.default_rng(5)
    ips_values, pbm_values = [], []
    for _ in range(200):
        log, best, truth = _pbm_log(400, rng)
        page = np.broadcast_to(best, (log.n_groups, 3))
        target = ranking_target(log, page, "best three")
        ips_values.append(ips(log, target, n_bootstrap=0, rng=rng).value)
        pbm_values.append(
            pbm_ips(log, target, np.array([1.0, 0.6, 0.3]), n_bootstrap=0, rng=rng).value
        )
    for values in (np.array(ips_values), np.array(pbm_values)):
        assert abs(values.mean() - truth) <= 3 * values.std(ddof=1) / np.sqrt(len(values))
    assert np.std(pbm_values) < 0.8 * np.std(ips_values)


def test_examination_is_recovered_from_logs():
    log, _, _ = _pbm_log(60_000, np.random.default_rng(6))
    assert examination_from_logs(log) == pytest.approx([1.0, 0.6, 0.3], rel=0.1)


def _log_with(propensity: np.ndarray) -> BanditLog:
    n = len(propensity)
    return BanditLog(
        reward=np.zeros(n),
        action=np.zeros(n, np.int64),
        position=np.zeros(n, np.int64),
        propensity=propensity,
        context=np.zeros((n, 0)),
        group=np.arange(n, dtype=np.int64),
        n_actions=1,
        n_positions=1,
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.0, r"row 2, column 'propensity': is 0.0, but must be > 0"),
        (np.nan, r"row 2, column 'propensity': is missing \(NaN\)"),
        (1.5, r"row 2, column 'propensity': is 1.5, above 1"),
        (-0.2, r"row 2, column 'propensity': is -0.2, but must be > 0"),
    ],
)
def test_bad_propensities_are_refused_with_row_column_and_fix(value, message):
    propensity = np.array([0.5, 0.2, value, 0.3])
    with pytest.raises(DataValidationError, match=message) as error:
        _log_with(propensity)
    assert "log it at serving time" in str(error.value)


def test_logs_with_a_page_without_propensities_name_the_page(tiny_world):
    frame = load_logs(tiny_world / "data" / "logs.parquet")
    frame.at[7, "propensities"] = None
    with pytest.raises(DataValidationError, match=r"row 7, column 'propensities': is missing"):
        from_pages(logs_to_pages(frame))


def test_shopworld_logs_become_one_row_per_shown_item(tiny_world):
    pages = logs_to_pages(load_logs(tiny_world / "data" / "logs.parquet"))
    log = from_pages(pages, reward="purchases")
    assert len(log) == int(pages.shown.sum()) and log.n_groups == len(pages)
    assert log.reward.sum() == pages.purchases.sum()
    with pytest.raises(ValueError, match="reward='bogus'"):
        from_pages(pages, reward="bogus")


def test_obd_file_with_a_zero_propensity_names_the_csv_row(shared_data, tmp_path):
    source = shared_data / "obd" / "bts" / "men"
    folder = tmp_path / "bts" / "men"
    shutil.copytree(source, folder)
    frame = pd.read_csv(folder / "men.csv", index_col=0)
    frame.iloc[3, frame.columns.get_loc("propensity_score")] = 0.0
    frame.to_csv(folder / "men.csv")
    with pytest.raises(DataValidationError, match=r"row 3, column 'propensity_score'"):
        from_obd(obd_impressions(tmp_path, "bts", "men"))


def test_reward_models(tiny_world):
    log, target = _synthetic(300, np.random.default_rng(7))
    money = BanditLog(
        reward=log.reward * 25.0 + 1.0,
        action=log.action,
        position=log.position,
        propensity=log.propensity,
        context=log.context,
        group=log.group,
        n_actions=log.n_actions,
        n_positions=log.n_positions,
    )
    for model in ("logistic", "beta_binomial", "blend"):
        with pytest.raises(ValueError, match=f"reward_model='{model}' needs 0/1 rewards"):
            fit_reward_model(money, target, model=model, rng=np.random.default_rng(8))
    fitted = fit_reward_model(money, target, model="lightgbm", rng=np.random.default_rng(8))
    assert fitted.logged.shape == (len(money),) and np.all(fitted.target > 0)
    with pytest.raises(ValueError, match="n_folds"):
        fit_reward_model(log, target, n_folds=1, rng=np.random.default_rng(8))


def test_beta_binomial_prior_is_recovered_from_items_clicks():
    """Items' click rates drawn from Beta(2, 98) (mean 0.02, strength 100): the maximum
    marginal likelihood prior lands near both."""
    from fusionrank.evaluation.ope.reward_model import _beta_prior

    rng = np.random.default_rng(3)
    impressions = rng.integers(50, 3000, size=3000).astype(np.float64)
    clicks = rng.binomial(impressions.astype(np.int64), rng.beta(2.0, 98.0, size=3000))
    a, b = _beta_prior(clicks.astype(np.float64), impressions)
    assert abs(a / (a + b) - 0.02) < 0.001
    assert 70 < a + b < 140
    assert _beta_prior(np.zeros(5), np.full(5, 10.0))[0] / 1e6 < 1e-5  # no clicks at all


def test_beta_binomial_direct_method_on_a_context_free_world():
    """Click rates depend on (item, slot) only and the logging policy ignores the
    context: the beta-binomial direct method is near the true value of a uniform target
    (16 % high here: the logging policy shows the best items most, which pulls the
    fitted prior's mean up), while the logged click rate (what a constant model would
    say) is 78 % high."""
    rng = np.random.default_rng(11)
    n_items, n_slots, n = 60, 3, 60_000
    appeal = rng.beta(1.0, 60.0, size=n_items)  # click rate at slot 0
    examination = np.array([1.0, 0.7, 0.5])
    logging = np.exp(40 * appeal) / np.exp(40 * appeal).sum()  # favours the best items
    action = rng.choice(n_items, size=n, p=logging)
    position = rng.integers(0, n_slots, size=n)
    reward = (rng.random(n) < appeal[action] * examination[position]).astype(np.float64)
    log = BanditLog(
        reward=reward,
        action=action,
        position=position,
        propensity=logging[action],
        context=np.zeros((n, 0)),
        group=np.arange(n),
        n_actions=n_items,
        n_positions=n_slots,
    )
    truth = float(appeal.mean() * examination.mean())
    (dm,) = estimate_all(
        log,
        uniform_target(log),
        reward_model="beta_binomial",
        n_bootstrap=0,
        rng=np.random.default_rng(12),
        estimators=("DM",),
    )
    assert abs(dm.value - truth) / truth < 0.2, (dm.value, truth)
    assert abs(reward.mean() - truth) / truth > 0.5  # the logs alone are far off


def test_blend_is_the_mean_of_beta_binomial_and_a_model_blind_to_item_identity():
    """Pairs of items share their features: blend's feature side (2 * blend minus
    beta_binomial, on the same folds) predicts the same for both items of a pair at a
    slot (one value per cross-fitting fold), while beta_binomial tells them apart by
    their own clicks."""
    rng = np.random.default_rng(21)
    n_items, n = 6, 30_000
    action_context = np.repeat(np.eye(3), 2, axis=0)  # items (0,1), (2,3), (4,5) alike
    action = rng.integers(0, n_items, size=n)
    position = rng.integers(0, 2, size=n)
    rate = np.array([0.02, 0.06, 0.03, 0.03, 0.10, 0.05])[action] * (1.0 - 0.4 * position)
    log = BanditLog(
        reward=(rng.random(n) < rate).astype(np.float64),
        action=action,
        position=position,
        propensity=np.full(n, 1.0 / n_items),
        context=np.zeros((n, 0)),
        group=np.arange(n),
        n_actions=n_items,
        n_positions=2,
        action_context=action_context,
    )
    target = uniform_target(log)
    bb = fit_reward_model(log, target, model="beta_binomial", rng=np.random.default_rng(4))
    blend = fit_reward_model(log, target, model="blend", rng=np.random.default_rng(4))
    feature_side = 2 * blend.logged - bb.logged
    for slot in (0, 1):
        for pair in ((0, 1), (2, 3), (4, 5)):
            values = [
                set(np.round(feature_side[(action == i) & (position == slot)], 9)) for i in pair
            ]
            assert values[0] == values[1] and len(values[0]) == 3  # 3 folds
        item_0, item_1 = (bb.logged[(action == i) & (position == slot)].mean() for i in (0, 1))
        assert item_1 > 2 * item_0  # beta_binomial sees 0.06 against 0.02
    assert np.all((feature_side > 0) & (feature_side < 1))


class SlotPolicy:
    """A real RankingPolicy: scores each candidate by its first feature times ``sign``."""

    def __init__(self, sign: float) -> None:
        self.sign = sign

    @property
    def name(self) -> str:
        return f"slot x {self.sign:+g}"

    def fusion_weights(self, queries):
        return None

    def scores(self, candidates: CandidateBatch) -> np.ndarray:
        return self.sign * candidates.features[..., 0].astype(np.float64)


def _logged_candidates(pages) -> CandidateBatch:
    """Each logged page's shown items as its candidates, with feature 0 = logged slot."""
    slots = np.broadcast_to(np.arange(pages.slate_size, dtype=np.float32), pages.item_index.shape)
    return CandidateBatch(
        queries=tuple(
            Query(str(q), str(t))
            for q, t in zip(
                pages.query_ids[pages.query], pages.query_texts[pages.query], strict=True
            )
        ),
        item_index=pages.item_index,
        modality_scores=np.zeros((*pages.item_index.shape, 0), np.float32),
        features=slots[..., None].copy(),
        mask=pages.shown,
        modality_names=(),
        feature_names=("slot",),
    )


def test_a_ranking_policy_becomes_a_target_policy(tiny_world):
    pages = logs_to_pages(load_logs(tiny_world / "data" / "logs.parquet"))
    log = from_pages(pages)
    candidates = _logged_candidates(pages)
    same = ranking_policy_target(SlotPolicy(-1.0), candidates, log)  # the logged order
    assert np.all(same.logged_prob(log) == 1.0)
    assert ips(log, same, n_bootstrap=0, rng=np.random.default_rng(0)).value == pytest.approx(
        (log.reward / log.propensity).mean()
    )
    reverse = ranking_policy_target(SlotPolicy(1.0), candidates, log)
    # A full page of 10 reversed keeps no item at its slot; each item sits at 9 - slot.
    full = pages.shown.all(axis=1)[log.group]
    assert np.all(reverse.logged_prob(log)[full] == 0.0)
    at = reverse.position_probs[full].argmax(axis=1)
    np.testing.assert_array_equal(at, pages.slate_size - 1 - log.position[full])


def test_obd_check_runs_on_real_logs(shared_data):
    result = validate_on_obd(shared_data / "obd", "men", n_runs=2, n_bootstrap=200)
    assert result.relative_errors.shape == (len(result.estimators), 2)
    summary = result.summary()
    assert summary["DM"]["relative_error"] < 0.5
    raw = pd.read_csv(shared_data / "obd" / "bts" / "men" / "men.csv", index_col=0)
    assert summary["IPS"]["value"] == pytest.approx(
        (raw["click"] / (34 * raw["propensity_score"])).mean()
    )
