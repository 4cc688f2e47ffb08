"""Shared infrastructure: configs, run directories, checkpoints, records, seeding, progress."""
