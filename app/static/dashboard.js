// xbar-dse dashboard: the study view (summary, Pareto scatter matrix, hypervolume history,
// parallel coordinates, histograms, trials) and the wiring of the studies page, the design
// panel and the API-key prompt. Stored text reaches the DOM via textContent only.
import { FINAL, KEY_STORE, Unauthorized, download, follow, fmt, getAll, getJSON, h, label,
         setText } from "./api.js";
import { COLORS, draw, exportPNG, histFigure, hvFigure, matrixFigure, parallelFigure } from "./charts.js";
import { openDesign } from "./design.js";
import { StudiesPage, progress } from "./studies.js";

const state = { view: "study", id: null, study: null, etag: null, front: null, trials: [],
                predicted: null, predictedEtag: null, predictedTimer: null,
                events: [], stream: null, clickBound: new Set() };
const $ = id => document.getElementById(id);

function report(e) {
  if (e instanceof Unauthorized) {
    $("keybox").classList.add("shown");
    setText($("summary"), `${e.message}: enter one above (kept for this tab only)`);
  } else {
    setText($("summary"), "error: " + e.message);
  }
}

function targetFidelity() {
  const z = state.study && state.study.target_fidelity;
  return typeof z === "number" ? z : 1;
}

function renderSummary() {
  const s = state.study;
  const item = (name, value, attrs, title) => h("span", title ? { title } : {}, `${name} `,
    h("b", attrs || {}, value));
  $("summary").replaceChildren(
    h("span", { class: "study-name" }, s.name),
    item("state", s.state, { id: "study-state", class: `state-${s.state}` }),
    item("method", s.method),
    item("progress", progress(s), { id: "progress" }),
    h("span", {}, "trials ", h("b", { id: "n-completed" }, String(s.n_completed)), " done"),
    item("failed", fmt(s.n_failed)),
    item("front", fmt(state.front ? state.front.points.length : 0), { id: "front-size" }),
    ...(s.predicted_front ? [item("predicted", predictedSummary(), { id: "predicted-size" },
      "designs of the model's predicted front (posterior mean at the target fidelity); " +
      "predictions, not evaluations")] : []),
    item("hypervolume", fmt(s.hypervolume), { id: "hypervolume" },
         "dominated hypervolume of the full-fidelity front w.r.t. the reference point"),
    item("cost", `${fmt(s.total_cost_s)} s`, {}, "sum of the trials' evaluation cost"));
}

function predictedSummary() {
  const p = state.predicted;
  if (!p) return "–";
  return p.status === "ready" ? `${p.points.length} designs` : "computing";
}

function completed() { return state.trials.filter(t => t.values); }

/** The predicted front's designs as scatter points: the posterior means as ``values``, the
 *  standard deviations as ``sd`` (drawn as error bars). */
function predictedPoints() {
  const p = state.predicted;
  if (!p || p.status !== "ready") return [];
  return p.points.map((pt, i) => ({ number: `p${i}`, fidelity: p.target_fidelity,
    values: Object.fromEntries(Object.entries(pt.predicted).map(([k, v]) => [k, v.mean])),
    sd: Object.fromEntries(Object.entries(pt.predicted).map(([k, v]) => [k, v.sd])) }));
}

function matrixGroups() {
  const zt = targetFidelity() - 1e-9, front = new Set(state.front ? state.front.points
    .map(p => p.number) : []), done = completed();
  const zmin = state.study.search_space && state.study.search_space.fidelity_range
    ? state.study.search_space.fidelity_range[0] : 0;
  return [
    { name: "low fidelity", points: done.filter(t => t.fidelity < zt),
      marker: { opacity: 0.45, size: 6 }, fidelityScale: [zmin, targetFidelity()] },
    { name: "full fidelity", points: done.filter(t => t.fidelity >= zt && !front.has(t.number)),
      marker: { color: COLORS.full, size: 7 } },
    { name: "Pareto front", points: done.filter(t => front.has(t.number)),
      marker: { color: COLORS.front, size: 9, line: { color: "#fff", width: 1 } } },
    ...(state.study.predicted_front ? [{ name: "predicted front (model mean ± sd)",
      points: predictedPoints(), predicted: true,
      marker: { color: COLORS.other, size: 8, symbol: "diamond-open", line: { width: 1.5 } } }]
      : []),
  ];
}

