"""The oracle on the simulator's next-click task: items ranked by their next-click probability.

`synthetic.next_click_probability`: the logging policy's exposure probability times the
click probability, given the state before the target's request (the ceiling).
Table: README "Foundation: retrieval on the simulator", row Oracle (run
`oracle_retrieval_synthetic`). Simulated data only.
Command: make reproduce-foundation
Expected time on a 2-core CPU: about 1 minute (Monte-Carlo exposure of every validation and test request).
"""

from experiments.configs import common


def get_config(arg=None):
    config = common.base("oracle_retrieval", "retrieval", dict(name="oracle"))
    return common.with_preset(config, arg)
