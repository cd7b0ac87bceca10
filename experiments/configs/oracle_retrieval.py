"""The oracle on the simulator's next-click task: items ranked by the planted preference.

Table: README "Foundation: retrieval on the simulator", row Oracle (run
`oracle_retrieval_synthetic`; the ceiling). Simulated data only.
Command: make reproduce-foundation
Expected time on a 2-core CPU: about 5 seconds.
"""

from experiments.configs import common


def get_config():
    config = common.base("oracle_retrieval", "retrieval", dict(name="oracle"))
    return config
