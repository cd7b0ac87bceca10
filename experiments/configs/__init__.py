"""One ml_collections config file per model; the dataset is an override
(`--config.data.name=ml1m`) and a run is named `<config.name>_<dataset>`.
common.py holds the defaults."""
