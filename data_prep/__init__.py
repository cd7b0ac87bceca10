"""Dataset converters and the synthetic simulator; all write the canonical schema."""
