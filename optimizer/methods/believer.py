"""Kriging-believer fantasies: a model conditioned on its own posterior mean at points in
flight, which shrinks its variance (hence an information gain or a probability's spread) there
and leaves its mean unchanged."""

from __future__ import annotations

import warnings

import torch
from botorch.models.model import Model
from gpytorch.utils.warnings import NumericalWarning
from torch import Tensor

from optimizer.known_noise import prospective_fixed_noise


def kriging_believer(model: Model, X: Tensor) -> Model:
    """``model`` conditioned on its own posterior mean at ``X`` (``p x D``); ``p = 0`` returns
    ``model`` unchanged."""
    if X.shape[0] == 0:
        return model
    with torch.no_grad():
        mean = model.posterior(X).mean
    noise = prospective_fixed_noise(model, X)  # known noise: the fantasy's own, else None
    if noise is None:
        return model.condition_on_observations(X, mean)
    with warnings.catch_warnings():  # MIN_FIXED_NOISE, round-tripped through the scale
        warnings.simplefilter("ignore", category=NumericalWarning)
        return model.condition_on_observations(X, mean, noise=noise)


__all__ = ["kriging_believer"]
