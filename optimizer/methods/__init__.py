"""Built-in optimization methods, registered lazily by import path.

``optimizer.suggest`` reads ``BUILTIN_METHODS`` the first time the registry is used; a method's
module is imported only when the method is asked for, so ``import optimizer`` stays fast, and a
method whose module is absent is simply not listed by ``available_methods()``.

Each path names a dataclass whose keyword-only fields are the method's options, declared once in
its ``OPTIONS`` table (``optimizer.methods.options``), and which has
``suggest(self, ctx: SuggestContext) -> list[Suggestion]`` (``optimizer.context``).
"""

from __future__ import annotations

BUILTIN_METHODS: dict[str, str] = {
    "random": "optimizer.methods.random_search:RandomSearch",
    "sobol": "optimizer.methods.sobol:SobolSearch",
    "nsga2": "optimizer.methods.nsga2:NSGA2",
    "optuna-tpe": "optimizer.methods.optuna_samplers:OptunaTPE",
    "optuna": "optimizer.methods.optuna_samplers:OptunaTPE",
    "optuna-nsga2": "optimizer.methods.optuna_samplers:OptunaNSGA2",
    "qnehvi": "optimizer.methods.qnehvi:QNEHVI",
    "cf-mesmo": "optimizer.methods.cfmesmo:CFMESMO",
    "momf": "optimizer.methods.momf:MOMFMethod",
    "mf-hvkg": "optimizer.methods.mf_hvkg:MFHVKGMethod",
}
"""Method name -> ``"module:Class"``."""
