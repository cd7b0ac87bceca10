"""Strategy factory, evaluation, callbacks and the fit-loop glue."""
