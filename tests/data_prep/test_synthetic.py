"""Tests of the synthetic e-commerce simulator (data_prep/synthetic.py).

Statistical checks run on `MEDIUM` (400 users x 60 requests, about 0.7 s per
run) against control runs with one mechanism switched off; the thresholds leave
wide margins over the values seen across seeds.
"""

import dataclasses
import functools
import os

import numpy as np
import pandas as pd
import pytest

from data_prep import synthetic
from recsys_tf.data import schema
from tests.data_prep.shared import run_module

DAY = 86_400
MEDIUM = dataclasses.replace(
    synthetic.SIZES["small"],
    num_users=400,
    num_items=1_000,
    num_categories=30,
    num_category_groups=6,
    requests_per_user=60,
)


@functools.cache
def _run(seed=0, **overrides):
    """A MEDIUM run (cached): (log, truth)."""
    return synthetic.simulate_with_truth(dataclasses.replace(MEDIUM, **overrides), seed)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("synthetic") / "tiny")
    synthetic.generate("tiny", 0, path)
    log = schema.read_event_log(path)
    return log, log.truth()


def _of(log, event):
    return log.events[log.events["event"] == event]


def _keys(frame, num_items):
    """One int per (request, item): a request belongs to a single user."""
    return frame["request_id"].to_numpy() * num_items + frame["item_id"].to_numpy()


def _unclicked(log):
    """Impressions with no click of the same user, item and request."""
    shown = _of(log, "impression")
    clicked = _keys(_of(log, "click"), log.num_items)
    return shown[~np.isin(_keys(shown, log.num_items), clicked)]


def _categories(log, frame):
    return log.items["category"].to_numpy()[frame["item_id"].to_numpy()]


def _day(frame):
    return (frame["timestamp"].to_numpy() - synthetic.START_TIMESTAMP) / DAY


# --- Files, schema, determinism ----------------------------------------------


def test_generate_writes_a_valid_folder(tiny):
    log, truth = tiny
    for name in ("users.parquet", "items.parquet", "events.parquet", "meta.json"):
        assert os.path.exists(os.path.join(log.path, name))
    assert log.num_users == 100 and log.num_items == 300
    assert set(log.users.columns) == {"user_id", "age_bucket", "gender"}
    assert set(log.items.columns) == {"item_id", "category", "brand", "price_level"}
    assert set(log.events["event"].unique()) == set(schema.EVENT_TYPES)
    assert log.meta["seed"] == 0 and log.meta["size"] == "tiny"
    assert log.meta["config"] == dataclasses.asdict(synthetic.SIZES["tiny"])
    assert truth["item_vectors"].shape == (300, synthetic.SIZES["tiny"].latent_dim)
    # Brands nest in categories.
    assert log.items.groupby("brand")["category"].nunique().max() == 1
    # The in-memory simulation is the written one.
    memory = synthetic.simulate(synthetic.SIZES["tiny"], 0)
    pd.testing.assert_frame_equal(memory.events, log.events)
    pd.testing.assert_frame_equal(memory.users, log.users)
    pd.testing.assert_frame_equal(memory.items, log.items)


def test_same_seed_gives_identical_files_other_seed_differs(tmp_path):
    a, b, c = (str(tmp_path / name) for name in "abc")
    synthetic.generate("tiny", 3, a)
    synthetic.generate("tiny", 3, b)
    synthetic.generate("tiny", 4, c)
    for name in ("users.parquet", "items.parquet", "events.parquet"):
        with (
            open(os.path.join(a, name), "rb") as fa,
            open(os.path.join(b, name), "rb") as fb,
        ):
            assert fa.read() == fb.read(), name
    with (
        np.load(os.path.join(a, "truth.npz")) as ta,
        np.load(os.path.join(b, "truth.npz")) as tb,
    ):
        for key in ta.files:
            np.testing.assert_array_equal(ta[key], tb[key])
    events_a = schema.read_event_log(a).events
    events_c = schema.read_event_log(c).events
    assert len(events_a) != len(events_c) or not events_a.equals(events_c)


