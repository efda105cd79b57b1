"""Picked row vectors of a layer input (simulator.patches) against torch's unfold."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from simulator.patches import conv_out_hw, even_rows, gather_patches


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [((3, 3), (1, 1), (1, 1), (1, 1)), ((3, 2), (2, 1), (0, 1), (1, 2))],
)
def test_gathered_patches_equal_unfold_rows(kernel, stride, padding, dilation) -> None:
    """Every picked row equals the unfolded one (zero padding included)."""
    torch.manual_seed(0)
    x = torch.randn(3, 4, 7, 6)
    full = (
        F.unfold(x, kernel, dilation, padding, stride)
        .transpose(1, 2)
        .reshape(-1, 4 * kernel[0] * kernel[1])
    )
    ho, wo = conv_out_hw(7, 6, kernel, stride, padding, dilation)
    assert full.shape[0] == 3 * ho * wo
    rows = even_rows(full.shape[0], 17)
    assert rows is not None and rows.numel() == 17 and int(rows[-1]) == full.shape[0] - 1
    got = gather_patches(x, rows, kernel, stride, padding, dilation)
    assert torch.equal(got, full[rows])
    assert not torch.equal(got, full[rows.flip(0)])
    assert even_rows(full.shape[0], full.shape[0]) is None
