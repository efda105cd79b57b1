r"""Row vectors of a layer's input: the unrolled patches a crossbar reads, picked by index.

A ``nn.Conv2d`` reads ``C·kh·kw`` input elements per output position (``F.unfold`` order:
channel, kernel row, kernel column); a batch of ``N`` samples has ``N·H_out·W_out`` such row
vectors, flat index ``sample·positions + position``. Calibration reads a few thousand of
them (:func:`even_rows`, :func:`random_rows`); :func:`gather_patches` builds just those,
without unfolding the whole batch (1.2 GB for VGG8's second layer on 256 images).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["conv_out_hw", "even_rows", "gather_patches", "random_rows"]

Pair = tuple[int, int]


def conv_out_hw(
    h: int, w: int, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> tuple[int, int]:
    """Output height and width of a convolution on `h x w` inputs."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1


def even_rows(m_total: int, k: int) -> Tensor | None:
    """``k`` evenly spaced indices of ``m_total`` rows, rounded (``None``: every row, when
    ``m_total <= k``)."""
    if m_total <= k:
        return None
    return torch.linspace(0, m_total - 1, k).round().long()


def random_rows(m_total: int, k: int, seed: int = 0) -> Tensor | None:
    """``k`` distinct row indices of ``m_total``, uniformly at random from a fixed ``seed``,
    sorted (``None``: every row, when ``m_total <= k``). Unlike :func:`even_rows`, no
    aliasing with the positions of a sample (a stride of 8 on 8x8 outputs reads one column).
    """
    if m_total <= k:
        return None
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(m_total, generator=gen)[:k].sort().values


def gather_patches(
    x: Tensor, rows: Tensor, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> Tensor:
    r"""The row vectors ``rows`` of a zero-padded convolution's input.

    Args:
        x: A `N x C x H x W`-dim Tensor.
        rows: An `M`-dim int64 Tensor of flat indices ``sample·H_out·W_out + position``.
        kernel, stride, padding, dilation: The convolution's geometry.

    Returns:
        An `M x C·kh·kw`-dim Tensor, equal to the picked rows of
        ``F.unfold(x, ...).transpose(1, 2).reshape(-1, C·kh·kw)``.
    """
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    ho, wo = conv_out_hw(h, w, kernel, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph)) if ph or pw else x.contiguous()
    s_n, s_c, s_h, s_w = xp.stride()
    # Every patch as a view (N x H_out x W_out x C x kh x kw), then only the picked ones copied.
    view = xp.as_strided((n, ho, wo, c, kh, kw), (s_n, s_h * sh, s_w * sw, s_c, s_h * dh, s_w * dw))
    pos = rows % (ho * wo)
    patches = view[rows // (ho * wo), pos // wo, pos % wo]  # M x C x kh x kw
    return patches.reshape(rows.numel(), c * kh * kw)
