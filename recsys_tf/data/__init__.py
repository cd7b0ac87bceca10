"""Canonical event-log schema, task builders and tf.data input."""
