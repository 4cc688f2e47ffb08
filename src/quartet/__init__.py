"""quartet: process reward models, refusal-aware tuning, InfoPattern and SPA denoising."""

__version__ = "0.1.0"
