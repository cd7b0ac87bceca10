"""One ml_collections config file per (model, dataset); common.py holds the defaults."""
