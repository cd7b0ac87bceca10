"""The dataset registry: config `data` block -> event log."""

import ml_collections
import pytest

from recsys_tf.data import datasets


def _data(root, **kwargs):
    data = ml_collections.ConfigDict(
        dict(
            name="synthetic",
            path="",
            root=str(root),
            size="tiny",
            simulator_seed=0,
            disable=(),
        )
    )
    data.update(kwargs)
    return data


def test_synthetic_path_names():
    assert datasets.synthetic_path("d", "small", 0) == "d/synthetic_small"
    assert datasets.synthetic_path(
        "d", "tiny", 2, ("label_noise", "buy_follows_cart")
    ) == ("d/synthetic_tiny_seed2_no_buy_follows_cart_no_label_noise")


def test_generates_once_then_reads(tmp_path, capsys):
    log = datasets.load_event_log(_data(tmp_path))
    assert log.path == str(tmp_path / "synthetic_tiny")
    assert "[synthetic]" in capsys.readouterr().out
    again = datasets.load_event_log(_data(tmp_path))
    assert "[synthetic]" not in capsys.readouterr().out
    assert len(again.events) == len(log.events)
    by_path = datasets.load_event_log(_data(tmp_path, path=log.path, name="anything"))
    assert len(by_path.events) == len(log.events)


def test_disabled_mechanism_is_a_separate_dataset(tmp_path):
    log = datasets.load_event_log(_data(tmp_path, disable=("label_noise",)))
    assert log.path.endswith("synthetic_tiny_no_label_noise")
    assert not log.events["truth_accidental"].any()


def test_unknown_dataset_lists_the_known_ones(tmp_path):
    with pytest.raises(
        ValueError, match="one of .*'kuairand', 'kuairec_small', 'mind_small', 'ml1m'"
    ):
        datasets.load_event_log(_data(tmp_path, name="movielens"))


def _fake_ml1m(root):
    folder = root / "ml-1m"
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text(
        "1::10::5::978300760\n1::20::3::978300761\n2::10::4::978300762\n"
    )
    return root


def test_real_dataset_converted_once_then_read(tmp_path, capsys):
    source = _fake_ml1m(tmp_path / "sources")
    data = _data(tmp_path / "data", name="ml1m", source_root=str(source))
    log = datasets.load_event_log(data)
    assert log.path == str(tmp_path / "data" / "ml1m")
    assert (log.num_users, log.num_items, len(log.events)) == (2, 2, 3)
    assert "[ml1m] written" in capsys.readouterr().out
    assert not (tmp_path / "data" / "ml1m.partial").exists()
    again = datasets.load_event_log(data)
    assert "[ml1m]" not in capsys.readouterr().out
    assert len(again.events) == 3


def test_real_dataset_picks_the_first_file_present(tmp_path):
    source = _fake_ml1m(tmp_path / "sources")
    (source / "ml-1m" / "ratings.dat").rename(
        source / "ml-1m" / "ratings_users1-2999.dat.gz.txt"
    )
    with pytest.raises(FileNotFoundError, match="none of .*ratings.dat"):
        datasets.convert_real("ml1m", str(tmp_path / "out"), str(source))


def test_real_dataset_missing_sources_say_where(tmp_path):
    data = _data(tmp_path / "data", name="kuairand", source_root=str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="kuairand-pure.*RECSYS_TF_DATASETS"):
        datasets.load_event_log(data)


def test_every_registered_converter_takes_its_options():
    import importlib
    import inspect

    for name, spec in datasets.REAL.items():
        module = importlib.import_module(f"data_prep.{spec.converter}")
        accepted = inspect.signature(module.convert).parameters
        assert set(spec.options) <= set(accepted), name
