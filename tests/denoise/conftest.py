import os
from pathlib import Path

import pytest


def data_root() -> Path:
    default = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return Path(os.environ.get("QUARTET_DATA", default)) / "denoise"


@pytest.fixture
def denoise_data() -> Path:
    root = data_root()
    if not (root / "PolyU100").is_dir():
        pytest.skip(f"denoising data not found at {root} (set QUARTET_DATA)")
    return root
