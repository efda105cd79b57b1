r"""Mitigation methods against crossbar non-idealities, each a searchable knob.

* :mod:`~simulator.mitigation.apply`: the knobs of :class:`~simulator.config.CrossbarConfig`
  wired into an evaluation (:func:`~simulator.mitigation.apply.prepare`,
  :func:`~simulator.mitigation.apply.configure_analog`,
  :func:`~simulator.mitigation.apply.overhead`).
* :mod:`~simulator.mitigation.remap`: SRS/DRS sensitivity re-mapping against IR drop.
* :mod:`~simulator.mitigation.resna`: stochastic-noise-aware fine-tuning (ReSNA).
* :mod:`~simulator.mitigation.correctnet`: Lipschitz regularization, per-layer ADC bits and
  error-compensation modules (CorrectNet+; the compensators in
  :mod:`~simulator.mitigation.compensation`).
* :mod:`~simulator.mitigation.faults`: fault-aware mapping vs read-verify-write.
* :mod:`~simulator.mitigation.amplification`: KKT amplification/power allocation.

The analytic moment model these methods use to predict accuracy is an estimator, in
:mod:`simulator.estimators`.
"""
