"""Seeded synthetic e-commerce feed: the embedded default dataset of recsys_tf.

Simulates users browsing a personalised feed for 180 days: each request (page
view) shows a page of items chosen by a logging policy, and the user clicks,
likes, dislikes, rates, carts, favs and later buys some of them. The planted
ground truth (latent factors, per-request intents, the true preference of every
logged row, which clicks were accidental and which wanted items were missed) is
kept, so every model of the suite can be checked against an oracle. The
generative process is written out in `data_prep/SIMULATOR.md`.

The five mechanisms the suite's papers rely on can each be switched off for a
control run (`SWITCHES`): long-term interests that return only now and then
(DMAN), disliked brands that the policy keeps showing (XDM), explicit feedback
cleaner than clicks (DUMN, AutoDenoise), buys that follow carts and favs
(multi-feedback MF), and accidental / missed clicks (AutoDenoise).

Usage:
    python -m data_prep.synthetic --size=small --seed=0 \\
        --output=data/synthetic_small [--disable=label_noise,unclick_dislike] \\
        [--set=request_stay=0.9]

Example:
    log = generate("tiny", seed=0, output="/tmp/synthetic_tiny")
    truth = log.truth()
    pref = true_preference(truth, user_ids, request_ids)  # [n, num_items]
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from data_prep import common
from recsys_tf.data import schema

START_TIMESTAMP = 1_577_836_800
"""2020-01-01 00:00:00 UTC, the first second of every simulated log."""

SWITCHES = (
    "long_term_interests",
    "unclick_dislike",
    "explicit_cleaner",
    "buy_follows_cart",
    "label_noise",
)
"""The mechanism switches of `SimulatorConfig`; each is True by default."""

_EVENT_CODE = {name: code for code, name in enumerate(schema.EVENT_TYPES)}
_STREAMS = (
    "items",
    "users",
    "dislikes",
    "times",
    "chain",
    "episodes",
    "policy",
    "clicks",
    "feedback",
    "buys",
)

# Seconds after its request at which things happen. Requests of one user are at
# least _MIN_REQUEST_GAP apart, so the feedback of a request (clicks within
# _CLICK_WINDOW, explicit feedback a few seconds after its click, buys at
# _BUY_DELAY) never reaches the user's next request.
_MIN_REQUEST_GAP = 60
_CLICK_WINDOW = 40
_BUY_DELAY = 50


@dataclasses.dataclass(frozen=True)
class SimulatorConfig:
    """Every knob of the simulator; `SIZES` holds the named configurations.

    Preferences are logits: an item of preference `pref` is clicked on purpose
    with probability sigmoid(pref) (see `data_prep/SIMULATOR.md`).
    """

    # --- Sizes -------------------------------------------------------------
    num_users: int = 2_000  # Users, ids 0..num_users-1.
    num_items: int = 3_000  # Items, ids 0..num_items-1 (shuffled, not by category).
    num_categories: int = 40  # Item categories; sizes follow a Zipf law.
    num_category_groups: int = 8  # Groups of related categories (shared direction).
    requests_per_user: int = 60  # Requests (page views) per user over the span.
    requests_per_session: int = 4  # Consecutive requests minutes apart form a session.
    page_size: int = 10  # Items shown per request.
    days: float = 180.0  # Length of the log in days, from 2020-01-01 UTC.

    # --- Catalogue ---------------------------------------------------------
    latent_dim: int = 16  # Dimension of the planted latent vectors.
    category_zipf: float = 1.0  # Category size ~ rank ** -category_zipf.
    items_per_brand: float = 8.0  # Mean brand size; brands nest in categories.
    brand_zipf: float = 0.8  # Brand size within a category ~ rank ** -brand_zipf.
    group_share: float = 0.6  # Weight of the group direction in a category vector.
    brand_std: float = 0.5  # Spread of brand vectors around their category vector.
    item_std: float = 0.4  # Spread of item vectors around their brand.
    item_bias_std: float = 0.5  # Std of the item quality / popularity bias.
    num_price_levels: int = 5  # Item feature price_level in 0..num_price_levels-1.

    # --- Users -------------------------------------------------------------
    num_age_buckets: int = 6  # User feature age_bucket in 0..num_age_buckets-1.
    demographic_affinity: float = 1.0  # How strongly (age, gender) steer interests.
    interest_popularity: float = 0.0  # Long-term interests ~ category size ** this.
    chain_personal_std: float = 1.5  # Std of the personal lean of the chain.
    chain_drift_days: float = 30.0  # The personal lean decorrelates over this.
    num_long_term_interests: int = 3  # Long-term interest categories per user.
    user_std: float = 0.3  # Personal noise added to the long-term vector.
    num_disliked_brands: int = 2  # Disliked brands per user, in liked categories.

    # --- True preference (a click logit) ------------------------------------
    intent_weight: float = 4.0  # Weight of the request's intent category.
    long_term_weight: float = 2.0  # Weight of the stable long-term taste.
    price_weight: float = 0.3  # Penalty per price level away from the user's.
    dislike_penalty: float = 4.0  # Penalty on items of a disliked brand.
    pref_offset: float = -5.3  # Constant shift: sets the click rate.

    # --- Dynamics of the intent --------------------------------------------
    # P(short-term interest kept) between requests of a session: how much the last
    # clicks say about the next intent (README "Sequence signal on the simulator").
    request_stay: float = 0.7
    session_stay: float = 0.2  # P(short-term interest kept) between sessions.
    chain_relatedness: float = 3.0  # Short-term jumps favour related categories.
    long_term_session_rate: float = 0.4  # P(a session pursues a long-term interest).

    # --- Logging policy ----------------------------------------------------
    personalised_fraction: float = 0.7  # Share of the page chosen by the policy.
    policy_temperature: float = 0.5  # Softmax temperature of the policy.
    policy_intent_accuracy: float = 0.7  # P(policy knows the intent; else stale).
    policy_noise: float = 0.5  # Std of the policy's error per (request, category).
    policy_bias_noise: float = 0.3  # Std of the policy's error on item biases.

    # --- Clicks and label noise --------------------------------------------
    accidental_rate: float = 0.03  # P(click) on an impression not wanted.
    missed_rate: float = 0.15  # P(no click) on an impression wanted.

    # --- Explicit feedback and conversions (rates per click unless noted) ---
    like_rate: float = 0.15  # Likes per click.
    dislike_click_rate: float = 0.04  # Dislikes per click.
    dislike_impression_rate: float = 0.004  # Dislikes per unclicked impression.
    cart_rate: float = 0.10  # Carts per click.
    fav_rate: float = 0.08  # Favs per click.
    rating_rate: float = 0.2  # Share of clicks that get a 1..5 rating.
    feedback_sharpness: float = 1.5  # Slope of feedback probability in pref.
    like_threshold: float = 0.0  # Pref at which like / cart / fav weight is 1/2.
    dislike_threshold: float = -3.0  # Pref at which dislike weight is 1/2.
    rating_center: float = 3.9  # Rating at pref 0, before noise and rounding.
    rating_slope: float = 0.6  # Rating points per unit of pref.
    rating_noise: float = 0.7  # Std of the rating noise.
    buy_after_cart: float = 0.5  # P(a carted item is bought later).
    buy_after_fav: float = 0.25  # P(a faved item is bought later).
    buy_delay_requests: float = 3.0  # Mean requests between cart / fav and buy.

    # --- Mechanism switches (False = control run) ---------------------------
    long_term_interests: bool = True  # Sessions revisit long-term interests (DMAN).
    unclick_dislike: bool = True  # Disliked brands shown, not clicked (XDM).
    explicit_cleaner: bool = True  # Like / dislike follow the true pref.
    buy_follows_cart: bool = True  # Buys come from earlier carts / favs.
    label_noise: bool = True  # Accidental clicks and missed items.

    def __post_init__(self):
        positive = (
            "num_users",
            "num_items",
            "num_categories",
            "num_category_groups",
            "requests_per_user",
            "requests_per_session",
            "page_size",
            "latent_dim",
            "num_price_levels",
            "num_age_buckets",
            "num_long_term_interests",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value!r}"
                )
        if self.num_disliked_brands < 0:
            raise ValueError(
                "`num_disliked_brands` must be >= 0. "
                f"Received: num_disliked_brands={self.num_disliked_brands}"
            )
        if self.num_items < 2 * self.num_categories:
            raise ValueError(
                "`num_items` must be at least 2 * num_categories. Received: "
                f"num_items={self.num_items}, num_categories={self.num_categories}"
            )
        if 2 * self.page_size > self.num_items:
            raise ValueError(
                "`page_size` must be at most num_items / 2. Received: "
                f"page_size={self.page_size}, num_items={self.num_items}"
            )
        if self.num_long_term_interests > self.num_categories:
            raise ValueError(
                "`num_long_term_interests` must be <= num_categories. Received: "
                f"num_long_term_interests={self.num_long_term_interests}"
            )
        for name in (
            "days",
            "items_per_brand",
            "policy_temperature",
            "buy_delay_requests",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"`{name}` must be > 0. Received: {name}={getattr(self, name)}"
                )
        if self.items_per_brand < 1:
            raise ValueError(
                "`items_per_brand` must be >= 1. "
                f"Received: items_per_brand={self.items_per_brand}"
            )
        probabilities = (
            "group_share",
            "request_stay",
            "session_stay",
            "long_term_session_rate",
            "personalised_fraction",
            "policy_intent_accuracy",
            "accidental_rate",
            "missed_rate",
            "like_rate",
            "dislike_click_rate",
            "dislike_impression_rate",
            "cart_rate",
            "fav_rate",
            "rating_rate",
            "buy_after_cart",
            "buy_after_fav",
        )
        for name in probabilities:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"`{name}` must be in [0, 1]. Received: {name}={value}"
                )
        if self.like_rate + self.dislike_click_rate > 1.0:
            raise ValueError(
                "`like_rate + dislike_click_rate` must be <= 1. Received: "
                f"{self.like_rate} + {self.dislike_click_rate}"
            )
        for name in SWITCHES:
            if not isinstance(getattr(self, name), bool):
                raise TypeError(
                    f"`{name}` must be a bool. Received: {name}={getattr(self, name)!r}"
                )


SIZES: dict[str, SimulatorConfig] = {
    # Unit tests: generates in well under a second.
    "tiny": SimulatorConfig(
        num_users=100,
        num_items=300,
        num_categories=15,
        num_category_groups=4,
        requests_per_user=30,
        requests_per_session=3,
        page_size=10,
    ),
    # Default for reproduction runs.
    "small": SimulatorConfig(),
    # DUMN's reproduction (`make reproduce-dumn`): fewer users and items than
    # small, histories of small's kind (400 impressions per user), so that ten
    # behaviour-sequence CTR models x 3 seeds run on a 2-core CPU.
    "compact": SimulatorConfig(
        num_users=300,
        num_items=1_000,
        num_categories=30,
        num_category_groups=6,
        requests_per_user=40,
    ),
    # Benchmarks and long histories (3,000 impressions per user).
    "large": SimulatorConfig(
        num_users=10_000,
        num_items=20_000,
        num_categories=120,
        num_category_groups=20,
        requests_per_user=300,
        requests_per_session=5,
        num_long_term_interests=4,
        num_disliked_brands=3,
    ),
}
"""Named configurations: `tiny` (tests), `small` (default), `compact` (DUMN's
reproduction), `large` (benchmarks)."""


# --------------------------------------------------------------------------
# The oracle.
# --------------------------------------------------------------------------


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _scalar(truth, key):
    return float(np.asarray(truth[key]))


def true_preference(truth, user_ids, request_ids, item_ids=None) -> np.ndarray:
    """The planted preference of users at given requests (a click logit).

    pref(u, i, r) = intent_weight * <v_i, c_{g_r}> + long_term_weight * <v_i, w_u>
        + b_i - price_weight * |price_i - price_u|
        - dislike_penalty * [brand_i disliked by u] + pref_offset,
    where g_r is the intent category of request r (see `data_prep/SIMULATOR.md`).
    It is the `truth_pref` of every logged row.

    Args:
        truth: the planted truth, as returned by `EventLog.truth()` (the arrays of
            ``truth.npz``) or by `simulate_with_truth`.
        user_ids: int array [n].
        request_ids: int array [n]; each request must belong to its user.
        item_ids: None for every item, an int array [n] (one item per request)
            or [n, k] (k candidates per request).

    Returns:
        float64 [n, num_items] when `item_ids` is None, else of `item_ids`' shape.
        Memory is n * num_items floats: score all items in chunks of users.

    Raises:
        ValueError: shapes disagree or a request does not belong to its user.
    """
    users, requests = _check_requests(truth, user_ids, request_ids)
    if item_ids is None:
        return _preference_all(truth, users, requests)
    items = _check_items(item_ids, len(users))
    return _preference(truth, users, requests, items.reshape(len(users), -1)).reshape(
        items.shape
    )


def _check_requests(truth, user_ids, request_ids):
    users = np.asarray(user_ids, dtype=np.int64)
    requests = np.asarray(request_ids, dtype=np.int64)
    if users.ndim != 1 or requests.shape != users.shape:
        raise ValueError(
            "`user_ids` and `request_ids` must be 1-D of the same length. Received "
            f"shapes {users.shape} and {requests.shape}"
        )
    owner = np.asarray(truth["request_user"])[requests]
    if np.any(owner != users):
        row = int(np.flatnonzero(owner != users)[0])
        raise ValueError(
            f"request {requests[row]} belongs to user {owner[row]}, "
            f"not to user {users[row]} (position {row})"
        )
    return users, requests


def _check_items(item_ids, n):
    items = np.asarray(item_ids, dtype=np.int64)
    if items.shape[:1] != (n,) or items.ndim > 2:
        raise ValueError(
            "`item_ids` must be [n] or [n, k] with n = len(user_ids). Received "
            f"shape {items.shape} for n={n}"
        )
    return items


POLICY_TRUTH = (
    "item_bias_estimate",
    "request_stale_intent",
    "page_size",
    "personalised_fraction",
    "policy_temperature",
    "policy_noise",
    "policy_intent_accuracy",
)
"""Truth arrays of the logging policy's state (absent from older truth files)."""