def test_timestamps_requests_and_feedback_order(tiny):
    log, truth = tiny
    events = log.events
    config = synthetic.SIZES["tiny"]
    start = synthetic.START_TIMESTAMP
    assert events["timestamp"].min() >= start
    assert events["timestamp"].max() < start + (config.days + 1) * DAY
    shown = _of(log, "impression")
    assert shown.groupby("request_id")["timestamp"].nunique().max() == 1
    assert (shown.groupby("request_id").size() == config.page_size).all()
    # A request belongs to one user; feedback comes after its impressions.
    owner = truth["request_user"][events["request_id"].to_numpy()]
    np.testing.assert_array_equal(owner, events["user_id"].to_numpy())
    request_time = truth["request_timestamp"][events["request_id"].to_numpy()]
    later = events["event"] != "impression"
    assert (events["timestamp"].to_numpy()[later] > request_time[later]).all()
    # Every user is active in each part of a global 80/10/10 time split.
    day = _day(shown)
    for low, high in ((0, 144), (144, 162), (162, 181)):
        part = shown[(day >= low) & (day < high)]
        assert part["user_id"].nunique() == config.num_users, (low, high)


def test_feedback_lands_on_the_right_rows(tiny):
    log, _ = tiny
    n = log.num_items
    shown = _keys(_of(log, "impression"), n)
    clicked = _keys(_of(log, "click"), n)
    assert len(np.unique(shown)) == len(shown)  # Distinct items on a page.
    assert len(np.unique(clicked)) == len(clicked)  # At most one click.
    assert np.isin(clicked, shown).all()
    for event in ("like", "cart", "fav", "rating"):
        assert np.isin(_keys(_of(log, event), n), clicked).all(), event
    assert np.isin(_keys(_of(log, "dislike"), n), shown).all()
    ratings = _of(log, "rating")["value"]
    assert set(ratings.unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ratings.nunique() == 5
    others = log.events[log.events["event"] != "rating"]
    assert (others["value"] == 1.0).all()


# --- The planted truth ---------------------------------------------------------


def test_true_preference_reproduces_truth_pref_on_every_row(tiny):
    log, truth = tiny
    events = log.events
    users = events["user_id"].to_numpy()
    requests = events["request_id"].to_numpy()
    items = events["item_id"].to_numpy()
    pref = synthetic.true_preference(truth, users, requests, items)
    np.testing.assert_allclose(pref, events["truth_pref"].to_numpy(), rtol=0, atol=1e-9)
    # All items at once, and k candidates per request, agree with single items.
    full = synthetic.true_preference(truth, users[:50], requests[:50])
    assert full.shape == (50, log.num_items)
    np.testing.assert_allclose(full[np.arange(50), items[:50]], pref[:50], atol=1e-9)
    candidates = np.tile(np.arange(7), (50, 1))
    np.testing.assert_allclose(
        synthetic.true_preference(truth, users[:50], requests[:50], candidates),
        full[:, :7],
        atol=1e-9,
    )
    with pytest.raises(ValueError, match="belongs to user"):
        synthetic.true_preference(truth, users[:1] + 1, requests[:1])


def test_true_click_probability_is_calibrated():
    log, truth = _run()
    shown = _of(log, "impression")
    probability = synthetic.true_click_probability(
        truth,
        shown["user_id"].to_numpy(),
        shown["request_id"].to_numpy(),
        shown["item_id"].to_numpy(),
    )
    click_rate = len(_of(log, "click")) / len(shown)
    assert abs(probability.mean() - click_rate) < 0.005
    wanted = synthetic.true_click_probability(
        truth,
        shown["user_id"].to_numpy()[:10],
        shown["request_id"].to_numpy()[:10],
        shown["item_id"].to_numpy()[:10],
        label_noise=False,
    )
    np.testing.assert_allclose(wanted, 1 / (1 + np.exp(-shown["truth_pref"][:10])))
    # From a truth_pref column directly: the same numbers.
    np.testing.assert_allclose(
        synthetic.click_probability(truth, shown["truth_pref"].to_numpy()), probability
    )


def test_clicked_above_unclicked_above_random():
    log, truth = _run()
    clicked = _of(log, "click")["truth_pref"].mean()
    unclicked = _unclicked(log)["truth_pref"].mean()
    shown = _of(log, "impression")
    rng = np.random.default_rng(0)
    random = synthetic.true_preference(
        truth,
        shown["user_id"].to_numpy(),
        shown["request_id"].to_numpy(),
        rng.integers(0, log.num_items, len(shown)),
    ).mean()
    assert clicked > unclicked + 1.0
    assert unclicked > random + 1.0


def test_history_predicts_the_future_category():
    """A user's most clicked category in train is far likelier than the most
    popular category to be the category of their test clicks."""
    log, _ = _run()
    clicks = _of(log, "click")
    day = _day(clicks)
    users = clicks["user_id"].to_numpy()
    categories = _categories(log, clicks)
    counts = np.zeros((log.num_users, MEDIUM.num_categories))
    train = day < 0.8 * MEDIUM.days
    np.add.at(counts, (users[train], categories[train]), 1)
    test = day >= 0.9 * MEDIUM.days
    personal = (counts.argmax(axis=1)[users[test]] == categories[test]).mean()
    popular = (categories[test] == counts.sum(axis=0).argmax()).mean()
    # Seen over seeds 0-5: 1.6x to 2.9x.
    assert personal > 1.4 * popular + 0.02


def test_user_features_carry_signal():
    """Users of one (age, gender) group share long-term interests."""
    log, truth = _run()
    group = (log.users["age_bucket"] * 2 + log.users["gender"]).to_numpy()
    interests = truth["user_interests"]
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, log.num_users, (2, 20_000))
    overlap = (interests[a][:, :, None] == interests[b][:, None, :]).any(2).sum(1)
    keep = a != b
    same = overlap[keep & (group[a] == group[b])].mean()
    different = overlap[keep & (group[a] != group[b])].mean()
    assert same > 1.5 * different


