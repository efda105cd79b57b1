r"""Accuracy estimators: how the noisy accuracy of a configuration is estimated at a fidelity.

* :mod:`~simulator.estimators.base`: the result
  (:class:`~simulator.estimators.base.AccuracyEstimate`), the plan an estimator reads and the
  stratified test subset every estimator evaluates.
* :mod:`~simulator.estimators.registry`: the estimators by the name a fidelity plan gives.
* :mod:`~simulator.estimators.montecarlo`: ``"montecarlo"``, simulated chips
  (:class:`simulator.analog_model.AnalogModel`) read over the test subset.
* :mod:`~simulator.estimators.analytic`: ``"moments"``, accuracy from analytic moment
  propagation, with

  * :mod:`~simulator.estimators.referral`: a configuration's noise referred to each layer,
  * :mod:`~simulator.estimators.moments`: mean/covariance propagation through the network,
  * :mod:`~simulator.estimators.moment_maps`: the moments through one module,
  * :mod:`~simulator.estimators.moment_sampling`: the same noise model sampled (reference).

Nothing is imported here, so that the mitigations, which use the moment model, can import
its modules without loading the estimators that run them.
"""