def next_click_probability(
    truth, user_ids, request_ids, item_ids=None, num_samples=256, seed=0
) -> np.ndarray:
    """P(item is clicked at the request): exposure times click probability.

    P(click i at r) = P(i on the page of r) * P(click | shown, pref(u, i, r)),
    the page and the clicks being drawn independently given the request's
    state: `exposure_probability` times `click_probability` (with the run's
    accidental and missed clicks). Ranking by it maximises the expected number
    of the request's clicks in a top-k list drawn before the request (the
    retrieval oracle). Arguments as in `true_preference`; `num_samples` and
    `seed` as in `exposure_probability`.
    """
    users, requests = _check_requests(truth, user_ids, request_ids)

    def every_item(rows):
        probability = exposure_probability(
            truth, users[rows], requests[rows], num_samples, seed
        )
        pref = _preference_all(truth, users[rows], requests[rows])
        return probability * click_probability(truth, pref)

    if item_ids is None:
        return every_item(slice(None))
    items = _check_items(item_ids, len(users))
    flat = items.reshape(len(users), -1)
    out = np.empty(flat.shape)
    for start in range(0, len(users), 2048):  # bounds the [rows, num_items] memory
        rows = slice(start, start + 2048)
        out[rows] = np.take_along_axis(every_item(rows), flat[rows], axis=1)
    return out.reshape(items.shape)