/** History of the hypervolume from the ``trial.completed`` events: cost and wall time. */
function hvHistory() {
  const started = state.study.started_at ? Date.parse(state.study.started_at) : null;
  const byNumber = new Map(state.trials.map(t => [t.number, t]));
  return state.events.map(e => {
    const t = byNumber.get(e.number);
    const wall = started !== null && t && t.completed_at
      ? (Date.parse(t.completed_at) - started) / 1000 : null;
    return { cost: e.cost, hv: e.hv, wall };
  });
}

function parallelDims() {
  const specs = (state.study.search_space && state.study.search_space.params) || [];
  const dims = specs.map(p => ({ label: label(p.name), log: !!p.log,
    categories: p.type === "categorical" ? p.choices.map(String) : null,
    value: t => p.type === "categorical" ? String(t.params[p.name]) : t.params[p.name] }));
  return dims.concat(state.study.objectives.map(o => ({
    label: `${label(o.name)} ${o.direction === "maximize" ? "↑" : "↓"}`,
    value: t => t.values[o.name] })));
}

function parallelGroups() {
  const zt = targetFidelity() - 1e-9, done = completed();
  return [
    { name: "low fidelity", trials: done.filter(t => t.fidelity < zt), color: "#b9c0cc",
      opacity: 0.6 },
    { name: "full fidelity", trials: done.filter(t => t.fidelity >= zt && !t.is_pareto),
      color: COLORS.full },
    { name: "Pareto front", trials: done.filter(t => t.is_pareto), color: COLORS.front, width: 2 },
  ];
}

function bindClick(div) {
  if (state.clickBound.has(div.id)) return;
  state.clickBound.add(div.id);
  div.on("plotly_click", ev => {
    const p = ev.points && ev.points[0];
    const cd = p && p.customdata;
    const number = Array.isArray(cd) ? cd[0] : cd;
    if (typeof number === "number") showDesign(number);
  });
}

async function renderCharts() {
  const objectives = state.study.objectives;
  await draw($("matrix"), matrixFigure(objectives, matrixGroups()));
  await draw($("hv"), hvFigure(hvHistory()));
  await draw($("parallel"), parallelFigure(parallelDims(), parallelGroups()));
  await draw($("hist"), histFigure(state.trials));
  for (const id of ["matrix", "parallel"]) bindClick($(id));
}

function paramText(params) {
  return Object.entries(params).map(([k, v]) => `${k}=${fmt(v)}`).join(", ");
}

function renderTrials() {
  const objs = state.study.objectives.map(o => o.name);
  const rows = state.trials.slice(-50).reverse();
  const head = h("tr", {}, ...["#", "state", "fidelity", "worker"].map(c => h("th", {}, c)),
    ...objs.map(o => h("th", {}, label(o))), h("th", {}, "cost [s]"),
    h("th", { title: "the optimizer's predicted information gain per second of evaluation " +
                     "cost when it chose this trial (multi-fidelity methods only)" },
      "info gain / s"),
    h("th", { class: "params" }, "parameters"));
  const confirmTitle = "confirmation trial: a design of the model's predicted front, " +
    "evaluated at the target fidelity";
  $("trials").replaceChildren(head, ...rows.map(r => h("tr", {
    class: `trial${r.is_pareto ? " front" : ""}${r.origin === "confirm" ? " confirm" : ""}`,
    "data-number": String(r.number), onclick: () => showDesign(r.number) },
    h("td", r.origin === "confirm" ? { title: confirmTitle } : {},
      r.origin === "confirm" ? `${r.number} (confirm)` : String(r.number)), h("td", {}, r.state), h("td", {}, fmt(r.fidelity)),
    h("td", {}, r.worker || "–"),
    ...objs.map(o => h("td", {}, fmt(r.values ? r.values[o] : null))),
    h("td", {}, fmt(r.cost_s)), h("td", {}, fmt(r.info_gain_per_cost)),
    h("td", { class: "params" }, paramText(r.params)))));
}

async function showDesign(number) {
  try {
    await openDesign($("design"), state.study, number);
    $("design").scrollIntoView({ block: "start" });
  } catch (e) { report(e); }
}

async function refresh() {
  if (state.id === null) return;
  state.study = (await getJSON(`/studies/${state.id}`)).body;
  const r = await getJSON(`/studies/${state.id}/pareto`,
    state.etag ? { "If-None-Match": state.etag } : {});
  if (!r.notModified) { state.front = r.body; state.etag = r.etag; }
  state.trials = await getAll(`/studies/${state.id}/trials`);
  if (state.study.predicted_front) await fetchPredicted();
  renderSummary();
  renderTrials();
  await renderCharts();
}

