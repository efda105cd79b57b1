r"""The default design space of a ``crossbar`` study, in the optimizer's JSON spec format.

Design choices (array geometry, precisions, ADC sharing, encoding, node) are searched; device
facts (conductance window, programming/read noise, stuck-at rates, wire resistance, read
voltage, clock) stay at the :class:`~simulator.config.CrossbarConfig` defaults of
:mod:`simulator.params`, since a designer picks a device rather than tuning its noise. A
study can add any of them to its space (every spec name is a config field) or pin them with
``fixed``. Every combination of the values below is a valid config: ``cols_per_adc`` values
divide every ``cols`` value and ``dac_bits <= input_bits`` always holds.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["DEFAULT_SEARCH_SPACE", "default_search_space"]

DEFAULT_SEARCH_SPACE: list[dict[str, Any]] = [
    {"name": "rows", "type": "ordinal", "values": [64, 128, 256, 512]},
    {"name": "cols", "type": "ordinal", "values": [64, 128, 256, 512]},
    {"name": "cell_bits", "type": "int", "low": 1, "high": 4},
    {"name": "weight_bits", "type": "int", "low": 3, "high": 8},
    {"name": "input_bits", "type": "int", "low": 4, "high": 8},
    {"name": "dac_bits", "type": "ordinal", "values": [1, 2, 4]},
    {"name": "adc_bits", "type": "int", "low": 3, "high": 8},
    {"name": "cols_per_adc", "type": "ordinal", "values": [1, 2, 4, 8, 16, 32]},
    {"name": "tech_node_nm", "type": "ordinal", "values": [22, 32, 45, 65]},
    {"name": "encoding", "type": "categorical", "choices": ["differential", "offset"]},
]


def default_search_space() -> list[dict[str, Any]]:
    """A fresh copy of :data:`DEFAULT_SEARCH_SPACE` (callers may mutate it)."""
    return copy.deepcopy(DEFAULT_SEARCH_SPACE)