def exposure_probability(
    truth, user_ids, request_ids, num_samples=256, seed=0
) -> np.ndarray:
    """P(item on the page of the request) under the logging policy, [n, num_items].

    Given the state before request r (the user, the true intent g_r, the
    policy's stale guess g_{r-1} and its bias estimates b̂), the page is random
    (`data_prep/SIMULATOR.md`, Logging policy): the policy takes g_r with
    probability a (`policy_intent_accuracy`), else g_{r-1}; draws its noise and
    `2 M + 2` items i.i.d. from q(i) = P(k(i)) exp(b̂_i / τ) / Σ_{j∈k(i)}
    exp(b̂_j / τ); keeps the first M = round(φ P) distinct ones (the set A);
    fills the other P - |A| slots with a uniform subset of the n - |A| items not
    in A. Hence

        P(i shown) = Σ_g P(g) E[1(i ∈ A) + 1(i ∉ A) (P - |A|) / (n - |A|)],

    with the guess g summed exactly and the uniform fill exact given A. The
    inclusion probabilities of A (the first distinct draws of a non-uniform
    sampler under Gaussian noise on the category logits) have no closed form:
    the expectation is the mean over `num_samples` redraws of the policy's noise
    and draws per guess, with the simulator's own draw code, seeded by
    (`seed`, request id) so a request gets the same estimate in any batch. Its
    standard error is at most 0.5 / sqrt(num_samples) per item, and each row sums
    to exactly P. Memory and time: 2 * num_samples policy draws per distinct
    request.

    Raises:
        ValueError: the truth has no policy state (a truth.npz written before it
            was recorded), or as in `true_preference`.
    """
    missing = [key for key in POLICY_TRUTH if key not in truth]
    if missing:
        raise ValueError(
            f"the planted truth lacks {missing} (a truth.npz written by an older "
            "simulator): regenerate the dataset (python -m data_prep.synthetic)"
        )
    if num_samples < 1:
        raise ValueError(f"`num_samples` must be >= 1. Received: {num_samples}")
    users, requests = _check_requests(truth, user_ids, request_ids)
    policy = _policy(truth)
    unique, inverse = np.unique(requests, return_inverse=True)
    out = np.empty((len(unique), policy["num_items"]))
    block = max(1, 16384 // num_samples)
    for start in range(0, len(unique), block):
        chunk = unique[start : start + block]
        out[start : start + len(chunk)] = _exposure(
            truth, policy, chunk, num_samples, seed
        )
    return out[inverse.ravel()]


def _exposure(truth, policy, requests, num_samples, seed):
    """`exposure_probability` of distinct requests [b]."""
    b, s = len(requests), num_samples
    n, p, draws = policy["num_items"], policy["page_size"], policy["draws"]
    num_categories = len(policy["log_mass"])
    accuracy = policy["intent_accuracy"]
    guesses = np.stack(
        [truth["request_intent"][requests], truth["request_stale_intent"][requests]],
        axis=1,
    )
    noise, uniforms = [], []
    for request in requests:
        rng = np.random.default_rng([seed, int(request)])
        noise.append(rng.standard_normal((2 * s, num_categories)))
        uniforms.append(rng.random((2 * s, 2 * draws)))
    uniforms = np.concatenate(uniforms)
    users = np.repeat(truth["request_user"][requests], 2 * s)
    items = _policy_items(
        policy,
        np.repeat(guesses, s, axis=1).ravel(),
        policy["long_term_scores"][users],
        np.concatenate(noise),
        uniforms[:, :draws],
        uniforms[:, draws:],
    )
    chosen, _ = _first_distinct(items, policy["personal"])
    size = chosen.sum(axis=1)
    fill = (p - size) / (n - size)
    weight = np.tile(np.repeat([accuracy, 1.0 - accuracy], s), b) / s
    row = np.repeat(np.arange(b), 2 * s)
    cells = (row[:, None] * n + items)[chosen]
    shown = np.broadcast_to(((1.0 - fill) * weight)[:, None], items.shape)[chosen]
    inside = np.bincount(cells, weights=shown, minlength=b * n).reshape(b, n)
    return inside + np.bincount(row, weights=fill * weight, minlength=b)[:, None]


def true_click_probability(
    truth, user_ids, request_ids, item_ids=None, label_noise=True
) -> np.ndarray:
    """P(click) of users at requests: sigmoid(pref), then label noise if asked.

    With `label_noise`, P(click) = (1 - missed_rate) * sigmoid(pref)
    + accidental_rate * (1 - sigmoid(pref)) with the rates of the run (zero when
    the run had `label_noise=False`). Arguments as in `true_preference`.
    """
    pref = true_preference(truth, user_ids, request_ids, item_ids)
    return click_probability(truth, pref, label_noise)


def click_probability(truth, pref, label_noise=True) -> np.ndarray:
    """P(click) of items of true preference `pref` (e.g. a `truth_pref` column).

    sigmoid(pref), and with `label_noise` the run's accidental and missed clicks:
    (1 - missed_rate) * sigmoid(pref) + accidental_rate * (1 - sigmoid(pref)).
    """
    wanted = _sigmoid(np.asarray(pref, np.float64))
    if not label_noise:
        return wanted
    missed = _scalar(truth, "missed_rate")
    accidental = _scalar(truth, "accidental_rate")
    return (1.0 - missed) * wanted + accidental * (1.0 - wanted)


def _intent_query(truth, users, requests):
    intent = np.asarray(truth["request_intent"])[requests]
    return (
        _scalar(truth, "intent_weight") * truth["category_vectors"][intent]
        + _scalar(truth, "long_term_weight") * truth["user_long_term"][users]
    )


def _preference(truth, users, requests, items):
    """Preference for items [n, k] of users [n] at requests [n]."""
    query = _intent_query(truth, users, requests)
    pref = np.einsum("nkd,nd->nk", truth["item_vectors"][items], query)
    pref += truth["item_bias"][items]
    pref -= _scalar(truth, "price_weight") * np.abs(
        truth["item_price"][items] - truth["user_price"][users][:, None]
    )
    disliked = truth["disliked_brands"][users]  # [n, num_disliked], -1 padded.
    brands = truth["item_brand"][items]
    hit = np.zeros(items.shape, dtype=bool)
    for j in range(disliked.shape[1]):
        hit |= brands == disliked[:, j : j + 1]
    pref -= _scalar(truth, "dislike_penalty") * hit
    pref += _scalar(truth, "pref_offset")
    return pref


def _preference_all(truth, users, requests):
    """Preference for every item [n, num_items]."""
    query = _intent_query(truth, users, requests)
    pref = query @ truth["item_vectors"].T
    pref += truth["item_bias"][None, :]
    pref -= _scalar(truth, "price_weight") * np.abs(
        truth["item_price"][None, :] - truth["user_price"][users][:, None]
    )
    disliked = truth["disliked_brands"][users]
    hit = np.zeros(pref.shape, dtype=bool)
    for j in range(disliked.shape[1]):
        hit |= truth["item_brand"][None, :] == disliked[:, j : j + 1]
    pref -= _scalar(truth, "dislike_penalty") * hit
    pref += _scalar(truth, "pref_offset")
    return pref


# --------------------------------------------------------------------------
# Sampling helpers.
# --------------------------------------------------------------------------


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _zipf(n, exponent):
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return weights / weights.sum()


def _allocate(total, shares, minimum):
    """Integer sizes >= minimum summing to total, proportional to shares."""
    spare = total - minimum * len(shares)
    exact = shares * spare
    sizes = np.floor(exact).astype(np.int64)
    remainder = spare - sizes.sum()
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[:remainder]] += 1
    return sizes + minimum


