"""`make bench`: the served stack measured beside its references (see bench/run.py)."""
