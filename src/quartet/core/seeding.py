"""One call to make a run reproducible."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, torch (CPU and CUDA) and return a numpy Generator for this seed.

    quartet never uses numpy's global RNG: code that needs numpy randomness takes
    the returned Generator, so its state is explicit and never hidden in a global.
    """
    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)
