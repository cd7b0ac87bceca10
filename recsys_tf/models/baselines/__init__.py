"""Baseline models of the papers' tables."""