/** The predicted front (``?source=predicted``); while the server computes it (202), ask
 *  again after its ``Retry-After``. */
async function fetchPredicted() {
  const id = state.id;
  const r = await getJSON(`/studies/${id}/pareto?source=predicted`,
    state.predictedEtag ? { "If-None-Match": state.predictedEtag } : {});
  if (id !== state.id || r.notModified) return;
  state.predicted = r.body;
  state.predictedEtag = r.body.status === "ready" ? r.etag : null;
  if (r.body.status === "computing" && state.predictedTimer === null) {
    state.predictedTimer = setTimeout(() => { state.predictedTimer = null; scheduleRefresh(); },
      1000 * (+r.retryAfter || 1));
  }
}

let pending = null;
function scheduleRefresh() {
  if (pending) return;
  pending = setTimeout(async () => { pending = null; await refresh().catch(report); }, 300);
}

function onEvent(type, data) {
  if (type === "trial.completed") {
    const p = JSON.parse(data);
    if (p.hypervolume !== null && p.hypervolume !== undefined)
      state.events.push({ number: p.number, cost: p.total_cost_s, hv: p.hypervolume });
  }
  if (["trial.completed", "study.state", "trial.failed", "trial.requeued"].includes(type))
    scheduleRefresh();
}

async function select(id) {
  if (state.stream) state.stream.abort();
  Object.assign(state, { id, etag: null, front: null, events: [], trials: [], predicted: null,
                         predictedEtag: null });
  $("design").classList.remove("shown");
  history.replaceState(null, "", `?study=${id}`);
  $("study").value = String(id);
  await refresh();
  const ctl = new AbortController();
  state.stream = ctl;
  follow(id, ctl.signal, onEvent, s => setText($("live"), s),
    () => !!state.study && FINAL.includes(state.study.state)).catch(report);
}

function showView(view) {
  state.view = view;
  for (const v of ["study", "studies"]) {
    $(`view-${v}`).hidden = v !== view;
    $(`nav-${v}`).classList.toggle("on", v === view);
  }
  if (view === "studies") studies.start(() => state.view === "studies");
  else if (state.id !== null) refresh().catch(report);
}

function studiesChanged(list) {
  const sel = $("study"), was = sel.value;
  sel.replaceChildren(...list.map(s => h("option", { value: String(s.id) }, `${s.id}: ${s.name}`)));
  if (was) sel.value = was;
}

const studies = new StudiesPage({ report, studiesChanged, open: id => {
  showView("study"); select(id).catch(report);
} });

function exportTrials(kind) {
  const objs = state.study.objectives.map(o => o.name);
  const name = `study-${state.id}-trials.${kind}`;
  if (kind === "json") return download(name, JSON.stringify(state.trials, null, 1), "application/json");
  const params = [...new Set(state.trials.flatMap(t => Object.keys(t.params)))];
  const cols = ["number", "state", "fidelity", "worker", "cost_s", "is_pareto", ...params, ...objs];
  const cell = v => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const rows = state.trials.map(t => cols.map(c => cell(params.includes(c) ? t.params[c]
    : objs.includes(c) ? (t.values ? t.values[c] : null) : t[c])).join(","));
  download(name, [cols.map(cell).join(","), ...rows].join("\n") + "\n", "text/csv");
}

async function init() {
  const list = await getAll("/studies");
  studiesChanged(list);
  const want = new URLSearchParams(location.search).get("study");
  const id = want ? +want : (list.length ? list[list.length - 1].id : null);
  if (id !== null) await select(id);
  else setText($("summary"), "no study yet: create one on the studies page");
}

$("study").addEventListener("change", () => select(+$("study").value).catch(report));
$("nav-study").addEventListener("click", () => showView("study"));
$("nav-studies").addEventListener("click", () => showView("studies"));
for (const b of document.querySelectorAll("button[data-png]"))
  b.addEventListener("click", () => exportPNG($(b.dataset.png),
    `study-${state.id}-${b.dataset.png}`).catch(report));
$("export-csv").addEventListener("click", () => exportTrials("csv"));
$("export-json").addEventListener("click", () => exportTrials("json"));
$("keybox").addEventListener("submit", ev => {
  ev.preventDefault();
  const key = $("apikey").value.trim();
  if (key) sessionStorage.setItem(KEY_STORE, key);
  $("keybox").classList.remove("shown");
  init().catch(report);
});
showView(new URLSearchParams(location.search).get("view") === "studies" ? "studies" : "study");
init().catch(report);
