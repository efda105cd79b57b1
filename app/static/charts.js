// xbar-dse dashboard: Plotly figures (scatter matrix, hypervolume history, parallel
// coordinates, histograms, cost breakdowns). Each builder returns {data, layout} for
// Plotly.react; every stored string passes through plotlyText. All traces are SVG (no WebGL,
// no eval), so the page keeps a CSP without 'unsafe-eval' and every chart exports as PNG.
/* global Plotly */
import { label, plotlyText } from "./api.js";

export const FONT = { family: "system-ui, sans-serif", size: 11, color: "#1d2330" };
export const COLORS = { front: "#0b5cad", full: "#8a93a3", other: "#c2571a" };
const PREDICTED_BAR = "rgba(194, 87, 26, 0.25)";  // COLORS.other, faint: ± sd of predictions
const AXIS = { ticks: "outside", showline: true, linecolor: "#b9c0cc", gridcolor: "#eef0f3",
               zeroline: false, automargin: true, exponentformat: "power" };
export const CONFIG = { responsive: true, displaylogo: false,
                        modeBarButtonsToRemove: ["select2d", "lasso2d"] };

/** ``area [mm²] ↓``: an objective's axis title with its unit and direction. */
export function objectiveTitle(o) {
  return plotlyText(`${label(o.name)} ${o.direction === "maximize" ? "↑" : "↓"}`);
}

function baseLayout(extra) {
  return Object.assign({ font: FONT, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    margin: { l: 60, r: 20, t: 10, b: 50 }, hovermode: "closest",
    legend: { orientation: "h", y: 1.02, yanchor: "bottom", x: 0 } }, extra);
}

/** Axis pairs of a scatter matrix over ``m`` objectives: the upper triangle (row i, column
 *  j-1 for i < j) of an (m-1) x (m-1) grid; one cell for two objectives. */
function cells(m) {
  const n = Math.max(m - 1, 1), gap = 0.06, out = [];
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) {
    const r = i, c = j - 1;
    out.push({ i, j, x: [c / n + gap / 2, (c + 1) / n - gap / 2],
               y: [1 - (r + 1) / n + gap, 1 - r / n - gap / 2] });
  }
  return out;
}

/** The Pareto scatter matrix.
 *  groups: [{name, points: [{number, values, fidelity, sd?}], marker, fidelityScale?,
 *  predicted?}] drawn in order (the last on top); ``fidelityScale: [zmin, zmax]`` colours a
 *  group by fidelity; ``predicted`` groups are model predictions (``sd`` as error bars). */
export function matrixFigure(objectives, groups) {
  const m = objectives.length, layout = baseLayout({ height: m > 2 ? 250 * (m - 1) + 60 : 380,
    margin: { l: 70, r: 20, t: 30, b: 50 } });
  const data = [];
  cells(m).forEach((cell, k) => {
    const ax = k === 0 ? "" : String(k + 1), ox = objectives[cell.j], oy = objectives[cell.i];
    layout[`xaxis${ax}`] = Object.assign({}, AXIS, { domain: cell.x, anchor: `y${ax}`,
      title: { text: objectiveTitle(ox), standoff: 4 } });
    layout[`yaxis${ax}`] = Object.assign({}, AXIS, { domain: cell.y, anchor: `x${ax}`,
      title: { text: objectiveTitle(oy), standoff: 4 } });
    for (const g of groups) {
      const pts = g.points.filter(p => p.values && ox.name in p.values && oy.name in p.values);
      const marker = Object.assign({ size: 7 }, g.marker);
      if (g.fidelityScale) Object.assign(marker, { color: pts.map(p => p.fidelity),
        colorscale: "Viridis", cmin: g.fidelityScale[0], cmax: g.fidelityScale[1],
        showscale: k === 0, colorbar: { title: { text: "fidelity" }, thickness: 10, len: 0.5,
                                        y: 1, yanchor: "top" } });
      const trace = { type: "scatter", mode: "markers", name: plotlyText(g.name),
        legendgroup: g.name, showlegend: k === 0, xaxis: `x${ax}`, yaxis: `y${ax}`,
        x: pts.map(p => p.values[ox.name]), y: pts.map(p => p.values[oy.name]),
        customdata: pts.map(p => [p.number, p.fidelity]), marker,
        hovertemplate: `trial #%{customdata[0]} (fidelity %{customdata[1]:.3g})<br>` +
          `${plotlyText(label(ox.name))}: %{x:.4g}<br>${plotlyText(label(oy.name))}: ` +
          `%{y:.4g}<extra>${plotlyText(g.name)}</extra>` };
      if (g.predicted) Object.assign(trace, {  // predictions: mean ± sd, never a trial
        error_x: { type: "data", array: pts.map(p => p.sd[ox.name]), thickness: 1, width: 0,
                   color: PREDICTED_BAR },
        error_y: { type: "data", array: pts.map(p => p.sd[oy.name]), thickness: 1, width: 0,
                   color: PREDICTED_BAR },
        hovertemplate: `PREDICTED design %{customdata[0]} (model mean ± sd at fidelity ` +
          `%{customdata[1]:.3g})<br>${plotlyText(label(ox.name))}: %{x:.4g}<br>` +
          `${plotlyText(label(oy.name))}: %{y:.4g}<extra>${plotlyText(g.name)}</extra>` });
      data.push(trace);
    }
  });
  return { data, layout };
}

