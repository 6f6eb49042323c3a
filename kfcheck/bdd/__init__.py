"""The radish glue: hooks.py (every radish hook and its order, in one table), support.py (step registration, the
skip and failure plumbing, signals, refused starts), recording.py (the run recorded as Cucumber Messages) and
timing_tables.py (where each scenario's time went)."""
