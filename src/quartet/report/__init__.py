"""The demo report: runs every system's ``run_demo`` and renders their sections."""
