"""Fixtures shared by the data_prep tests."""

import pytest

from data_prep import ml1m
from tests.data_prep.shared import shared_dataset


@pytest.fixture(scope="module")
def ml1m_folder(tmp_path_factory):
    """The held MovieLens-1M (ratings of users 1-2999) converted, once per module."""
    source = shared_dataset(
        "ml-1m", "ratings_users1-2999.dat.gz", "movies.dat", "users.dat"
    )
    folder = str(tmp_path_factory.mktemp("ml1m") / "ml1m")
    ml1m.convert(source, folder, ratings="ratings_users1-2999.dat.gz")
    return folder
