"""Tiny seeded digits models shared by the mitigation tests (trained in about a second)."""

from __future__ import annotations

from functools import lru_cache

import torch
from sklearn.datasets import load_digits
from torch import Tensor, nn


@lru_cache(maxsize=1)
def digits() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x_train, y_train, x_test, y_test)``: 8x8 digits in [0, 1], `N x 1 x 8 x 8`."""
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(data.target, dtype=torch.int64)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    return x[:1400], y[:1400], x[1400:], y[1400:]


def tiny_cnn(seed: int = 0) -> nn.Sequential:
    """Conv(1->6) - ReLU - MaxPool - Conv(6->12) - ReLU - AvgPool - Flatten - Linear(48->10)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 12, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(48, 10),
    )


def tiny_mlp(seed: int = 0) -> nn.Sequential:
    """Flatten - Linear(64->32) - ReLU - Linear(32->10)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def wide_mlp(width: int = 256, seed: int = 0) -> nn.Sequential:
    """Flatten - Linear(64->width) - ReLU - Linear(width->width) - ReLU - Linear(width->10)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, 10),
    )


def bn_cnn(seed: int = 0) -> nn.Sequential:
    """Conv(1->6) - BatchNorm - ReLU - MaxPool - Flatten - Linear(96->10)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(96, 10),
    )


def train(model: nn.Module, epochs: int = 8, seed: int = 0, lr: float = 3e-3) -> nn.Module:
    """Adam on the digits training split, batch 64; returns the model in eval mode."""
    x, y, _, _ = digits()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


@lru_cache(maxsize=4)
def trained(kind: str = "cnn") -> nn.Module:
    """A trained tiny model (``"cnn"``, ``"mlp"``, ``"wide"``: :func:`wide_mlp`, or ``"bn"``:
    :func:`bn_cnn`), cached per process."""
    torch.set_num_threads(1)
    build = {"cnn": tiny_cnn, "mlp": tiny_mlp, "wide": wide_mlp, "bn": bn_cnn}[kind]
    return train(build(), epochs=4 if kind == "wide" else 8)


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Clean top-1 accuracy."""
    with torch.no_grad():
        return float((model(x).argmax(-1) == y).float().mean())
