r"""Analog forward pass of mapped layers, vectorized over ``S`` Monte-Carlo draws.

One read of an array (:class:`AnalogLayer`):

1. **Inputs** are quantized to ``input_bits`` unsigned integers with a per-layer step
   calibrated on clean activations (signed inputs, when calibration sees any, are split into a
   positive and a negative pass). Each integer is applied in ``ceil(input_bits / dac_bits)``
   cycles of ``dac_bits`` bits: word-line voltage ``d · V_read / (2**dac_bits - 1)``.
2. **Column currents** ``I = v @ G_eff`` [µA, with v in V and G in µS], where ``G_eff`` is the
   programmed conductance (levels, programming variation, stuck-at faults: drawn once per
   Monte-Carlo draw) seen through the IR-drop model
   (:func:`simulator.nonideal.ir_drop.effective_conductance`); read noise is added per read.
3. **ADC**: every used column and cycle is quantized to ``adc_bits`` over a per-layer range
   ``[lo, hi]`` calibrated on the clean currents of the calibration batch (read on the nominal,
   noise-free arrays through the same IR-drop model), clipping outside it.
4. **Digital**: readings are converted to level units (``I / (V_unit · Δg)``), shift-added
   over cycles and cells, differential pairs / reference columns subtracted, row-tile partial
   sums added, then rescaled by the weight and input steps; the bias is added digitally.

Steps 2-4 run in cache-sized blocks of input vectors, with the ADC offset and step folded into
the conductances and the read noise drawn straight into the product's accumulator
(:func:`simulator.readout.read_layer`): the arithmetic is ``cycles x columns-per-weight``
products of the clean layer's size. ``readout="column_sum"`` digitizes the slice-summed column
current once per cycle instead (the fast tier of :mod:`simulator.readout`).

Draws are a leading ``S`` dimension: ``S`` programmed chips are read draw by draw through the
same blocks. Activations between layers carry ``S`` folded into the batch dimension
(``S·N``), so unmapped modules (ReLU, pooling, batch norm) run unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Generator, Tensor, nn

from simulator.config import CrossbarConfig
from simulator.mapping import (
    MappedWeight,
    map_weight,
    unrolled_weight,
)
from simulator.nominal import NominalArrays, nominal_current_range, nominal_read
from simulator.nonideal import (
    BaseNonIdeality,
    ConductanceQuantization,
    ProgrammingVariation,
    ReadNoise,
    StuckAtFaults,
    device_nonidealities,
    level_conductance,
)
from simulator.nonideal.ir_drop import (
    IR_DROP_MODES,
    drop_correction,
    effective_conductance,
)
from simulator.nonideal.ir_transfer import DropCorrection
from simulator.patches import conv_out_hw, even_rows, gather_patches
from simulator.readout import (
    ReadPlan,
    column_sum_conductance,
    current_range,
    read_layer,
    zero_code_grid,
)
from simulator.tiling import TileLayout

__all__ = ["READOUTS", "AnalogLayer"]

READOUTS: tuple[str, ...] = ("per_slice", "column_sum")
"""ADC read-out models (:mod:`simulator.readout`): every slice column digitized per cycle
(exact), or the slice-summed column current digitized once per cycle (the fast tier)."""

CALIBRATION_VECTORS = 4096
"""Most input row vectors (samples x positions) read to calibrate a layer's ADC range; more
are subsampled evenly."""

_IN_PLACE_EFFECTS: tuple[type[BaseNonIdeality], ...] = (ProgrammingVariation, StuckAtFaults)
"""Effects programmed in place (exact types: a subclass may override the hook)."""


class AnalogLayer(nn.Module):
    """A ``nn.Linear`` or ``nn.Conv2d`` computed on crossbar tiles (see the module docstring).

    Life cycle: :meth:`calibrate` (once, on clean float activations), :meth:`program` (once per
    batch of ``S`` Monte-Carlo draws), then :meth:`forward` on `S·N x ...` inputs.
    """

    def __init__(
        self,
        name: str,
        module: nn.Linear | nn.Conv2d,
        config: CrossbarConfig,
        *,
        ir_drop: str = "ideal",
        nonidealities: list[BaseNonIdeality] | None = None,
        adc: bool = True,
        readout: str = "per_slice",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """
        Args:
            name: Layer name (module path).
            module: The float layer (its weight and bias are copied).
            config: The crossbar configuration.
            ir_drop: One of :data:`~simulator.nonideal.ir_drop.IR_DROP_MODES`.
            nonidealities: Effects to apply (default: :func:`device_nonidealities` of
                ``config``).
            adc: ``False`` bypasses ADC quantization (ideal periphery; for validation).
            readout: One of :data:`READOUTS`.
            dtype: Floating dtype of the simulation (float64 for reference checks).
        """
        super().__init__()
        if ir_drop not in IR_DROP_MODES:
            raise ValueError(f"ir_drop must be one of {IR_DROP_MODES}, got {ir_drop!r}.")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}.")
        self.readout = readout
        self.dtype = dtype
        self.name = name
        self.config = config
        self.ir_drop = ir_drop
        self.adc = adc
        self.effects = nn.ModuleList(
            device_nonidealities(config) if nonidealities is None else nonidealities
        )
        self.is_conv = isinstance(module, nn.Conv2d)
        if self.is_conv:
            self.kernel_size = module.kernel_size
            self.stride = module.stride
            self.padding = module.padding
            self.dilation = module.dilation
        self.mapped: MappedWeight = map_weight(
            name, "conv" if self.is_conv else "linear", unrolled_weight(module), config
        )
        bias = None if module.bias is None else module.bias.detach().to(torch.float32).clone()
        self.register_buffer("bias", bias)
        self.input_scale: float | None = None
        self.signed_inputs = False
        self.adc_range: tuple[float, float] | None = None
        self.g_eff: Tensor | None = None
        self.generator: Generator | None = None
        self._correction: DropCorrection | None = None
        self._g_sum: tuple[Tensor, Tensor] | None = None
        self.positions = 1
        """Row vectors per sample (output positions of a convolution), set by calibrate()."""
        used = self.mapped.used_index
        self._used_is_prefix = bool(torch.equal(used, torch.arange(used.numel())))

    # -- geometry ---------------------------------------------------------------------------

    @property
    def layout(self) -> TileLayout:
        """Geometry of the layer on the arrays."""
        return self.mapped.layout

    @property
    def _v_unit(self) -> float:
        """Word-line voltage of one DAC step [V]."""
        return self.config.read_voltage_v / (2**self.config.dac_bits - 1)

    @property
    def _dg(self) -> float:
        """Conductance of one level step [µS]."""
        return (self.config.g_on_us - self.config.g_off_us) / (self.config.levels - 1)

    def nominal_conductance(self) -> Tensor:
        r"""A `row_tiles x col_tiles x rows x cols`-dim Tensor of target conductances [µS]."""
        c = self.config
        return level_conductance(self.mapped.levels, c.g_off_us, c.g_on_us, c.levels)

    def _read_view(self, g_eff: Tensor) -> Tensor:
        r"""`S x row_tiles x rows_used x n_used` slice of `S x T_r x T_c x rows x cols` arrays
        (one strided copy: the read columns are ``0..n_used-1`` of the tiles side by side)."""
        s, t_r, t_c, rows, cols = g_eff.shape
        n_used = self.mapped.used_index.numel()
        rows_used = self.layout.in_features if t_r == 1 else rows
        if not self._used_is_prefix:
            flat = g_eff.permute(0, 1, 3, 2, 4).reshape(s, t_r, rows, t_c * cols)
            used = flat.index_select(-1, self.mapped.used_index.to(flat.device))
            return used[:, :, :rows_used].contiguous()
        src = g_eff.permute(0, 1, 3, 2, 4)[:, :, :rows_used]  # S x T_r x rows_used x T_c x cols
        out = g_eff.new_empty(s, t_r, rows_used, n_used)
        full = n_used // cols  # whole tiles, then the used part of the last one
        if full:
            out[..., : full * cols].unflatten(-1, (full, cols)).copy_(src[:, :, :, :full])
        if n_used > full * cols:
            out[..., full * cols :].copy_(src[:, :, :, full, : n_used - full * cols])
        return out

    def _effective(self, g: Tensor) -> Tensor:
        """Scratch conductances ``g`` [µS] through the IR-drop model (overwritten in place)."""
        r = self.config.wire_r_ohm
        if self.ir_drop in ("solved", "relaxation") and self._correction is None:
            self._correction = drop_correction(
                self.nominal_conductance(), r, self.ir_drop,
                min(self.config.rows, self.layout.in_features),
            )
        return effective_conductance(g, r, self.ir_drop, self._correction, inplace=True)

    # -- life cycle -------------------------------------------------------------------------

    @torch.no_grad()
    def calibrate(self, x: Tensor) -> None:
        r"""Set the input step and ADC range from clean float inputs.

        Args:
            x: A `N x ...`-dim Tensor of this layer's float inputs on the calibration batch.
        """
        qmax = 2**self.config.input_bits - 1
        peak = float(x.abs().max()) if x.numel() else 0.0
        self.input_scale = peak / qmax if peak > 0 else 1.0
        self.signed_inputs = bool(x.numel()) and float(x.min()) < 0
        self.positions = self.row_positions(x)
        x3 = self.unroll_rows(x, even_rows(x.shape[0] * self.positions, CALIBRATION_VECTORS))
        plan = self._plan(adc=False)
        arrays = None if self.readout == "column_sum" else self._nominal_arrays(plan)
        if arrays is not None:  # exact integer products, no conductance tensor
            self.adc_range = nominal_current_range(self._quantize(x3), arrays, plan)
            return
        g = self._read_view(self._effective(self._conductance()))
        if self.readout == "column_sum":
            g, _ = column_sum_conductance(g, self.mapped.combine)
        self.adc_range = current_range(self._quantize(x3), g, plan)

    def row_positions(self, x: Tensor) -> int:
        """Row vectors per sample of `N x ...` inputs (output positions of a convolution)."""
        if self.is_conv:
            h, w = self._out_hw(*x.shape[-2:])
            return max(1, h * w)
        return max(1, math.prod(x.shape[1:-1]))

    def unroll_rows(self, x: Tensor, rows: Tensor | None = None) -> Tensor:
        r"""The `1 x M x K` row vectors ``rows`` (flat indices ``sample·positions +
        position``) of `N x ...` inputs in the simulation dtype, every row when ``None``
        (:func:`simulator.patches.gather_patches`: only the picked patches are built)."""
        x = x.to(self.dtype)
        if rows is None:
            return self._unroll(x, 1)
        if not self.is_conv:
            return x.reshape(-1, x.shape[-1])[rows].unsqueeze(0)
        geometry = (self.kernel_size, self.stride, self.padding, self.dilation)
        return gather_patches(x, rows, *geometry).unsqueeze(0)

    def _nominal_arrays(self, plan: ReadPlan) -> NominalArrays | None:
        """The target levels of the read columns as :class:`~simulator.nominal.NominalArrays`
        when wires are ideal (the currents are then exact integer products), else ``None``."""
        ideal = self.ir_drop == "ideal" or self.config.wire_r_ohm == 0.0
        if not ideal or not NominalArrays.supported(plan, self.config.levels - 1):
            return None
        levels = self._read_view(self.mapped.levels.unsqueeze(0))[0].to(torch.int8)
        return NominalArrays(levels=levels, g_off_us=self.config.g_off_us, dg_us=self._dg)

    def _conductance(self, n_draws: int = 1) -> Tensor:
        r"""A `n_draws x row_tiles x col_tiles x rows x cols`-dim Tensor of nominal conductances
        [µS], ``g_off + level · Δg`` computed in the simulation dtype: exactly the grid that
        :class:`~simulator.nonideal.ConductanceQuantization` snaps to."""
        levels = self.mapped.levels
        g = torch.empty((n_draws, *levels.shape), dtype=self.dtype)
        g[0].copy_(levels).mul_(self._dg).add_(self.config.g_off_us)
        if n_draws > 1:
            g[1:].copy_(g[0])
        return g

    @torch.no_grad()
    def program(self, n_draws: int, generator: Generator | None = None) -> None:
        """Program ``n_draws`` independent instances of the arrays (programming-time effects).

        Args:
            n_draws: Monte-Carlo draws ``S`` (1 with no effects = the nominal chip).
            generator: Random source of the draws.
        """
        if n_draws < 1:
            raise ValueError(f"n_draws must be >= 1, got {n_draws!r}.")
        self.g_eff, self._g_sum = None, None  # free the previous draws first
        # One S x arrays buffer, the built-in effects applied in place (a full-size temporary
        # per step costs more in page faults than in arithmetic at VGG8 sizes).
        g = self._conductance(n_draws)
        effects = list(self.effects)
        if effects and self._on_level_grid(effects[0]):
            effects = effects[1:]  # the nominal levels are on its grid: the identity, exactly
        for effect in effects:
            if type(effect) in _IN_PLACE_EFFECTS:
                g = effect.apply_to_conductance(g, generator, inplace=True)
            else:
                g = effect.apply_to_conductance(g, generator)
        self.g_eff = self._read_view(self._effective(g))
        self._g_sum = None

    def _on_level_grid(self, effect: BaseNonIdeality) -> bool:
        """Whether ``effect`` snaps to the config's own level grid (the identity on nominal
        conductances, :meth:`_conductance`)."""
        c = self.config
        return (
            type(effect) is ConductanceQuantization
            and effect.n_levels == c.levels
            and effect.g_off_us == c.g_off_us
            and effect.g_on_us == c.g_on_us
        )

    # -- forward ----------------------------------------------------------------------------

    def _unroll(self, x: Tensor, n_draws: int) -> Tensor:
        """`S·N x ...` layer input -> `S x M x K` row vectors."""
        if self.is_conv:
            cols = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
            return cols.transpose(1, 2).reshape(n_draws, -1, cols.shape[1])
        return x.reshape(n_draws, -1, x.shape[-1])

    def _quantize(self, x3: Tensor) -> Tensor:
        """Float inputs -> signed integers (float dtype) of ``input_bits``."""
        qmax = 2**self.config.input_bits - 1
        low = -qmax if self.signed_inputs else 0
        return torch.clamp(torch.round(x3 / self.input_scale), low, qmax)

    def _plan(self, *, adc: bool, col_noise: Tensor | None = None) -> ReadPlan:
        """The :class:`~simulator.readout.ReadPlan` of this layer (read noise from its
        :class:`~simulator.nonideal.ReadNoise` effects, other read-time effects as given)."""
        c = self.config
        sigma2, others = 0.0, []
        for effect in self.effects:
            if type(effect).apply_to_currents is BaseNonIdeality.apply_to_currents:
                continue
            if isinstance(effect, ReadNoise):
                sigma2 += effect.sigma_us**2
            else:
                others.append(
                    lambda cur, vn, gen, e=effect: e.apply_to_currents(cur, vn, gen, inplace=True)
                )
        return ReadPlan(
            v_unit=self._v_unit,
            dac_bits=c.dac_bits,
            cycles=c.input_cycles,
            signed=self.signed_inputs,
            rows=c.rows,
            row_tiles=self.layout.row_tiles,
            adc=self._adc_step() if adc and self.adc else None,
            sigma_us=math.sqrt(sigma2),
            col_noise=col_noise,
            effects=tuple(others),
        )

    def _adc_step(self) -> tuple[float, float, int]:
        """``(lo, step, top)``: ADC offset [µA], LSB [µA] and largest code (column-sum tier:
        zero current on a code, :func:`~simulator.readout.zero_code_grid`)."""
        lo, hi = self.adc_range  # type: ignore[misc]
        top = 2**self.config.adc_bits - 1
        if self.readout == "column_sum":
            return zero_code_grid(lo, hi, top)
        return lo, ((hi - lo) / top if hi > lo else 1.0), top

    def forward(self, x: Tensor) -> Tensor:
        r"""Layer output on the programmed draws.

        Args:
            x: A `S·N x ...`-dim Tensor (``S`` = programmed draws, draw-major).

        Returns:
            A `S·N x ...`-dim Tensor, the analog counterpart of the float layer's output.
        """
        if self.g_eff is None or self.input_scale is None:
            raise RuntimeError(f"layer {self.name!r}: call calibrate() and program() first.")
        s = self.g_eff.shape[0]
        if x.shape[0] % s:
            raise ValueError(
                f"layer {self.name!r}: batch {x.shape[0]} is not a multiple of {s} draws."
            )
        q = self._quantize(self._unroll(x.to(self.dtype), s))
        if self.readout == "column_sum" and self._g_sum is None:
            self._g_sum = column_sum_conductance(self.g_eff, self.mapped.combine)
        y, plan = self._read(q, self.g_eff, self._g_sum, self._plan(adc=True))
        return self._fold(self._digital(y, q, plan), x)

    @torch.no_grad()
    def nominal_forward(self, x: Tensor) -> Tensor:
        r"""`N x ...` inputs -> `N x ...` outputs of one nominal chip: the target levels read
        through the IR-drop model and the ADC without device effects (no programming or read
        noise; exact integer products with ideal wires, :func:`~simulator.nominal.
        nominal_read`; no :meth:`program` needed)."""
        return self._fold(self.nominal_rows(self.unroll_rows(x))[0], x)

    @torch.no_grad()
    def nominal_rows(self, x3: Tensor) -> Tensor:
        r"""Outputs of one nominal chip (:meth:`nominal_forward`) for `1 x M x K` row vectors
        (:meth:`unroll_rows`): a `1 x M x out`-dim Tensor, bias included."""
        if self.input_scale is None:
            raise RuntimeError(f"layer {self.name!r}: call calibrate() first.")
        q = self._quantize(x3)
        plan = replace(self._plan(adc=True), sigma_us=0.0, effects=())
        arrays = None if self.readout == "column_sum" else self._nominal_arrays(plan)
        if arrays is not None:
            y = nominal_read(q, arrays, plan, self.mapped.combine, self.dtype)
        else:
            g = self._read_view(self._effective(self._conductance()))
            g_sum = None
            if self.readout == "column_sum":
                g_sum = column_sum_conductance(g, self.mapped.combine)
            y, plan = self._read(q, g, g_sum, plan)
        return self._digital(y, q, plan)

    def _read(
        self, q: Tensor, g: Tensor, g_sum: tuple[Tensor, Tensor] | None, plan: ReadPlan
    ) -> tuple[Tensor, ReadPlan]:
        """Shift-added codes of `S x M x K` inputs on conductances ``g`` (or their column sums
        ``g_sum`` in the column-sum tier), and the plan they were read with."""
        if g_sum is not None:
            plan = replace(plan, col_noise=g_sum[1])
            return read_layer(q, g_sum[0], plan, generator=self.generator), plan
        return read_layer(q, g, plan, self.mapped.combine.to(g), self.generator), plan

    def _digital(self, y: Tensor, q: Tensor, plan: ReadPlan) -> Tensor:
        """`S x M x out` codes -> outputs: ADC offset, level units, weight offset, scales,
        bias."""
        n_sum = None if self.readout == "column_sum" else self.mapped.combine.to(y).sum(0)
        unit = self._v_unit * self._dg  # µA per level unit
        reads = float(plan.cycle_weights(torch.float64).sum()) * self.layout.row_tiles
        if plan.adc is not None:
            lo, step, _ = plan.adc
            # codes -> level units: (code·step + lo) / unit summed with the cycle weights
            y = y.mul_(step / unit)
            offset = lo / unit * reads
            y = y.add_(offset if n_sum is None else offset * n_sum)
        else:
            y = y.div_(unit)
        if self.mapped.offset:
            y = y - self.mapped.offset * q.sum(-1, keepdim=True)
        y = y * (self.mapped.weight_scale * self.input_scale)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y

    def _fold(self, y: Tensor, x: Tensor) -> Tensor:
        """`S x M x out` -> the float layer's output layout, `S·N x ...`."""
        if not self.is_conv:
            return y.reshape(*x.shape[:-1], y.shape[-1])
        h_out, w_out = self._out_hw(*x.shape[-2:])
        return (
            y.reshape(x.shape[0], h_out * w_out, -1)
            .transpose(1, 2)
            .reshape(x.shape[0], -1, h_out, w_out)
        )

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        return conv_out_hw(h, w, self.kernel_size, self.stride, self.padding, self.dilation)
