"""Rewards: hand-computed values (per pair, scalar math) against the vectorised code, and hostile text."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqr1.errors import ConfigError
from vqr1.inference.thurstone import normal_cdf_torch
from vqr1.train.rewards import EPS, GAMMA, REWARD_NAMES, reward_functions

TOP = 1 + 2 * math.sqrt(EPS)  # upper bound of the fidelity form
RANGES = {
    "fidelity": TOP,
    "binary": TOP,
    "fixed_variance": TOP,
    "prob_average": 1.0,
    "threshold": 1.0,
    "format": 1.0,
}


def phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def fid(p: float, pk: float) -> float:
    return math.sqrt(p * pk + EPS) + math.sqrt((1 - p) * (1 - pk) + EPS)


def truth(mos_i: float, mos_j: float) -> float:
    return 1.0 if mos_i > mos_j else 0.0 if mos_i < mos_j else 0.5


def mean_var(xs: list[float]) -> tuple[float, float]:
    mu = sum(xs) / len(xs)
    return mu, (sum((x - mu) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0)


def hand_fidelity(scores: list[list[float]], mos: list[float]) -> list[float]:
    """The SPEC formula written pair by pair with scalar math (an independent reference)."""
    stats = [mean_var(s) for s in scores]
    out = []
    for i, row in enumerate(scores):
        for q in row:
            terms = []
            for j in range(len(scores)):
                if j == i:
                    continue
                pk = phi((q - stats[j][0]) / math.sqrt(stats[i][1] + stats[j][1] + GAMMA))
                terms.append(fid(truth(mos[i], mos[j]), pk))
            out.append(sum(terms) / len(terms))
    return out


def call(
    name: str,
    scores: list[list[object]],
    mos: list[float],
    datasets: list[str] | None = None,
    groups: list[int] | None = None,
    ids: list[str] | None = None,
    **kw,
):
    """Run the TRL reward ``name`` on answers built from ``scores`` (None = a completion without a number);
    ``groups`` gives each image's ranking group (the trainer's column), ``ids`` its image_id."""
    completions, id_col, mos_col, ds_col, group_col = [], [], [], [], []
    for i, row in enumerate(scores):
        for s in row:
            answer = "no idea" if s is None else s
            completions.append(f"<think>looks fine</think><answer>{answer}</answer>")
            id_col.append(ids[i] if ids else f"img{i}")
            mos_col.append(mos[i])
            ds_col.append(datasets[i] if datasets else "kadid10k")
            group_col.append(groups[i] if groups else 0)
    (fn,) = reward_functions([name], **kw)
    columns = {"ranking_group": group_col} if groups else {}
    return fn(
        prompts=[None] * len(completions),
        completions=completions,
        image_id=id_col,
        mos=mos_col,
        dataset=ds_col,
        **columns,
    )


@pytest.mark.parametrize(
    ("scores", "mos"),
    [
        ([[4.0, 3.0], [2.0, 1.0]], [4.2, 2.0]),  # B=2, K=2
        ([[3.1, 2.4], [4.0, 4.5], [1.2, 2.9]], [3.0, 3.0, 1.5]),  # B=3, K=2, a MOS tie
        ([[3.0, 3.5, 2.5, 4.0, 3.2, 2.8], [1.5, 2.0, 2.6, 1.1, 3.3, 2.2]], [1.0, 4.0]),  # B=2, K=6, misranked
        (
            [[2.0, 4.1, 3.3, 1.7, 4.9, 2.2], [3.0, 3.1, 2.9, 3.0, 3.6, 2.4], [1.0, 1.4, 1.2, 2.0, 1.1, 1.9]],
            [4, 3, 2],
        ),
    ],
)
def test_fidelity_matches_the_pairwise_formula(scores: list[list[float]], mos: list[float]) -> None:
    got = call("fidelity", scores, mos)
    np.testing.assert_allclose(got, hand_fidelity(scores, mos), rtol=1e-12, atol=1e-12)


def test_all_equal_scores_give_zero_variance() -> None:
    # var = 0 everywhere: q - mu_j = 0 gives Phi(0) = 1/2; a gap of 1 over sqrt(gamma) saturates Phi.
    same = call("fidelity", [[3.0, 3.0], [3.0, 3.0]], [4.0, 2.0])
    assert same == pytest.approx([fid(1, 0.5)] * 2 + [fid(0, 0.5)] * 2, abs=1e-12)
    apart = call("fidelity", [[4.0, 4.0], [3.0, 3.0]], [4.0, 2.0])
    assert apart == pytest.approx([fid(1, 1.0)] * 4, abs=1e-12)


def test_unparsable_is_zero_and_left_out_of_the_statistics() -> None:
    got = call("fidelity", [[4.0, None], [2.0, 1.0]], [4.0, 2.0])
    # image 0 keeps one score: mu = 4, var = 0 (fewer than two scores)
    expected_first = fid(1, phi((4.0 - 1.5) / math.sqrt(0 + 0.5 + GAMMA)))
    expected_b = [fid(0, phi((q - 4.0) / math.sqrt(0.5 + 0 + GAMMA))) for q in (2.0, 1.0)]
    assert got == pytest.approx([expected_first, 0.0, *expected_b], abs=1e-12)


def test_paper_mode_substitutes_a_seeded_random_integer_1_to_5() -> None:
    got = call("fidelity", [[4.0, None], [2.0, 1.0]], [4.0, 2.0], unparsable="paper", seed=7)
    fallback = float(np.random.default_rng(7).integers(1, 5, endpoint=True))
    assert got == pytest.approx(hand_fidelity([[4.0, fallback], [2.0, 1.0]], [4.0, 2.0]), abs=1e-12)
    # the reference's random.randint(1, 5): every integer 1..5 is drawn, and nothing between them
    # (threshold reward: 1 when the fallback lies within 0.35 of the MOS)
    (fn,) = reward_functions(["threshold"], unparsable="paper", seed=1)

    def hits(mos: float) -> float:
        return sum(fn(completions=["x"] * 400, image_id=["a"] * 400, mos=[mos] * 400, dataset=["d"] * 400))

    assert all(hits(m) > 0 for m in (1.0, 2.0, 3.0, 4.0, 5.0))
    assert not any(hits(m) for m in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5))


def test_an_image_without_scores_is_no_partner() -> None:
    got = call("fidelity", [[4.0, 3.0], [None, None], [2.0, 1.0]], [4.0, 3.0, 2.0])
    without = hand_fidelity([[4.0, 3.0], [2.0, 1.0]], [4.0, 2.0])  # as if the middle image were absent
    assert got == pytest.approx([*without[:2], 0.0, 0.0, *without[2:]], abs=1e-12)


def test_binary_uses_a_hard_comparison_with_ties_at_one_half() -> None:
    # mu = [3.5, 2.0]: image 1's q = 3.5 ties with mu_0 (p_k = 1/2), its q = 0.5 is below (p_k = 0).
    got = call("binary", [[4.0, 3.0], [3.5, 0.5]], [4.0, 2.0])
    assert got == pytest.approx([fid(1, 1), fid(1, 1), fid(0, 0.5), fid(0, 0)], abs=1e-12)


def test_prob_average_is_the_expected_agreement() -> None:
    got = call("prob_average", [[4.0, 3.0], [2.0, 1.0]], [4.0, 2.0])
    pk = [phi((q - 1.5) / math.sqrt(1 + GAMMA)) for q in (4.0, 3.0)] + [
        phi((q - 3.5) / math.sqrt(1 + GAMMA)) for q in (2.0, 1.0)
    ]
    assert got == pytest.approx([pk[0], pk[1], 1 - pk[2], 1 - pk[3]], abs=1e-12)


def test_fixed_variance_ignores_the_sample_variance() -> None:
    got = call("fixed_variance", [[4.0, 2.0], [2.5, 2.5]], [4.0, 2.0])
    expected = [fid(1, phi((q - 2.5) / math.sqrt(2 + GAMMA))) for q in (4.0, 2.0)]
    expected += [fid(0, phi((2.5 - 3.0) / math.sqrt(2 + GAMMA)))] * 2
    assert got == pytest.approx(expected, abs=1e-12)


def test_threshold_rewards_answers_near_the_mos() -> None:
    assert call("threshold", [[4.3, 3.6], [None, 2.0]], [4.0, 2.0]) == [1.0, 0.0, 0.0, 1.0]


def test_pairs_never_cross_datasets() -> None:
    scores, mos = [[4.0, 3.0], [2.0, 1.0], [3.0, 3.5]], [4.0, 2.0, 1.0]
    mixed = call("fidelity", scores, mos, datasets=["kadid10k", "kadid10k", "spaq"])
    assert mixed[:4] == pytest.approx(hand_fidelity(scores[:2], mos[:2]), abs=1e-12)
    assert mixed[4:] == [0.0, 0.0]  # no partner of its own dataset


def test_pairs_stay_inside_their_ranking_group() -> None:
    """One call holding two groups of two images (accumulation): each is ranked as if it were alone, even
    when an image id repeats across groups."""
    scores, mos = [[4.0, 3.0], [2.0, 1.0], [3.0, 3.5], [1.5, 4.5]], [4.0, 2.0, 1.0, 3.0]
    got = call("fidelity", scores, mos, groups=[0, 0, 1, 1], ids=["a", "b", "a", "c"])
    alone = hand_fidelity(scores[:2], mos[:2]) + hand_fidelity(scores[2:], mos[2:])
    assert got == pytest.approx(alone, abs=1e-12)
    assert call("fidelity", scores, mos) != pytest.approx(alone, abs=1e-6)  # one group of four differs


def test_conversational_completions_and_metrics() -> None:
    logged: dict[str, float] = {}
    (fn,) = reward_functions(["fidelity"])
    completions = [
        [{"role": "assistant", "content": f"<think>x</think><answer>{s}</answer>"}] for s in (4, 3, 2)
    ]
    completions.append([{"role": "assistant", "content": [{"type": "text", "text": "nothing"}]}])
    got = fn(
        prompts=[None] * 4,
        completions=completions,
        image_id=["a", "a", "b", "b"],
        mos=[4.0, 4.0, 2.0, 2.0],
        dataset=["d"] * 4,
        log_metric=logged.__setitem__,
    )
    assert got[3] == 0.0 and min(got[:3]) > 0.5
    # image a: std of (4, 3); image b has a single parsed score, so no spread
    assert logged == pytest.approx({"parse_failure_rate": 0.25, "score_std": math.sqrt(0.5)})


def test_format_reward() -> None:
    (fn,) = reward_functions(["format"])
    texts = [
        "<think>a\nb</think>\n<answer>3</answer>",
        "<think>a</think><answer>3</answer> trailing",
        "<answer>3</answer>",
        "<think></think><answer></answer>",
    ]
    assert fn(completions=texts) == [1.0, 0.0, 0.0, 1.0]
    assert fn.__name__ == "format"


def test_registry_names_and_errors() -> None:
    assert [f.__name__ for f in reward_functions(list(REWARD_NAMES))] == list(REWARD_NAMES)
    with pytest.raises(ConfigError, match="unknown reward"):
        reward_functions(["fidelity", "spearman"])
    with pytest.raises(ConfigError, match="unparsable"):
        call("fidelity", [[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0], unparsable="drop")


FRAGMENTS = st.sampled_from(
    [
        "<answer>",
        "</answer>",
        "<think>",
        "</think>",
        "nan",
        "inf",
        "-inf",
        "-",
        "-3.5",
        "1e308",
        "9" * 400,
        "0.000001",
        "٣",
        "３",
        "²",
        "4.25",
        ".",
        " ",
        "\n",
        "NaN",
        "-0",
    ]
)
TEXTS = st.one_of(st.text(max_size=60), st.lists(FRAGMENTS, max_size=12).map("".join))


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(TEXTS, min_size=2, max_size=24),
    k=st.integers(min_value=2, max_value=6),
    mos=st.lists(st.floats(1.0, 5.0), min_size=12, max_size=12),
    paper=st.booleans(),
)
def test_any_text_gives_finite_rewards_in_range(
    texts: list[str], k: int, mos: list[float], paper: bool
) -> None:
    n = len(texts) - len(texts) % k
    if n < 2 * k:
        texts = (texts * (2 * k))[: 2 * k]
        n = 2 * k
    texts = texts[:n]
    ids = [f"i{j // k}" for j in range(n)]
    mos_col = [mos[(j // k) % len(mos)] for j in range(n)]
    funcs = reward_functions(list(REWARD_NAMES), unparsable="paper" if paper else "skip")
    for fn in funcs:
        got = np.asarray(
            fn(prompts=[None] * n, completions=texts, image_id=ids, mos=mos_col, dataset=["d"] * n)
        )
        assert got.shape == (n,)
        assert np.isfinite(got).all(), fn.__name__
        assert (got >= 0).all() and (got <= RANGES[fn.__name__] + 1e-12).all(), (fn.__name__, got)


def test_score_clip_takes_absurd_answers_to_the_scale_end() -> None:
    # One answer of 10^4 inflates var(0), so every p_k(i, j) of the call drifts towards 1/2; clipped to
    # [1, 5] it counts exactly as an answer of 5 would.
    scores = [[4.0, 10_000.0], [2.0, 1.0], [3.0, 2.5]]
    mos = [4.0, 1.5, 3.0]
    clipped = call("fidelity", scores, mos, score_clip=(1.0, 5.0))
    np.testing.assert_allclose(clipped, hand_fidelity([[4.0, 5.0], [2.0, 1.0], [3.0, 2.5]], mos), atol=1e-12)
    raw = call("fidelity", scores, mos)
    np.testing.assert_allclose(raw, hand_fidelity(scores, mos), atol=1e-12)
    # the well-ranked answers of image 1 lose part of their margin without the clip
    assert sum(clipped[2:4]) > sum(raw[2:4]) + 0.1


def test_score_spread_is_the_mean_per_image_std() -> None:
    from vqr1.train.rewards import score_batch, score_spread

    texts = [f"<answer>{s}</answer>" for s in (1.0, 3.0, 2.0, 2.0, 5.0)] + ["none"]
    batch = score_batch(texts, ["a", "a", "b", "b", "c", "c"], [1.0] * 6)
    # a: std of (1, 3) = sqrt(2); b: 0; c has one parsed score and no std
    assert score_spread(batch) == pytest.approx((math.sqrt(2) + 0.0) / 2, abs=1e-12)


def test_the_torch_normal_cdf_matches_phi() -> None:
    """Where SciPy is absent (a GPU image) the rewards use torch's ndtr: the same Phi to float64 rounding."""
    z = np.linspace(-40, 40, 2001).reshape(3, -1)
    expected = np.array([[0.5 * math.erfc(-x / math.sqrt(2)) for x in row] for row in z])
    np.testing.assert_allclose(normal_cdf_torch(z), expected, rtol=1e-13, atol=1e-16)
    assert normal_cdf_torch(z).shape == z.shape and normal_cdf_torch(z).dtype == np.float64
