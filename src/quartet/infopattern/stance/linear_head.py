"""The linear head shared by the encoder and switch-likelihood detectors.

Multinomial logistic regression on fixed features, fitted by full-batch L-BFGS with an
L2 penalty on the weights. Classes are weighted inversely to their frequency, as the
TF-IDF baseline's ``class_weight="balanced"`` does: minority stances (deny, query)
count as much as the majority for macro-F1.
"""

from __future__ import annotations

import torch
from torch import nn


def balanced_class_weights(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(C,) weights ``N / (C * count_c)``; an absent class counts as one message.

    >>> balanced_class_weights(torch.tensor([0, 0, 0, 1]), 2)
    tensor([0.6667, 2.0000])
    """
    counts = torch.bincount(y, minlength=n_classes).float().clamp(min=1)
    return counts.sum() / (n_classes * counts)


def fit_linear_head(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float) -> nn.Linear:
    """A ``Linear(x.shape[1], n_classes)`` fitted to ``x (N, D)``, ``y (N,)`` from zero weights."""
    head = nn.Linear(x.shape[1], n_classes)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    weight = balanced_class_weights(y, n_classes)
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(head(x), y, weight=weight) + l2 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head
