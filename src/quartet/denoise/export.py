"""Export a denoiser to ONNX and check it against PyTorch with onnxruntime.

The graph takes (1, C, H, W) float32 in [0, 1]. Height and width are exported as dynamic
axes; padding to a multiple of 2**levels is part of the graph. The check runs both models on
a random input and reports the largest absolute difference.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.export import Dim

log = logging.getLogger(__name__)


def export_onnx(model: nn.Module, path: str | Path, channels: int = 3, size: int = 64) -> Path:
    """Write ``model`` as ONNX to ``path`` (example input ``size``x``size``, dynamic H and W)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    example = torch.rand(1, channels, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), str(path), input_names=["noisy"], output_names=["denoised"],
            dynamic_shapes={"x": {2: Dim("height", min=8), 3: Dim("width", min=8)}},
            opset_version=18, dynamo=True, verbose=False,
        )
    return path


def check_onnx(model: nn.Module, path: str | Path, height: int, width: int, channels: int = 3, seed: int = 0) -> float:
    """Max |onnxruntime - torch| on a random (1, C, height, width) input."""
    import onnxruntime as ort

    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(1, channels, height, width, generator=gen)
    with torch.inference_mode():
        expected = model.eval()(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"noisy": x.numpy()})[0]
    if got.shape != expected.shape:
        raise ValueError(f"ONNX output shape {got.shape} != torch {expected.shape}")
    return float(np.abs(got - expected).max())
