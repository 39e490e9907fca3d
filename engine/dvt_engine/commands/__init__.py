"""One module per command; `dispatch` runs one (see dispatch.py)."""
