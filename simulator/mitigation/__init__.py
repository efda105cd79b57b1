r"""Mitigation methods against crossbar non-idealities, each a searchable knob.

* :mod:`~simulator.mitigation.moments`: analytic mean/covariance propagation under
  conductance noise (the cheapest fidelity), with :mod:`~simulator.mitigation.analytic`
  referring a :class:`~simulator.config.CrossbarConfig` to it, and
  :mod:`~simulator.mitigation.amplification` (KKT amplification/power allocation).
* :mod:`~simulator.mitigation.remap`: SRS/DRS sensitivity re-mapping against IR drop.
* :mod:`~simulator.mitigation.resna`: stochastic-noise-aware fine-tuning (ReSNA).
* :mod:`~simulator.mitigation.correctnet`: Lipschitz regularization, per-layer ADC bits and
  error-compensation modules (CorrectNet+).
* :mod:`~simulator.mitigation.faults`: fault-aware mapping vs read-verify-write.
"""
