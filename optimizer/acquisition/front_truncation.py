r"""Truncation of the target-fidelity objectives by sampled Pareto fronts.

Output-space entropy search conditions the objectives :math:`f(x, z^*)` at a candidate on a
sampled Pareto front :math:`\mathcal{F}^{*s}`: given the front, no design can strictly
dominate one of its points, so :math:`f(x, z^*)` lies in the region the front dominates,

.. math::

    A_s = \{y : \nexists\, p \in \mathcal{F}^{*s},\ y \succ p\}
        = \bigcup_{c} [l_c, u_c] \quad\text{(disjoint boxes)},

PFES [Suzuki2020]_. MESMO [Belakaria2019]_ keeps only the front's per-objective maxima, i.e.
the single box :math:`y \le y^{*s}`; a design whose objectives all lie below their maxima but
near the *interior* of the front is then almost uninformative, however close it is to the
front, and the search spends its evaluations on the front's extremes and on uncertain edges of
the box. With the whole front, a point near the staircase of :math:`\mathcal{F}^{*s}` has a
large probability of being cut off, hence a large information gain.

``front_boxes`` builds the boxes per sample (BoTorch's ``compute_sample_box_decomposition``:
the dominated partitioning with a reference point at :math:`-10^{10}`); ``truncated_covariance``
gives, for independent Gaussian objectives at a candidate, the covariance (in standardized
units) of the Gaussian truncated to :math:`A_s`: a mixture over the boxes of products of
one-dimensional truncated normals, whose weights are the boxes' probabilities. For the single
box :math:`y \le y^*` its diagonal is :math:`1 - r(\gamma + r)`, the variance behind MESMO's
and GIBBON's closed forms.

References:
    .. [Suzuki2020] S. Suzuki, S. Takeno, T. Tamura, K. Shitara, M. Karasuyama. Multi-objective
       Bayesian optimization using Pareto-frontier entropy. ICML 2020.
    .. [Belakaria2019] S. Belakaria, A. Deshwal, J. R. Doppa. Max-value entropy search for
       multi-objective Bayesian optimization. NeurIPS 2019.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from botorch.acquisition.multi_objective.utils import compute_sample_box_decomposition
from botorch.utils.multi_objective.pareto import is_non_dominated
from torch import Tensor
from torch.special import log_ndtr

MAX_FRONT_POINTS = 12
"""Points kept of each sampled front (the per-objective extremes, then the points adding the
most hypervolume, greedily): the number of boxes grows with it (``P + 1`` for two objectives,
far faster beyond), and with it the cost of every acquisition evaluation."""

_CLIP = 40.0
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def thin_front(front: Tensor, k: int = MAX_FRONT_POINTS) -> Tensor:
    r"""At most ``k`` points of a front ``P x m`` (maximization): each objective's best point,
    then greedily the point of largest hypervolume contribution (reference: the front's
    per-objective minima minus 10% of its range) until ``k``."""
    front = front[is_non_dominated(front)]
    if front.shape[0] <= k:
        return front
    m = front.shape[-1]
    keep = list(dict.fromkeys(int(i) for i in front.argmax(dim=0)))[:k]
    if m == 2:  # exact contributions on the staircase, cheap
        lo = front.min(0).values - 0.1 * (front.max(0).values - front.min(0).values + 1e-12)
        while len(keep) < k:
            best, best_gain = -1, -1.0
            sel = front[keep]
            for i in range(front.shape[0]):
                if i in keep:
                    continue
                pts = torch.cat([sel, front[i:i + 1]])
                gain = _hv2(pts, lo) - _hv2(sel, lo)
                if gain > best_gain:
                    best, best_gain = i, gain
            keep.append(best)
        return front[keep]
    # m > 2: spread along the front (farthest point in objective space, scaled)
    span = (front.max(0).values - front.min(0).values).clamp_min(1e-12)
    F = front / span
    dist = torch.cdist(F, F[keep]).min(-1).values
    while len(keep) < k:
        i = int(dist.argmax())
        keep.append(i)
        dist = torch.minimum(dist, (F - F[i]).norm(dim=-1))
    return front[keep]


def _hv2(pts: Tensor, ref: Tensor) -> float:
    p = pts[is_non_dominated(pts)]
    p = p[p[:, 0].argsort(descending=True)]
    hv, y_prev = 0.0, float(ref[1])
    for x, y in p.tolist():
        if y > y_prev:
            hv += (x - float(ref[0])) * (y - y_prev)
            y_prev = y
    return hv


def front_boxes(fronts: Sequence[Tensor], k: int = MAX_FRONT_POINTS) -> Tensor:
    r"""``S x 2 x J x m`` lower and upper bounds of the disjoint boxes whose union is the region
    each sampled front dominates (maximization; lower bounds at :math:`-10^{10}`; padding
    boxes are empty, ``[0, 0]``), from ``S`` fronts ``P_s x m`` thinned to ``k`` points."""
    thin = [thin_front(f.double(), k) for f in fronts]
    P = max(t.shape[0] for t in thin)
    padded = torch.stack([torch.cat([t, t[:1].expand(P - t.shape[0], -1)]) for t in thin])
    return compute_sample_box_decomposition(padded)


def _log_mass(a: Tensor, b: Tensor) -> Tensor:
    r""":math:`\log(\Phi(b) - \Phi(a))` for ``a <= b``, stable in both tails."""
    flip = a > 0  # upper tail: Phi(b) - Phi(a) = Phi(-a) - Phi(-b)
    hi = torch.where(flip, -a, b)
    lo = torch.where(flip, -b, a)
    lh, ll = log_ndtr(hi), log_ndtr(lo)
    return lh + torch.log1p(-torch.exp((ll - lh).clamp_max(-1e-12)))


def truncated_covariance(mean: Tensor, sd: Tensor, boxes: Tensor) -> Tensor:
    r"""Covariance, in standardized units, of independent normals truncated to a union of boxes.

    Args:
        mean: ``b x m`` means.
        sd: ``b x m`` standard deviations (``> 0``).
        boxes: ``S x 2 x J x m`` (``front_boxes``).

    Returns:
        ``b x S x m x m``: for each candidate and sample, the covariance of
        :math:`(f - \mu) / \sigma` given :math:`f \in \bigcup_c [l_c, u_c]`.
    """
    mu = mean[:, None, None, :]  # b x 1 x 1 x m
    s = sd[:, None, None, :]
    lo = ((boxes[:, 0][None] - mu) / s).clamp(-_CLIP, _CLIP)  # b x S x J x m
    hi = ((boxes[:, 1][None] - mu) / s).clamp(-_CLIP, _CLIP)
    empty = (boxes[:, 1] - boxes[:, 0] <= 1e-12).any(-1)[None]  # 1 x S x J: padding
    e = empty.unsqueeze(-1)
    lo = torch.where(e, torch.full_like(lo, -1.0), lo)  # harmless stand-ins, weight 0
    hi = torch.where(e, torch.full_like(hi, 1.0), torch.maximum(hi, lo))
    log_z = _log_mass(lo, hi)  # b x S x J x m
    log_w = log_z.sum(-1).masked_fill(empty, -math.inf)  # b x S x J
    w = torch.softmax(log_w, dim=-1).unsqueeze(-1)  # b x S x J x 1
    log_phi_lo = -0.5 * lo * lo - _LOG_SQRT_2PI
    log_phi_hi = -0.5 * hi * hi - _LOG_SQRT_2PI
    p_lo, p_hi = torch.exp(log_phi_lo - log_z), torch.exp(log_phi_hi - log_z)
    m1 = p_lo - p_hi  # E[t] per box
    m2 = 1.0 + lo * p_lo - hi * p_hi  # E[t^2] per box
    M = (w * m1).sum(-2)  # b x S x m
    cross = torch.einsum("bsjk,bsjl->bskl", w * m1, m1)  # E[t_k t_l], k != l
    diag = (w * m2).sum(-2)  # E[t_k^2]
    second = cross - torch.diag_embed(torch.diagonal(cross, dim1=-2, dim2=-1)) \
        + torch.diag_embed(diag)
    cov = second - M.unsqueeze(-1) * M.unsqueeze(-2)
    return cov


def front_information_gain(rho: Tensor, cov: Tensor) -> Tensor:
    r""":math:`-\tfrac12 \ln\det(I - R (I - V) R)`, :math:`R = \mathrm{diag}(\rho)`: the
    information an observation with correlations ``rho`` (``b x m``) to the target objectives
    carries about a front that truncates them to standardized covariance ``cov``
    (``b x S x m x m``), under a Gaussian approximation of the truncated target (GIBBON's
    moment matching [Moss2021]_, jointly over objectives). ``b x S``, ``>= 0``."""
    m = cov.shape[-1]
    eye = torch.eye(m, dtype=cov.dtype)
    R = rho.unsqueeze(-2)  # b x 1 x m
    shrink = eye - cov
    # numerical guard: the truncated variance cannot exceed 1 nor be negative
    d = torch.diagonal(shrink, dim1=-2, dim2=-1).clamp(0.0, 1.0 - 1e-12)
    shrink = shrink - torch.diag_embed(torch.diagonal(shrink, dim1=-2, dim2=-1)) \
        + torch.diag_embed(d)
    Rm = R.unsqueeze(-1) * R.unsqueeze(-2)  # b x 1 x m x m: rho_k rho_l
    inner = eye - Rm * shrink
    if m == 1:
        ld = torch.log(inner[..., 0, 0].clamp_min(1e-12))
    elif m == 2:
        det = inner[..., 0, 0] * inner[..., 1, 1] - inner[..., 0, 1] * inner[..., 1, 0]
        ld = torch.log(det.clamp_min(1e-12))
    else:
        ld = torch.linalg.slogdet(inner)[1]
    return (-0.5 * ld).clamp_min(0.0)


__all__ = ["MAX_FRONT_POINTS", "front_boxes", "front_information_gain", "thin_front",
           "truncated_covariance"]