/** Hypervolume vs cumulative evaluation cost [s] and vs wall time since start [s].
 *  history: [{cost, wall, hv}] in event order. */
export function hvFigure(history) {
  const pts = history.filter(p => p.hv !== null && p.hv !== undefined);
  const line = { shape: "hv", color: COLORS.front, width: 2 };
  const walls = pts.filter(p => p.wall !== null && p.wall !== undefined);
  return {
    data: [
      { type: "scatter", mode: "lines+markers", x: pts.map(p => p.cost), y: pts.map(p => p.hv),
        line, marker: { size: 4 }, name: "vs cost", showlegend: false,
        hovertemplate: "cost %{x:.4g} s<br>HV %{y:.4g}<extra></extra>" },
      { type: "scatter", mode: "lines+markers", x: walls.map(p => p.wall),
        y: walls.map(p => p.hv), line, marker: { size: 4 }, xaxis: "x2", yaxis: "y2",
        name: "vs wall time", showlegend: false,
        hovertemplate: "wall %{x:.4g} s<br>HV %{y:.4g}<extra></extra>" },
    ],
    layout: baseLayout({ height: 300,
      xaxis: Object.assign({}, AXIS, { domain: [0, 0.45], title: { text: "cumulative cost [s]" },
                                       rangemode: "tozero" }),
      yaxis: Object.assign({}, AXIS, { title: { text: "hypervolume" } }),
      xaxis2: Object.assign({}, AXIS, { domain: [0.55, 1], anchor: "y2",
                                        title: { text: "wall time since start [s]" },
                                        rangemode: "tozero" }),
      yaxis2: Object.assign({}, AXIS, { anchor: "x2", title: { text: "hypervolume" } }) }),
  };
}

/** A dimension of the parallel-coordinates chart: numeric (``lo..hi``) or categorical
 *  (``categories``); ``value(trial)`` reads it. */
function dimRange(dim, trials) {
  if (dim.categories) return { lo: 0, hi: Math.max(dim.categories.length - 1, 0) };
  const vs = trials.map(dim.value).filter(v => typeof v === "number" && isFinite(v));
  let lo = Math.min(...vs), hi = Math.max(...vs);
  if (!isFinite(lo)) { lo = 0; hi = 1; }
  return { lo, hi };
}

/** Parallel coordinates over parameters and objectives, one Plotly y-axis per dimension (real
 *  ticks and values, categories by name) over a hidden unit axis that carries the lines.
 *  dims: [{label, value(trial), categories?}]; groups: [{name, trials, color, width}]. */