# --- Label noise ----------------------------------------------------------------


def _noise_rates(log):
    shown = _of(log, "impression")
    clicks = _of(log, "click")
    accidental = clicks["truth_accidental"].sum()
    missed = shown["truth_missed"].sum()
    wanted = len(clicks) - accidental + missed
    return accidental / (len(shown) - wanted), missed / wanted


def test_label_noise_flags_and_rates():
    log, _ = _run()
    events = log.events
    assert not events.loc[events["event"] != "click", "truth_accidental"].any()
    assert not events.loc[events["event"] != "impression", "truth_missed"].any()
    # Missed impressions were not clicked.
    missed = _of(log, "impression")
    missed = missed[missed["truth_missed"]]
    assert not np.isin(
        _keys(missed, log.num_items), _keys(_of(log, "click"), log.num_items)
    ).any()
    accidental_rate, missed_rate = _noise_rates(log)
    assert accidental_rate == pytest.approx(MEDIUM.accidental_rate, rel=0.1)
    assert missed_rate == pytest.approx(MEDIUM.missed_rate, rel=0.1)
    # Accidental clicks are on items the user does not prefer.
    clicks = _of(log, "click")
    assert (
        clicks.loc[clicks["truth_accidental"], "truth_pref"].mean()
        < clicks.loc[~clicks["truth_accidental"], "truth_pref"].mean() - 2.0
    )

    control, truth = _run(label_noise=False)
    assert not control.events["truth_accidental"].any()
    assert not control.events["truth_missed"].any()
    assert float(truth["accidental_rate"]) == 0.0 == float(truth["missed_rate"])


# --- The mechanism switches -----------------------------------------------------


@pytest.mark.parametrize("switch", synthetic.SWITCHES)
def test_control_runs_share_users_and_items(switch):
    log, _ = _run()
    control, _ = _run(**{switch: False})
    pd.testing.assert_frame_equal(log.users, control.users)
    pd.testing.assert_frame_equal(log.items, control.items)
    assert control.meta["config"][switch] is False


def _disliked_share(log, frame, disliked):
    brands = log.items["brand"].to_numpy()[frame["item_id"].to_numpy()]
    return (brands[:, None] == disliked[frame["user_id"].to_numpy()]).any(1).mean()


def test_unclick_dislike():
    """Disliked brands fill the unclicked sequence, almost never the clicks."""
    log, truth = _run()
    disliked = truth["disliked_brands"]
    assert (disliked >= 0).mean() > 0.9
    clicks = _of(log, "click")
    wanted = clicks[~clicks["truth_accidental"]]
    unclicked = _disliked_share(log, _unclicked(log), disliked)
    assert unclicked > 0.04
    assert _disliked_share(log, wanted, disliked) < 0.02
    assert unclicked > 3 * _disliked_share(log, clicks, disliked)

    # Control: the same brands, no aversion: clicked as often as shown.
    control, control_truth = _run(unclick_dislike=False)
    assert (control_truth["disliked_brands"] == -1).all()
    unclicked_off = _disliked_share(control, _unclicked(control), disliked)
    clicks_off = _disliked_share(control, _of(control, "click"), disliked)
    assert clicks_off > unclicked_off