def _row_keys(cum):
    """Flattened row-wise CDFs, row j shifted by j, for `_draw_rows`."""
    rows = cum.shape[0]
    keys = cum + np.arange(rows, dtype=np.float64)[:, None]
    keys[:, -1] = np.arange(1, rows + 1, dtype=np.float64)
    return keys.ravel()


def _draw_rows(keys, width, rows, uniforms):
    """Inverse-CDF draws: for each row index in `rows`, a column of that row."""
    index = np.searchsorted(keys, rows + uniforms, side="right") - rows * width
    return np.minimum(index, width - 1)


def _softmax_cdf(logits):
    """Row-wise CDF of softmax(logits) ([rows, n]; -inf entries get weight 0)."""
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    cum = np.cumsum(weights, axis=1)
    return cum / cum[:, -1:]


def _first_occurrence(values):
    """Mask of the first occurrence of each value within each row."""
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=1)
    first = np.ones(values.shape, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    mask = np.empty_like(first)
    np.put_along_axis(mask, order, first, axis=1)
    return mask


def _shaped_rate(rate, weights):
    """Per-row probabilities proportional to `weights`, averaging `rate`."""
    if weights.size == 0:
        return weights
    return np.clip(rate * weights / weights.mean(), 0.0, 1.0)


# --------------------------------------------------------------------------
# The generative process.
# --------------------------------------------------------------------------


def _make_items(config, rng):
    """Categories (Zipf sizes), brands nested in them, item vectors and biases.

    Arrays are indexed by item id except `slot_*`, which follow the items
    ordered by category (what the policy samples from).
    """
    n, c, d = config.num_items, config.num_categories, config.latent_dim
    category_sizes = _allocate(n, _zipf(c, config.category_zipf), 2)
    category_of_slot = np.repeat(np.arange(c), category_sizes)

    # Brands nest in categories: brand ids are contiguous within a category.
    brands_per_category = np.maximum(
        1, np.rint(category_sizes / config.items_per_brand).astype(np.int64)
    )
    brand_category = np.repeat(np.arange(c), brands_per_category)
    brand_first = np.concatenate([[0], np.cumsum(brands_per_category)[:-1]])
    brand_of_slot = np.empty(n, dtype=np.int64)
    start = 0
    for k in range(c):
        sizes = _allocate(
            category_sizes[k], _zipf(brands_per_category[k], config.brand_zipf), 1
        )
        brand_of_slot[start : start + category_sizes[k]] = brand_first[k] + np.repeat(
            np.arange(brands_per_category[k]), sizes
        )
        start += category_sizes[k]
    num_brands = len(brand_category)

    group = rng.integers(0, config.num_category_groups, size=c)
    group_vectors = _unit(rng.standard_normal((config.num_category_groups, d)))
    own = _unit(rng.standard_normal((c, d)))
    share = config.group_share
    category_vectors = _unit(
        share * group_vectors[group] + math.sqrt(1.0 - share**2) * own
    )
    brand_vectors = rng.standard_normal((num_brands, d)) / math.sqrt(d)
    item_noise = rng.standard_normal((n, d)) / math.sqrt(d)
    bias = config.item_bias_std * rng.standard_normal(n)
    brand_price = rng.integers(0, config.num_price_levels, size=num_brands)
    price = np.clip(
        brand_price[brand_of_slot] + np.rint(0.6 * rng.standard_normal(n)),
        0,
        config.num_price_levels - 1,
    ).astype(np.int64)
    vectors = (
        category_vectors[category_of_slot]
        + config.brand_std * brand_vectors[brand_of_slot]
        + config.item_std * item_noise
    )
    # Slot s (items ordered by category) holds item id slot_item[s].
    slot_item = rng.permutation(n)
    by_id = np.empty(n, dtype=np.int64)
    by_id[slot_item] = np.arange(n)
    return {
        "category_sizes": category_sizes,
        "category_share": category_sizes / n,
        "category_vectors": category_vectors,
        "category_group": group,
        "brand_category": brand_category,
        "brand_size": np.bincount(brand_of_slot, minlength=num_brands),
        "slot_item": slot_item,
        "slot_category": category_of_slot,
        "item_category": category_of_slot[by_id],
        "item_brand": brand_of_slot[by_id],
        "item_price": price[by_id],
        "item_vectors": vectors[by_id],
        "item_bias": bias[by_id],
    }


def _make_users(config, items, rng):
    """User features, long-term interests (steered by the features), taste."""
    u, c, k = config.num_users, config.num_categories, config.num_long_term_interests
    d = config.latent_dim
    age = rng.integers(0, config.num_age_buckets, size=u)
    gender = rng.integers(0, 2, size=u)
    affinity = config.demographic_affinity * rng.standard_normal(
        (config.num_age_buckets * 2, c)
    )
    group = age * 2 + gender
    logits = (
        config.interest_popularity * np.log(items["category_share"])[None, :]
        + affinity[group]
    )
    gumbel = rng.gumbel(size=(u, c))
    interests = np.argsort(-(logits + gumbel), axis=1, kind="stable")[:, :k]
    weights = rng.dirichlet(np.full(k, 2.0), size=u)
    long_term = np.einsum("uk,ukd->ud", weights, items["category_vectors"][interests])
    long_term += config.user_std * rng.standard_normal((u, d)) / math.sqrt(d)
    top_price = config.num_price_levels - 1
    age_share = age / max(1, config.num_age_buckets - 1)
    price = np.clip(
        top_price * (0.15 + 0.7 * age_share) + 0.7 * rng.standard_normal(u),
        0.0,
        top_price,
    )
    # The short-term chain leans to categories favoured by the user's group (and
    # by the user: a drifting lean drawn in the request loop).
    chain_affinity = config.demographic_affinity * rng.standard_normal(
        (config.num_age_buckets * 2, c)
    )
    return {
        "chain_tilt": chain_affinity[group],
        "age_bucket": age,
        "gender": gender,
        "interests": interests,
        "interest_weights": weights,
        "long_term": long_term,
        "price": price,
    }


def _pick_disliked_brands(config, items, users, rng):
    """A few brands per user, drawn by size from the user's long-term categories.

    Only categories with two brands or more qualify, so a user never dislikes a
    whole category. Padded with -1 when too few brands qualify.
    """
    u, k = config.num_users, config.num_disliked_brands
    brand_category = items["brand_category"]
    brands_in_category = np.bincount(brand_category, minlength=config.num_categories)
    eligible = brands_in_category[brand_category] >= 2
    brand_weight = np.where(eligible, items["brand_size"], 0).astype(np.float64)
    chosen = np.full((u, k), -1, dtype=np.int64)
    if k == 0:
        return chosen
    for start in range(0, u, 1024):
        block = slice(start, min(u, start + 1024))
        mass = np.zeros((block.stop - block.start, len(brand_category)))
        for j in range(config.num_long_term_interests):
            liked = users["interests"][block, j : j + 1] == brand_category[None, :]
            mass += liked * users["interest_weights"][block, j : j + 1]
        mass *= brand_weight[None, :]
        with np.errstate(divide="ignore"):
            keys = np.log(mass) + rng.gumbel(size=mass.shape)
        top = np.argsort(-keys, axis=1, kind="stable")[:, :k]
        valid = np.take_along_axis(mass, top, axis=1) > 0
        chosen[block] = np.where(valid, top, -1)
    return chosen


def _request_times(config, rng):
    """Timestamps [num_users, requests_per_user], strictly increasing per user.

    Sessions start on a jittered grid over the span (so every user is active in
    every part of it), requests within a session are minutes apart.
    """
    u, r, per = config.num_users, config.requests_per_user, config.requests_per_session
    sessions = -(-r // per)
    stratum = config.days * 86_400.0 / sessions
    starts = (np.arange(sessions) + rng.random((u, sessions))) * stratum
    gaps = _MIN_REQUEST_GAP + rng.exponential(180.0, size=(u, sessions * per))
    gaps = gaps.reshape(u, sessions, per)
    gaps[:, :, 0] = 0.0
    offsets = np.cumsum(gaps, axis=2).reshape(u, sessions * per)[:, :r]
    times = np.floor(np.repeat(starts, per, axis=1)[:, :r] + offsets).astype(np.int64)
    # Enforce the minimum gap even where a session runs into the next stratum.
    step = _MIN_REQUEST_GAP * np.arange(r)
    times = np.maximum.accumulate(times - step, axis=1) + step
    return START_TIMESTAMP + times


class _Timer:
    def __init__(self, progress):
        self.progress = progress
        self.start = time.perf_counter()

    def done(self, stage, detail):
        now = time.perf_counter()
        if self.progress is not None:
            self.progress(
                f"[synthetic] {stage}: {detail} ... done ({now - self.start:.1f} s)"
            )
        self.start = now


def simulate_with_truth(
    config: SimulatorConfig,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> tuple[schema.EventLog, dict[str, np.ndarray]]:
    """Runs the simulator; returns the event log and the planted truth.

    Args:
        config: the simulator settings.
        seed: the random seed; equal (config, seed) give identical output.
        progress: called with one line per stage, or None for silence.

    Returns:
        (log, truth): `log` in the canonical schema (validated dtypes, sorted by
        timestamp then user; `log.meta` holds the config and the seed), and the
        arrays `generate` writes to ``truth.npz`` (what `true_preference` needs).
    """
    log, truth = _simulate(config, seed, progress)
    return schema.validate(log), truth


def _simulate(config, seed, progress):
    """`simulate_with_truth` with compact, not yet validated event columns."""
    if not isinstance(config, SimulatorConfig):
        raise TypeError(f"`config` must be a SimulatorConfig, got {type(config)}")
    timer = _Timer(progress)
    # One stream per component, so a switch changes only what it controls.
    streams = dict(
        zip(
            _STREAMS,
            (
                np.random.default_rng(s)
                for s in np.random.SeedSequence(int(seed)).spawn(len(_STREAMS))
            ),
        )
    )
    items = _make_items(config, streams["items"])
    timer.done(
        "items",
        f"{config.num_items:,} items in {config.num_categories} categories, "
        f"{len(items['brand_category']):,} brands",
    )
    users = _make_users(config, items, streams["users"])
    disliked = _pick_disliked_brands(config, items, users, streams["dislikes"])
    if not config.unclick_dislike:
        disliked = np.full_like(disliked, -1)
    request_ts = _request_times(config, streams["times"])
    timer.done("users", f"{config.num_users:,} users")

    num_requests = config.num_users * config.requests_per_user
    truth = {
        "item_vectors": items["item_vectors"],
        "item_bias": items["item_bias"],
        "item_category": items["item_category"],
        "item_brand": items["item_brand"],
        "item_price": items["item_price"].astype(np.float64),
        "category_vectors": items["category_vectors"],
        "category_group": items["category_group"],
        "brand_category": items["brand_category"],
        "user_long_term": users["long_term"],
        "user_interests": users["interests"],
        "user_interest_weights": users["interest_weights"],
        "user_price": users["price"],
        "disliked_brands": disliked,
        "request_user": np.repeat(
            np.arange(config.num_users), config.requests_per_user
        ),
        "request_index": np.tile(np.arange(config.requests_per_user), config.num_users),
        "request_timestamp": request_ts.ravel(),
        "request_intent": np.full(num_requests, -1, dtype=np.int64),
        "request_short_term": np.full(num_requests, -1, dtype=np.int64),
        "request_is_long_term": np.zeros(num_requests, dtype=bool),
        "intent_weight": np.float64(config.intent_weight),
        "long_term_weight": np.float64(config.long_term_weight),
        "price_weight": np.float64(config.price_weight),
        "dislike_penalty": np.float64(config.dislike_penalty),
        "pref_offset": np.float64(config.pref_offset),
        "accidental_rate": np.float64(config.accidental_rate * config.label_noise),
        "missed_rate": np.float64(config.missed_rate * config.label_noise),
        # The logging policy (its bias estimates are added by `_run_requests`).
        "request_stale_intent": np.full(num_requests, -1, dtype=np.int64),
        "page_size": np.int64(config.page_size),
        "personalised_fraction": np.float64(config.personalised_fraction),
        "policy_temperature": np.float64(config.policy_temperature),
        "policy_noise": np.float64(config.policy_noise),
        "policy_intent_accuracy": np.float64(config.policy_intent_accuracy),
    }
    pages = _run_requests(config, items, users, truth, streams)
    timer.done(
        "requests",
        f"{num_requests:,} requests, {pages['click'].sum():,} clicks on "
        f"{pages['click'].size:,} impressions",
    )
    segments, counts = _feedback(
        config, pages, request_ts, truth, streams["feedback"], streams["buys"]
    )
    timer.done("feedback", ", ".join(f"{n:,} {t}" for t, n in counts.items()))
    log = _assemble(config, seed, items, users, pages, request_ts, segments)
    timer.done("events", f"{len(log.events):,} rows")
    return log, truth


def simulate(config: SimulatorConfig, seed: int) -> schema.EventLog:
    """Runs the simulator; `log.meta` holds the config and the seed.

    Use `simulate_with_truth` for the planted truth in memory, or `generate` to
    write the dataset folder with ``truth.npz``.
    """
    return simulate_with_truth(config, seed)[0]


def _run_requests(config, items, users, truth, streams):
    """The request loop: intents, pages, true preferences and clicks.

    Vectorised over users; one iteration per request index. Every stream draws
    the same shapes whatever the switches, so a control run shares the users,
    items, times and random numbers of the full run.
    """
    chain_rng, episode_rng = streams["chain"], streams["episodes"]
    policy_rng, click_rng = streams["policy"], streams["clicks"]
    u, r_total, p = config.num_users, config.requests_per_user, config.page_size
    c, n = config.num_categories, config.num_items
    everyone = np.arange(u)

    # The policy's noisy estimate of the item biases (its first draw) and what it
    # derives from them; the truth keeps both, for `next_click_probability`.
    truth["item_bias_estimate"] = items["item_bias"] + (
        config.policy_bias_noise * policy_rng.standard_normal(n)
    )
    policy = _policy(truth, items["slot_item"])

    # Short-term chain: jump to related (close direction), popular categories,
    # tilted by the user's demographic group.
    jump_logits = config.chain_relatedness * policy["gram"]
    np.fill_diagonal(jump_logits, -np.inf)
    tilt = 0.5 * np.log(items["category_share"])[None, :] + users["chain_tilt"]
    # The personal lean is an AR(1) process over sessions (e-folding time
    # chain_drift_days), so the short-term interest of old sessions says little
    # about recent ones.
    sessions = -(-r_total // config.requests_per_session)
    keep = math.exp(-config.days / sessions / config.chain_drift_days)
    lean = config.chain_personal_std * chain_rng.standard_normal((u, c))
    start_keys = _row_keys(_softmax_cdf(tilt + lean))
    interest_keys = _row_keys(np.cumsum(users["interest_weights"], axis=1))
    k = config.num_long_term_interests

    pages = np.empty((u, r_total, p), dtype=np.int32)
    prefs = np.empty((u, r_total, p))
    clicks = np.empty((u, r_total, p), dtype=bool)
    accidental = np.zeros((u, r_total, p), dtype=bool)
    missed = np.zeros((u, r_total, p), dtype=bool)
    chain = _draw_rows(start_keys, c, everyone, chain_rng.random(u))
    previous_guess = _draw_rows(start_keys, c, everyone, policy_rng.random(u))
    in_episode = np.zeros(u, dtype=bool)
    episode_category = chain
    for r in range(r_total):
        new_session = r % config.requests_per_session == 0
        # Intent: the short-term chain, or a long-term interest for a session.
        if new_session and r > 0:
            lean = keep * lean + math.sqrt(1.0 - keep**2) * (
                config.chain_personal_std * chain_rng.standard_normal((u, c))
            )
        stay = chain_rng.random(u)
        moved = _draw_rows(
            _row_keys(_softmax_cdf(jump_logits[chain] + tilt + lean)),
            c,
            everyone,
            chain_rng.random(u),
        )
        if r > 0:
            kept = config.session_stay if new_session else config.request_stay
            chain = np.where(stay < kept, chain, moved)
        if new_session:
            in_episode = episode_rng.random(u) < config.long_term_session_rate
            pick = _draw_rows(interest_keys, k, everyone, episode_rng.random(u))
            episode_category = users["interests"][everyone, pick]
        long_term_now = in_episode & config.long_term_interests
        intent = np.where(long_term_now, episode_category, chain)
        request_ids = everyone * r_total + r
        truth["request_intent"][request_ids] = intent
        truth["request_short_term"][request_ids] = chain
        truth["request_is_long_term"][request_ids] = long_term_now

        # Logging policy: a page of `personal` policy items and random items.
        truth["request_stale_intent"][request_ids] = previous_guess
        page = _draw_pages(
            policy, intent, previous_guess, policy["long_term_scores"], policy_rng
        )
        previous_guess = intent

        # True preference and clicks.
        pref = _preference(truth, everyone, request_ids, page)
        wanted = click_rng.random((u, p)) < _sigmoid(pref)
        miss_draw = click_rng.random((u, p))
        accident_draw = click_rng.random((u, p))
        if config.label_noise:
            missed[:, r] = wanted & (miss_draw < config.missed_rate)
            accidental[:, r] = ~wanted & (accident_draw < config.accidental_rate)
        clicks[:, r] = (wanted & ~missed[:, r]) | accidental[:, r]
        pages[:, r] = page
        prefs[:, r] = pref
    return {
        "item": pages,
        "pref": prefs,
        "click": clicks,
        "accidental": accidental,
        "missed": missed,
    }


def _policy(truth, slot_item=None):
    """The logging policy's fixed state, derived from the truth arrays.

    Category scores s_k = intent_weight <c_k, c_guess> + long_term_weight
    <c_k, w_u> (+ noise per request), category weights exp(b̂_i / τ) summed
    over the category, items of a category drawn ∝ exp(b̂_i / τ)
    (`data_prep/SIMULATOR.md`, Logging policy). `slot_item` lists the items
    ordered by category (the simulator's order); None orders them by id within
    their category, which draws from the same distribution.
    """
    category = np.asarray(truth["item_category"])
    vectors = truth["category_vectors"]
    sizes = np.bincount(category, minlength=len(vectors))
    if slot_item is None:
        slot_item = np.argsort(category, kind="stable")
    tau = _scalar(truth, "policy_temperature")
    estimate = truth["item_bias_estimate"]
    slot_weight = np.exp((estimate[slot_item] - estimate.max()) / tau)
    slot_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    category_mass = np.add.reduceat(slot_weight, slot_start)
    within = np.cumsum(slot_weight) - np.repeat(
        np.cumsum(category_mass) - category_mass, sizes
    )
    within /= np.repeat(category_mass, sizes)
    slot_end = slot_start + sizes
    within[slot_end - 1] = 1.0
    page_size = int(truth["page_size"])
    personal = round(page_size * _scalar(truth, "personalised_fraction"))
    return {
        "gram": vectors @ vectors.T,
        "long_term_scores": _scalar(truth, "long_term_weight")
        * (truth["user_long_term"] @ vectors.T),
        "log_mass": np.log(category_mass),
        "slot_keys": category[slot_item] + within,
        "slot_start": slot_start,
        "slot_end": slot_end,
        "slot_item": slot_item,
        "temperature": tau,
        "intent_weight": _scalar(truth, "intent_weight"),
        "noise": _scalar(truth, "policy_noise"),
        "intent_accuracy": _scalar(truth, "policy_intent_accuracy"),
        "page_size": page_size,
        "personal": personal,
        "draws": 2 * personal + 2 if personal else 0,
        "num_items": len(category),
    }


def _policy_items(policy, guess, long_term_scores, noise, category_draws, slot_draws):
    """The policy's personalised item draws [rows, draws], given its random numbers.

    Args:
        policy: `_policy`.
        guess: int [rows] the category the policy takes for the intent.
        long_term_scores: [rows, num_categories] rows of policy["long_term_scores"].
        noise: standard normal [rows, num_categories], the policy's error.
        category_draws, slot_draws: uniform [rows, draws], a category then an
            item of it per draw (inverse CDF).
    """
    num_categories = len(policy["log_mass"])
    scores = policy["intent_weight"] * policy["gram"][guess] + long_term_scores
    scores += policy["noise"] * noise
    logits = scores / policy["temperature"] + policy["log_mass"][None, :]
    categories = _draw_rows(
        _row_keys(_softmax_cdf(logits)),
        num_categories,
        np.arange(len(guess))[:, None],
        category_draws,
    )
    slots = np.searchsorted(policy["slot_keys"], categories + slot_draws, side="right")
    slots = np.clip(
        slots, policy["slot_start"][categories], policy["slot_end"][categories] - 1
    )
    return policy["slot_item"][slots]


def _draw_pages(policy, intent, stale, long_term_scores, rng):
    """One page per row, drawn by the logging policy (the simulator's draw order).

    The policy guesses the intent right with probability intent_accuracy, else
    takes `stale` (the previous request's intent); its first `personal` distinct
    draws fill the page, uniform items the rest; the page is shuffled.
    """
    rows, num_categories = long_term_scores.shape
    p, n, draws = policy["page_size"], policy["num_items"], policy["draws"]
    knows = rng.random(rows) < policy["intent_accuracy"]
    guess = np.where(knows, intent, stale)
    noise = rng.standard_normal((rows, num_categories))
    category_draws = rng.random((rows, draws))
    slot_draws = rng.random((rows, draws))
    policy_items = _policy_items(
        policy, guess, long_term_scores, noise, category_draws, slot_draws
    )
    random_items = rng.integers(0, n, size=(rows, 3 * p))
    order_keys = rng.random((rows, p))
    page = _fill_page(policy_items, random_items, policy["personal"], p, n, rng)
    return np.take_along_axis(page, np.argsort(order_keys, axis=1), axis=1)


def _first_distinct(values, count):
    """Mask of the first `count` distinct values of each row, and its rank."""
    first = _first_occurrence(values)
    rank = np.cumsum(first, axis=1)
    return first & (rank <= count), rank


def _fill_page(policy_items, random_items, personal, page_size, num_items, rng):
    """Distinct items per row: the first `personal` distinct policy draws, then
    distinct random items (not already on the page) up to `page_size`."""
    u = len(random_items)
    taken = np.full((u, max(personal, 1)), -1, dtype=np.int64)
    count = np.zeros(u, dtype=np.int64)
    if personal:
        chosen, rank = _first_distinct(policy_items, personal)
        rows, cols = np.nonzero(chosen)
        taken[rows, rank[rows, cols] - 1] = policy_items[rows, cols]
        count = chosen.sum(axis=1)
    fresh = _first_occurrence(random_items)
    fresh &= ~(random_items[:, :, None] == taken[:, None, :]).any(axis=2)
    rank = np.cumsum(fresh, axis=1)
    needed = page_size - count
    chosen_random = fresh & (rank <= needed[:, None])
    short = np.flatnonzero(chosen_random.sum(axis=1) < needed)
    page = np.empty((u, page_size), dtype=np.int64)
    page_from_policy = np.arange(page_size)[None, :] < count[:, None]
    page[page_from_policy] = taken[:, :page_size][
        np.arange(max(personal, 1))[None, :] < count[:, None]
    ]
    rows, cols = np.nonzero(chosen_random)
    page[rows, count[rows] + rank[rows, cols] - 1] = random_items[rows, cols]
    for row in short:  # Practically never: too few distinct random draws.
        have = page[row, : count[row]]
        extra = rng.permutation(np.setdiff1d(np.arange(num_items), have))
        page[row, count[row] :] = extra[: page_size - count[row]]
    return page


def _feedback(config, pages, request_ts, truth, rng, buy_rng):
    """Explicit feedback and conversions on the logged pages.

    Returns the event segments for `_assemble` and the count of each event type.
    """
    _, r_total, p = pages["item"].shape
    click = pages["click"].ravel()
    pref = pages["pref"].ravel()
    item = pages["item"].ravel()
    timestamps = request_ts.ravel()
    clicked = np.flatnonzero(click)
    n_click = len(clicked)
    request_of = clicked // p
    click_ts = (
        timestamps[request_of]
        + 2
        + (clicked % p * _CLICK_WINDOW) // p
        + rng.integers(0, 3, size=n_click)
    )
    click_pref = pref[clicked]

    # Explicit feedback on clicks: with `explicit_cleaner` its probability grows
    # (like, cart, fav) or falls (dislike) with the true preference, scaled so
    # that the mean rate per click is the configured one; without, it is flat.
    sharp = config.feedback_sharpness
    positive = _sigmoid(sharp * (click_pref - config.like_threshold))
    if config.explicit_cleaner:
        p_like = _shaped_rate(config.like_rate, positive)
        p_dislike = _shaped_rate(
            config.dislike_click_rate,
            _sigmoid(-sharp * (click_pref - config.dislike_threshold)),
        )
    else:
        p_like = np.full(n_click, config.like_rate)
        p_dislike = np.full(n_click, config.dislike_click_rate)
    opinion = rng.random(n_click)
    like = opinion < p_like
    dislike = (opinion >= 1.0 - p_dislike) & ~like
    cart = rng.random(n_click) < _shaped_rate(config.cart_rate, positive)
    fav = rng.random(n_click) < _shaped_rate(config.fav_rate, positive)
    rated = rng.random(n_click) < config.rating_rate
    rating = np.clip(
        np.rint(
            config.rating_center
            + config.rating_slope * click_pref
            + config.rating_noise * rng.standard_normal(n_click)
        ),
        1,
        5,
    )
    feedback_ts = click_ts + 1 + rng.integers(0, 5, size=(5, n_click))

    # Dislikes on unclicked impressions (the "not interested" button).
    unclicked = np.flatnonzero(~click)
    if config.explicit_cleaner:
        p_shown = _shaped_rate(
            config.dislike_impression_rate,
            _sigmoid(-sharp * (pref[unclicked] - config.dislike_threshold)),
        )
    else:
        p_shown = config.dislike_impression_rate
    shown = unclicked[rng.random(len(unclicked)) < p_shown]
    del unclicked, p_shown
    shown_ts = (
        timestamps[shown // p]
        + 2
        + (shown % p * _CLICK_WINDOW) // p
        + rng.integers(0, 3, size=len(shown))
    )

    # Buys: a carted / faved item may be bought a few requests later.
    p_buy = 1.0 - (1.0 - cart * config.buy_after_cart) * (
        1.0 - fav * config.buy_after_fav
    )
    decides = buy_rng.random(n_click) < p_buy
    delay = buy_rng.geometric(1.0 / config.buy_delay_requests, size=n_click)
    later = request_of % r_total + delay
    buys = np.flatnonzero(decides & (later < r_total))
    if config.buy_follows_cart:
        buy_request = request_of[buys] - request_of[buys] % r_total + later[buys]
    else:
        # Control: as many buys, on clicks drawn uniformly, in the same request.
        buys = np.sort(buy_rng.choice(n_click, size=len(buys), replace=False))
        buy_request = request_of[buys]
    buy_user = buy_request // r_total
    buy_item = item[clicked[buys]]
    buy_ts = (
        timestamps[buy_request] + _BUY_DELAY + buy_rng.integers(0, 10, size=len(buys))
    )
    buy_pref = _preference(truth, buy_user, buy_request, buy_item[:, None])[:, 0]

    segments = [
        {"type": "impression", "rows": None, "truth_missed": pages["missed"].ravel()},
        {
            "type": "click",
            "rows": clicked,
            "timestamp": click_ts,
            "truth_accidental": pages["accidental"].ravel()[clicked],
        },
        {"type": "like", "rows": clicked[like], "timestamp": feedback_ts[0][like]},
        {
            "type": "dislike",
            "rows": clicked[dislike],
            "timestamp": feedback_ts[1][dislike],
        },
        {"type": "dislike", "rows": shown, "timestamp": shown_ts},
        {"type": "cart", "rows": clicked[cart], "timestamp": feedback_ts[2][cart]},
        {"type": "fav", "rows": clicked[fav], "timestamp": feedback_ts[3][fav]},
        {
            "type": "rating",
            "rows": clicked[rated],
            "timestamp": feedback_ts[4][rated],
            "value": rating[rated],
        },
        {
            "type": "buy",
            "rows": None,
            "user_id": buy_user,
            "item_id": buy_item,
            "request_id": buy_request,
            "timestamp": buy_ts,
            "truth_pref": buy_pref,
        },
    ]
    counts = {name: 0 for name in schema.EVENT_TYPES}
    for segment in segments:
        counts[segment["type"]] += _segment_size(segment, pages)
    return segments, counts


# Compact dtypes while assembling; `schema.validate` widens them to int64 and
# float64. Sorting and writing tens of millions of rows needs that headroom.
_COMPACT = {
    "user_id": np.int32,
    "item_id": np.int32,
    "timestamp": np.int64,
    "event": np.int8,
    "value": np.float32,
    "request_id": np.int32,
    "truth_pref": np.float64,
    "truth_accidental": bool,
    "truth_missed": bool,
}


def _segment_size(segment, pages):
    if segment["rows"] is not None:
        return len(segment["rows"])
    if "user_id" in segment:
        return len(segment["user_id"])
    return pages["item"].size


def _segment_column(segment, name, pages, request_ts):
    """One column of one segment; rows index the flattened impressions."""
    if name in segment:
        return segment[name]
    u, r_total, p = pages["item"].shape
    size = _segment_size(segment, pages)
    rows = segment["rows"]
    if name == "event":
        return np.full(size, _EVENT_CODE[segment["type"]], dtype=np.int8)
    if name == "value":
        return np.ones(size, dtype=np.float32)
    if name in ("truth_accidental", "truth_missed"):
        return np.zeros(size, dtype=bool)
    if rows is None:  # Every impression, in (user, request, position) order.
        if name == "user_id":
            return np.repeat(np.arange(u, dtype=np.int32), r_total * p)
        if name == "request_id":
            return np.repeat(np.arange(u * r_total, dtype=np.int32), p)
        if name == "timestamp":
            return np.repeat(request_ts.ravel(), p)
        if name == "item_id":
            return pages["item"].ravel()
        return pages["pref"].ravel()
    if name == "user_id":
        return rows // (r_total * p)
    if name == "request_id":
        return rows // p
    if name == "item_id":
        return pages["item"].ravel()[rows]
    return pages["pref"].ravel()[rows]


def _assemble(config, seed, items, users, pages, request_ts, segments):
    """The three tables, events sorted by (timestamp, user_id), column by column."""

    def column(name):
        parts = [_segment_column(s, name, pages, request_ts) for s in segments]
        return np.concatenate([x.astype(_COMPACT[name], copy=False) for x in parts])

    timestamp = column("timestamp")
    user = column("user_id")
    order = np.lexsort((user, timestamp))
    data = {"user_id": user[order]}
    del user
    data["item_id"] = column("item_id")[order]
    data["timestamp"] = timestamp[order]
    del timestamp
    # Plain strings (all sharing the eight name objects): `schema.validate`
    # checks and converts these faster and with less memory than a categorical.
    data["event"] = np.array(schema.EVENT_TYPES, dtype=object)[column("event")[order]]
    for name in (
        "value",
        "request_id",
        "truth_pref",
        "truth_accidental",
        "truth_missed",
    ):
        data[name] = column(name)[order]
    del order
    events = pd.DataFrame(data, copy=False)
    users_table = pd.DataFrame(
        {
            "user_id": np.arange(config.num_users, dtype=np.int64),
            "age_bucket": users["age_bucket"].astype(np.int64),
            "gender": users["gender"].astype(np.int64),
        }
    )
    items_table = pd.DataFrame(
        {
            "item_id": np.arange(config.num_items, dtype=np.int64),
            "category": items["item_category"].astype(np.int64),
            "brand": items["item_brand"].astype(np.int64),
            "price_level": items["item_price"].astype(np.int64),
        }
    )
    meta = {
        "name": "synthetic",
        "source": "data_prep.synthetic",
        "seed": int(seed),
        "config": dataclasses.asdict(config),
        "start_timestamp": START_TIMESTAMP,
        "truth_file": schema.TRUTH_FILE,
    }
    return schema.EventLog(users_table, items_table, events, meta)


# --------------------------------------------------------------------------
# Named sizes, files and the command line.
# --------------------------------------------------------------------------


def make_config(size: str, **overrides) -> SimulatorConfig:
    """The `SIZES[size]` config with `overrides` applied.

    Raises:
        ValueError: unknown size or override name (the message lists the valid
            ones), or an invalid value.
    """
    if size not in SIZES:
        raise ValueError(f"Unknown size {size!r}; expected one of {sorted(SIZES)}.")
    fields = [f.name for f in dataclasses.fields(SimulatorConfig)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"Unknown override(s) {unknown}; valid names are {fields}.")
    return dataclasses.replace(SIZES[size], **overrides)


def generate(
    size: str, seed: int, output: str, overwrite: bool = False, **overrides
) -> schema.EventLog:
    """Simulates the named size and writes the dataset folder.

    Writes the canonical tables and ``meta.json`` (`schema.write_event_log`) and
    the planted truth ``truth.npz`` into `output`, printing one line per stage.
    As the converters do (`common.dataset_folder`): `output` is checked before
    simulating, written aside and renamed into place whole.

    Args:
        size: a key of `SIZES`.
        seed: the random seed.
        output: the dataset folder (created if needed).
        overwrite: whether to replace an `output` that holds more than a dataset.
        **overrides: `SimulatorConfig` fields to change, e.g. label_noise=False.

    Returns:
        The written, validated log (its `truth()` reads ``truth.npz``).

    Raises:
        common.OutputError: `output` cannot take the dataset.
    """
    config = make_config(size, **overrides)
    common.check_output(output, overwrite)
    log, truth = _simulate(config, seed, _print)
    log.meta.update(
        {"name": f"synthetic_{size}", "size": size, "overrides": dict(overrides)}
    )
    timer = _Timer(_print)
    with common.dataset_folder(output, overwrite) as folder:
        written = schema.write_event_log(log, folder)
        np.savez_compressed(os.path.join(folder, schema.TRUTH_FILE), **truth)
    written.path = output
    timer.done("write", output)
    return written


def _print(line):
    print(line, flush=True)


def _define_flags():
    from absl import flags

    flags.DEFINE_enum("size", "small", list(SIZES), "Named simulator size.")
    flags.DEFINE_integer("seed", 0, "Random seed.")
    flags.DEFINE_string(
        "output", None, "Dataset folder; default data/synthetic_<size>."
    )
    flags.DEFINE_list(
        "disable", [], f"Mechanisms to switch off, any of {','.join(SWITCHES)}."
    )
    flags.DEFINE_multi_string(
        "set",
        [],
        "A numeric SimulatorConfig field to change, name=value (repeatable), e.g. "
        "--set=request_stay=0.9.",
    )
    common.define_overwrite_flag()


def parse_settings(settings) -> dict:
    """{name: value} of `name=value` strings naming numeric `SimulatorConfig`
    fields, each value converted to its field's type (ValueError otherwise)."""
    types = {
        f.name: type(getattr(SimulatorConfig(), f.name))
        for f in dataclasses.fields(SimulatorConfig)
    }
    out = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        if types.get(name) not in (int, float):
            numeric = sorted(k for k, t in types.items() if t in (int, float))
            raise ValueError(
                f"--set {setting!r}: expected name=value with a numeric field "
                f"name, one of {numeric}; switches go to --disable"
            )
        try:
            out[name] = types[name](value)
        except ValueError:
            raise ValueError(
                f"--set {setting!r}: {value!r} is not a {types[name].__name__}"
            ) from None
    return out


def main(argv):
    """absl entry point; flags are defined by `_define_flags`."""
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    values = flags.FLAGS
    unknown = sorted(set(values.disable) - set(SWITCHES))
    if unknown:
        raise app.UsageError(
            f"Unknown --disable name(s) {unknown}; valid names are {list(SWITCHES)}."
        )
    try:
        settings = parse_settings(values.set)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    output = values.output or f"data/synthetic_{values.size}"
    common.run(
        generate,
        values.size,
        values.seed,
        output,
        values.overwrite,
        **{name: False for name in values.disable},
        **settings,
    )


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main)
