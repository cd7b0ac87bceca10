"""The peak resident memory a run records (`callbacks.peak_rss_gb`)."""

import numpy as np
import pytest

from recsys_tf.training import callbacks as cb


def test_peak_follows_an_allocation_and_restarts_after_a_reset():
    if not cb.reset_peak_rss():
        pytest.skip("this system cannot reset the peak (no /proc/self/clear_refs)")
    before = cb.peak_rss_gb()
    block = np.ones(300_000_000 // 8)  # 0.3 GB, touched
    assert block.sum() > 0
    raised = cb.peak_rss_gb()
    assert raised >= before + 0.25
    del block
    assert cb.reset_peak_rss()
    # The freed block no longer counts: the peak is back near the start.
    assert cb.peak_rss_gb() < raised - 0.2