def _click_rows(log, frame):
    """The click rows of the (request, item) pairs in `frame`."""
    clicks = _of(log, "click")
    index = pd.Series(np.arange(len(clicks)), index=_keys(clicks, log.num_items))
    return clicks.iloc[index.loc[_keys(frame, log.num_items)].to_numpy()]


def test_explicit_cleaner():
    """Likes pick preferred clicks, dislikes pick accidental ones; off: not."""
    for cleaner in (True, False):
        log, _ = _run(explicit_cleaner=cleaner)
        clicks = _of(log, "click")
        likes = _of(log, "like")
        dislikes = _of(log, "dislike")
        on_clicks = np.isin(
            _keys(dislikes, log.num_items), _keys(clicks, log.num_items)
        )
        disliked_clicks = _click_rows(log, dislikes[on_clicks])
        liked_clicks = _click_rows(log, likes)
        base = clicks["truth_accidental"].mean()
        rates = (
            len(likes) / len(clicks),
            on_clicks.sum() / len(clicks),
            (~on_clicks).sum() / (len(_of(log, "impression")) - len(clicks)),
        )
        expected = (
            MEDIUM.like_rate,
            MEDIUM.dislike_click_rate,
            MEDIUM.dislike_impression_rate,
        )
        np.testing.assert_allclose(rates, expected, rtol=0.15)
        gap = likes["truth_pref"].mean() - clicks["truth_pref"].mean()
        if cleaner:
            assert gap > 0.8
            assert disliked_clicks["truth_accidental"].mean() > 2 * base
            assert liked_clicks["truth_accidental"].mean() < 0.5 * base
        else:
            assert abs(gap) < 0.2
            assert disliked_clicks["truth_accidental"].mean() == pytest.approx(
                base, abs=0.05
            )
            assert liked_clicks["truth_accidental"].mean() == pytest.approx(
                base, abs=0.05
            )


def _preceded_by_cart_or_fav(log):
    events = log.events
    first = (
        events[events["event"].isin(["cart", "fav"])]
        .groupby(["user_id", "item_id"])["timestamp"]
        .min()
        .rename("first")
    )
    buys = _of(log, "buy").join(first, on=["user_id", "item_id"])
    return (buys["first"] < buys["timestamp"]).mean(), len(buys)


def test_buy_follows_cart():
    share_on, buys_on = _preceded_by_cart_or_fav(_run()[0])
    share_off, buys_off = _preceded_by_cart_or_fav(_run(buy_follows_cart=False)[0])
    assert share_on > 0.95
    assert share_off < 0.5
    assert buys_on > 500
    assert buys_off == pytest.approx(buys_on, rel=0.1)


def _old_history_hit_rate(log):
    """Share of clicks in the last 10% of time whose category is among the
    user's three most clicked categories in the first half."""
    clicks = _of(log, "click")
    day = _day(clicks)
    users = clicks["user_id"].to_numpy()
    categories = _categories(log, clicks)
    old = day < 0.5 * MEDIUM.days
    counts = np.zeros((log.num_users, MEDIUM.num_categories))
    np.add.at(counts, (users[old], categories[old]), 1)
    top = np.argsort(-counts, axis=1, kind="stable")[:, :3]
    last = day >= 0.9 * MEDIUM.days
    return (top[users[last]] == categories[last][:, None]).any(1).mean()


def test_long_term_interests():
    """Old history foretells the last clicks only through long-term interests."""
    log, truth = _run()
    control, control_truth = _run(long_term_interests=False)
    assert truth["request_is_long_term"].mean() == pytest.approx(
        MEDIUM.long_term_session_rate, abs=0.03
    )
    assert not control_truth["request_is_long_term"].any()
    # Seen over seeds 0-5: +0.09 to +0.15.
    assert _old_history_hit_rate(log) > _old_history_hit_rate(control) + 0.05


def _same_category_as_previous_click(log):
    """Share of clicks whose category is that of the user's previous click in an
    earlier request of the same session (the next request minutes later)."""
    clicks = _of(log, "click").sort_values(["user_id", "timestamp"], kind="stable")
    users = clicks["user_id"].to_numpy()
    requests = clicks["request_id"].to_numpy()
    gap = np.diff(clicks["timestamp"].to_numpy())
    categories = _categories(log, clicks)
    follows = (users[1:] == users[:-1]) & (requests[1:] != requests[:-1])
    follows &= gap < 30 * 60
    return (categories[1:] == categories[:-1])[follows].mean()


