"""Measurement: where a scenario's time went (phases) and the CPU and memory used (usage)."""