export function parallelFigure(dims, groups) {
  const all = groups.flatMap(g => g.trials), n = dims.length, pad = 0.25;
  const ranges = dims.map(d => {
    const r = dimRange(d, all);
    if (r.lo !== r.hi) return r;
    return d.log ? { lo: r.lo / 2, hi: r.hi * 2 } : { lo: r.lo - 0.5, hi: r.hi + 0.5 };
  });
  const unit = (k, t) => {
    const d = dims[k];
    let v = d.value(t);
    if (d.categories) v = d.categories.indexOf(v) >= 0 ? d.categories.indexOf(v) : null;
    if (typeof v !== "number" || !isFinite(v)) return null;
    if (d.log) return v > 0 ? (Math.log10(v) - Math.log10(ranges[k].lo)) /
      (Math.log10(ranges[k].hi) - Math.log10(ranges[k].lo)) : null;
    return (v - ranges[k].lo) / (ranges[k].hi - ranges[k].lo);
  };
  const data = groups.map(g => {
    const x = [], y = [], cd = [];
    for (const t of g.trials) {
      for (let k = 0; k < n; k++) { x.push(k); y.push(unit(k, t)); cd.push(t.number); }
      x.push(null); y.push(null); cd.push(null);
    }
    return { type: "scatter", mode: "lines", x, y, customdata: cd, name: plotlyText(g.name),
      line: { color: g.color, width: g.width || 1 }, opacity: g.opacity || 1,
      connectgaps: false, hovertemplate: `trial #%{customdata}<extra>${plotlyText(g.name)}</extra>` };
  });
  const layout = baseLayout({ height: 360, margin: { l: 40, r: 40, t: 30, b: 70 },
    xaxis: { range: [-pad, n - 1 + pad], tickvals: dims.map((_, k) => k),
             ticktext: dims.map(d => plotlyText(d.label)), showgrid: false, zeroline: false,
             tickangle: -30, automargin: true },
    yaxis: { range: [0, 1], visible: false, fixedrange: true } });
  dims.forEach((d, k) => {
    const ax = `yaxis${k + 2}`;
    layout[ax] = Object.assign({}, AXIS, { overlaying: "y", anchor: "free", side: "left",
      position: (k + pad) / (n - 1 + 2 * pad), range: [ranges[k].lo, ranges[k].hi],
      showgrid: false, fixedrange: true, tickfont: { size: 9 }, automargin: false,
      type: d.log ? "log" : "linear" });
    if (d.log) layout[ax].range = [Math.log10(ranges[k].lo), Math.log10(ranges[k].hi)];
    if (d.categories) Object.assign(layout[ax], { tickvals: d.categories.map((_, i) => i),
      ticktext: d.categories.map(c => plotlyText(c)) });
    // an invisible trace on each axis, so Plotly draws it
    data.push({ type: "scatter", mode: "markers", x: [k, k], y: [ranges[k].lo, ranges[k].hi],
      yaxis: `y${k + 2}`, marker: { opacity: 0 }, hoverinfo: "skip", showlegend: false });
  });
  return { data, layout };
}

/** Histograms of trial fidelity and evaluation cost [s] (completed trials). */
export function histFigure(trials) {
  const done = trials.filter(t => t.cost_s !== null && t.cost_s !== undefined);
  return {
    data: [
      { type: "histogram", x: done.map(t => t.fidelity), marker: { color: COLORS.front },
        name: "fidelity", showlegend: false },
      { type: "histogram", x: done.map(t => t.cost_s), marker: { color: COLORS.other },
        xaxis: "x2", yaxis: "y2", name: "cost", showlegend: false },
    ],
    layout: baseLayout({ height: 280, bargap: 0.05,
      xaxis: Object.assign({}, AXIS, { domain: [0, 0.45], title: { text: "fidelity" } }),
      yaxis: Object.assign({}, AXIS, { title: { text: "trials" } }),
      xaxis2: Object.assign({}, AXIS, { domain: [0.55, 1], anchor: "y2",
                                        title: { text: "evaluation cost [s]" } }),
      yaxis2: Object.assign({}, AXIS, { anchor: "x2", title: { text: "trials" } }) }),
  };
}

/** Where area, energy and latency go: one bar group per row (component or layer), bar height
 *  the row's share [%] of the total of each metric; hover gives the value with its unit.
 *  rows: [{name, values: {metric_key: number}}]; metrics: keys such as ``area_mm2``. */
export function breakdownFigure(rows, metrics) {
  const palette = ["#0b5cad", "#c2571a", "#1a7f37", "#7b3fb0", "#a66300"];
  const data = metrics.map((key, i) => {
    const total = rows.reduce((s, r) => s + (r.values[key] || 0), 0) || 1;
    return { type: "bar", name: plotlyText(label(key)), x: rows.map(r => plotlyText(r.name)),
      y: rows.map(r => 100 * (r.values[key] || 0) / total),
      customdata: rows.map(r => r.values[key]), marker: { color: palette[i % palette.length] },
      hovertemplate: `%{x}<br>${plotlyText(label(key))}: %{customdata:.4g} ` +
        `(%{y:.1f} %)<extra></extra>` };
  });
  return { data, layout: baseLayout({ height: 300, barmode: "group",
    xaxis: Object.assign({}, AXIS, { type: "category", tickangle: -30 }),
    yaxis: Object.assign({}, AXIS, { title: { text: "share of total [%]" },
                                     rangemode: "tozero" }) }) };
}

/** Draw (or update) ``fig`` in ``div``. */
export function draw(div, fig) {
  return Plotly.react(div, fig.data, fig.layout, CONFIG);
}

/** Download the chart in ``div`` as a PNG named ``name``. */
export function exportPNG(div, name) {
  return Plotly.downloadImage(div, { format: "png", filename: name, scale: 2 });
}