def test_request_stay_keeps_the_short_term_interest():
    """request_stay is the chance that the short-term interest survives from one
    request to the next within a session; the clicks show it."""
    log, truth = _run()
    stay, stay_truth = _run(request_stay=0.95)

    def kept(truth):
        chain = truth["request_short_term"].reshape(MEDIUM.num_users, -1)
        within = np.arange(1, chain.shape[1]) % MEDIUM.requests_per_session != 0
        return (chain[:, 1:] == chain[:, :-1])[:, within].mean()

    assert kept(truth) == pytest.approx(MEDIUM.request_stay, abs=0.03)
    assert kept(stay_truth) == pytest.approx(0.95, abs=0.03)
    # Seen over seeds 0-2: +0.065 to +0.089 (0.56 against 0.64 on seed 0).
    assert _same_category_as_previous_click(stay) > (
        _same_category_as_previous_click(log) + 0.04
    )


# --- API errors and the command line ---------------------------------------------


def test_unknown_names_and_bad_values_raise():
    with pytest.raises(ValueError, match="tiny"):
        synthetic.generate("huge", 0, "/nonexistent")
    with pytest.raises(ValueError, match="label_noise"):
        synthetic.make_config("tiny", label_nosie=False)
    with pytest.raises(ValueError, match="page_size"):
        synthetic.make_config("tiny", page_size=0)
    with pytest.raises(ValueError, match="missed_rate"):
        synthetic.SimulatorConfig(missed_rate=1.5)
    with pytest.raises(TypeError):
        synthetic.SimulatorConfig(label_noise="no")
    assert set(synthetic.SIZES) == {"tiny", "compact", "small", "large"}


def test_command_line_writes_a_readable_folder(tmp_path):
    output = str(tmp_path / "cli")
    flags = ["--size=tiny", "--seed=2", f"--output={output}"]
    done = run_module("synthetic", *flags, "--disable=label_noise,unclick_dislike")
    assert done.returncode == 0, done.stderr
    assert "[synthetic] write" in done.stdout
    log = schema.read_event_log(output)
    assert log.meta["seed"] == 2
    assert log.meta["overrides"] == {"label_noise": False, "unclick_dislike": False}
    assert not log.events["truth_accidental"].any()
    assert (log.truth()["disliked_brands"] == -1).all()

    done = run_module("synthetic", *flags, "--disable=label_noise,nonsense")
    assert done.returncode != 0
    assert "unclick_dislike" in done.stderr


def test_command_line_sets_numeric_fields(tmp_path):
    output = str(tmp_path / "set")
    done = run_module(
        "synthetic",
        "--size=tiny",
        f"--output={output}",
        "--set=request_stay=0.9",
        "--set=page_size=8",
    )
    assert done.returncode == 0, done.stderr
    log = schema.read_event_log(output)
    assert log.meta["overrides"] == {"request_stay": 0.9, "page_size": 8}
    assert log.meta["config"]["request_stay"] == 0.9
    assert (
        log.events.groupby("request_id")["event"]
        .apply(lambda e: (e == "impression").sum())
        .max()
        == 8
    )


def test_parse_settings_refuses_switches_unknown_names_and_bad_values():
    assert synthetic.parse_settings(["days=30", "page_size=5"]) == {
        "days": 30.0,
        "page_size": 5,
    }
    with pytest.raises(ValueError, match="--disable"):
        synthetic.parse_settings(["label_noise=0"])
    with pytest.raises(ValueError, match="request_stay"):
        synthetic.parse_settings(["request_stya=0.9"])
    with pytest.raises(ValueError, match="not a int"):
        synthetic.parse_settings(["page_size=8.5"])


def test_pages_hold_distinct_items_even_when_draws_collide():
    rng = np.random.default_rng(0)
    policy = np.array([[5, 5, 5, 5], [1, 2, 3, 4]])
    random = np.array([[5, 5, 5, 5, 5, 5], [1, 2, 3, 4, 9, 9]])
    page = synthetic._fill_page(policy, random, 2, 4, 12, rng)
    assert page[0, 0] == 5 and page[1, :2].tolist() == [1, 2]
    assert page[1, 2:].tolist() == [3, 4]
    for row in page:
        assert len(set(row.tolist())) == 4 and row.min() >= 0 and row.max() < 12


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_all_random_or_all_personalised_pages(fraction):
    config = dataclasses.replace(
        synthetic.SIZES["tiny"], num_users=20, personalised_fraction=fraction
    )
    log = synthetic.simulate(config, 0)
    shown = _of(log, "impression")
    assert (shown.groupby("request_id")["item_id"].nunique() == config.page_size).all()


# --- The retrieval oracle: P(shown) x P(click | shown) ---------------------------


def test_exposure_probability_is_calibrated_on_the_logged_pages(tiny):
    log, truth = tiny
    requests = np.arange(0, len(truth["request_user"]), 2)
    users = truth["request_user"][requests]
    exposure, binning = (
        synthetic.exposure_probability(truth, users, requests, 64, seed)
        for seed in (0, 1)
    )
    # Inclusion probabilities of a page of 10 distinct items sum to 10.
    np.testing.assert_allclose(exposure.sum(axis=1), 10.0, rtol=1e-9)
    impressions = _of(log, "impression")
    shown = np.zeros((len(truth["request_user"]), log.num_items), bool)
    shown[impressions["request_id"], impressions["item_id"]] = True
    shown = shown[requests]
    # Binned by predicted exposure (an independent estimate, so that the bins do
    # not select its Monte-Carlo errors), the simulator's own pages show items as
    # often as predicted, from uniform-fill-only items to the policy's favourites.
    edges = [0.0, 0.02, 0.05, 0.2, 0.5, 1.01]
    for low, high in zip(edges[:-1], edges[1:]):
        cell = (binning >= low) & (binning < high)
        predicted, observed = exposure[cell].mean(), shown[cell].mean()
        assert cell.sum() > 500
        assert abs(observed - predicted) < 0.03 * predicted + 4 * np.sqrt(
            predicted / cell.sum()
        ), (low, high, predicted, observed)


def test_next_click_probability_matches_redrawn_requests(tiny):
    _, truth = tiny
    policy = synthetic._policy(truth)
    rng = np.random.default_rng(7)
    draws = 4000
    missed, accidental = truth["missed_rate"], truth["accidental_rate"]
    for request in (5, 1234, 2999):
        user = truth["request_user"][request]
        # Redraw the request's page with the simulator's own policy code, then
        # clicks: wanted ~ Bernoulli(sigmoid(pref)), missed / accidental.
        pages = synthetic._draw_pages(
            policy,
            np.full(draws, truth["request_intent"][request]),
            np.full(draws, truth["request_stale_intent"][request]),
            np.repeat(policy["long_term_scores"][user : user + 1], draws, axis=0),
            rng,
        )
        pref = synthetic.true_preference(truth, [user], [request])[0][pages]
        wanted = rng.random(pages.shape) < 1 / (1 + np.exp(-pref))
        clicked = (wanted & (rng.random(pages.shape) >= missed)) | (
            ~wanted & (rng.random(pages.shape) < accidental)
        )
        frequency = np.bincount(pages[clicked], minlength=300) / draws
        oracle = synthetic.next_click_probability(
            truth, [user], [request], num_samples=1024
        )[0]
        assert np.abs(oracle - frequency).max() < 0.03
        # The oracle's top 5 are the redraws' top 5, up to that tolerance.
        fifth = np.sort(frequency)[-5]
        assert (frequency[np.argsort(-oracle)[:5]] > fifth - 0.03).all()
    # The same request gets the same estimate alone or in a batch.
    both = synthetic.next_click_probability(
        truth, truth["request_user"][[5, 1234]], [5, 1234], [[1, 2], [3, 4]]
    )
    alone = synthetic.next_click_probability(
        truth, truth["request_user"][[1234]], [1234], [[3, 4]]
    )
    np.testing.assert_array_equal(both[1:], alone)


def test_oracle_needs_the_policy_state(tiny):
    _, truth = tiny
    old = {k: v for k, v in truth.items() if k != "item_bias_estimate"}
    with pytest.raises(ValueError, match="item_bias_estimate.*regenerate"):
        synthetic.next_click_probability(old, [0], [0])
    with pytest.raises(ValueError, match="num_samples"):
        synthetic.exposure_probability(truth, [0], [0], num_samples=0)
