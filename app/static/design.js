// xbar-dse dashboard: a design's panel. Parameters, fidelity, worker, cost, objectives with
// the accuracy spread, the area / energy / latency breakdown by component and by layer (found
// generically in the trial's ``details``: units come from each key's suffix) and the design as
// a study YAML that evaluates exactly it.
import { breakdownFigure, draw } from "./charts.js";
import { fmt, fmtUnit, getJSON, h, label, setText, splitUnit } from "./api.js";

/** Spreads of the accuracy a trial's details may hold, the preferred first. */
const SPREAD_KEYS = ["accuracy_stderr", "accuracy_stderr_sampling", "accuracy_std",
                     "accuracy_stderr_draws"];
const isScalar = v => v === null || ["number", "string", "boolean"].includes(typeof v);
const isObj = v => v !== null && typeof v === "object" && !Array.isArray(v);
/** Numeric keys with a unit (not shares): what a breakdown adds up. */
const metricKeys = o => Object.keys(o).filter(k => typeof o[k] === "number" &&
  splitUnit(k)[1] && splitUnit(k)[1] !== "%");

/** Every breakdown in ``details``: an object of objects (components) or an array of named
 *  objects (layers) whose members share numeric unit keys; [{path, rows, metrics}]. */
export function findBreakdowns(value, path = []) {
  const out = [];
  const rowsOf = v => {
    if (Array.isArray(v) && v.length > 1 && v.every(isObj))
      return v.map((r, i) => ({ name: r.name !== undefined ? String(r.name) : String(i), obj: r }));
    if (isObj(v) && Object.keys(v).length > 1 && Object.values(v).every(isObj))
      return Object.entries(v).map(([k, r]) => ({ name: k, obj: r }));
    return null;
  };
  const rows = rowsOf(value);
  if (rows) {
    const common = metricKeys(rows[0].obj).filter(k => rows.every(r => typeof r.obj[k] === "number"));
    if (common.length) out.push({ path, metrics: common,
      rows: rows.map(r => ({ name: r.name, values: r.obj })) });
  }
  if (isObj(value)) for (const [k, v] of Object.entries(value))
    if (!isScalar(v)) out.push(...findBreakdowns(v, [...path, k]));
  return out;
}

/** The breakdowns to draw: most metrics first, then the deeper path (``hardware.layers``
 *  before a top-level copy of it); a breakdown equal to one drawn already is skipped. */
function breakdowns(details) {
  const found = findBreakdowns(details).sort((a, b) =>
    b.metrics.length - a.metrics.length || b.path.length - a.path.length);
  const seen = new Set();
  return found.filter(b => {
    const sig = JSON.stringify(b.rows.map(r => [r.name, ...b.metrics.map(m => r.values[m])]));
    if (seen.has(sig)) return false;
    seen.add(sig);
    return true;
  });
}

/** A table of rows (objects): one column per scalar key; nested values fold open below. */
function objectTable(rows) {
  const cols = [];
  for (const r of rows) for (const [k, v] of Object.entries(r.obj))
    if (isScalar(v) && !cols.includes(k)) cols.push(k);
  const nested = rows.some(r => Object.values(r.obj).some(v => !isScalar(v)));
  return h("table", { class: "kv" },
    h("tr", {}, h("th", {}, ""), ...cols.map(c => h("th", {}, label(c))),
      nested ? h("th", {}, "more") : null),
    ...rows.map(r => h("tr", {}, h("td", {}, r.name),
      ...cols.map(c => h("td", {}, fmtUnit(c, r.obj[c]))),
      nested ? h("td", {}, tree(Object.fromEntries(Object.entries(r.obj)
        .filter(([, v]) => !isScalar(v))), 2)) : null)));
}

/** Any JSON value as nested lists and tables (text only). */
export function tree(value, depth = 0, key = "") {
  if (isScalar(value)) return h("span", {}, fmtUnit(key, value));
  if (Array.isArray(value)) {
    if (value.every(isScalar)) {
      const shown = value.slice(0, 20).map(v => fmtUnit(key, v)).join(", ");
      return h("span", {}, value.length > 20 ? `${shown}, … (${value.length} values)` : shown);
    }
    if (value.every(isObj))
      return objectTable(value.map((r, i) => ({ name: r.name !== undefined ? String(r.name)
        : String(i), obj: r })));
  }
  if (isObj(value) && Object.keys(value).length > 1 && Object.values(value).every(isObj) &&
      Object.values(value).every(o => Object.values(o).every(isScalar)))
    return objectTable(Object.entries(value).map(([k, r]) => ({ name: k, obj: r })));
  const dl = h("dl", { class: "tree" });
  for (const [k, v] of Object.entries(value)) {
    dl.append(h("dt", {}, label(k)));
    if (isScalar(v)) dl.append(h("dd", {}, fmtUnit(k, v)));
    else dl.append(h("dd", {}, h("details", depth < 1 ? { open: "" } : {},
      h("summary", {}, Array.isArray(v) ? `${v.length} items` : `${Object.keys(v).length} keys`),
      tree(v, depth + 1, k))));
  }
  return dl;
}

/** The accuracy with its spread: ``accuracy_stderr`` when the details have it, else the
 *  first non-zero of the others (a single draw has a zero draw-to-draw spread); every
 *  spread present is named. */
function accuracyText(values, details) {
  if (!values || typeof values.accuracy !== "number") return null;
  const d = details || {};
  const spreads = SPREAD_KEYS.filter(k => typeof d[k] === "number");
  if (!spreads.length) return fmt(values.accuracy);
  const main = spreads[0] === "accuracy_stderr" ? spreads[0]
    : spreads.find(k => d[k] > 0) || spreads[0];
  const rest = spreads.filter(k => k !== main).map(k => `${label(k)} ${fmt(d[k])}`).join(", ");
  return `${fmt(values.accuracy)} ± ${fmt(d[main])} (${label(main)})` + (rest ? `; ${rest}` : "");
}

/** A one-value search-space spec pinning ``name`` to ``value``. */
function pinned(name, value) {
  return typeof value === "number" ? { name, type: "ordinal", values: [value] }
    : { name, type: "categorical", choices: [value] };
}

/** A study definition that evaluates exactly this design (its parameters pinned, at the
 *  study's fidelity range, one trial). */
export function designStudy(study, trial) {
  const problem = Object.assign({}, study.problem);
  delete problem.search_space;
  const space = study.search_space || {};
  problem.search_space = { params: Object.entries(trial.params).map(([k, v]) => pinned(k, v)) };
  if (space.fidelity_range) problem.search_space.fidelity_range = space.fidelity_range;
  const def = { name: `${study.name} #${trial.number}`.slice(0, 200), problem,
    objectives: study.objectives.map(o => Object.assign({ name: o.name, direction: o.direction },
      o.ref_point === null || o.ref_point === undefined ? {} : { ref_point: o.ref_point })),
    optimizer: { method: "sobol" }, budget: { max_trials: 1 }, seed: study.seed };
  if (study.reference_point) def.reference_point = study.reference_point;
  return def;
}

/** Plain data as block YAML (strings double-quoted, as JSON writes them: valid YAML). */
export function toYAML(v, indent = "") {
  const key = k => /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) ? k : JSON.stringify(k);
  const scalar = x => x === null ? "null" : typeof x === "string" ? JSON.stringify(x) : String(x);
  if (isScalar(v)) return scalar(v);
  if (Array.isArray(v)) {
    if (!v.length) return "[]";
    if (v.every(isScalar)) return `[${v.map(scalar).join(", ")}]`;
    return v.map(x => `\n${indent}- ` + toYAML(x, indent + "  ").replace(/^\n\s*/, "")).join("");
  }
  const keys = Object.keys(v);
  if (!keys.length) return "{}";
  return keys.map(k => {
    const inner = toYAML(v[k], indent + "  ");
    return `\n${indent}${key(k)}:` + (inner.startsWith("\n") ? inner : ` ${inner}`);
  }).join("");
}

/** Open the panel of trial ``number`` of ``study`` in ``box``. */
export async function openDesign(box, study, number) {
  const { body: t } = await getJSON(`/studies/${study.id}/trials/${number}`);
  const d = t.details || {};
  const facts = [["state", t.state], ["fidelity", fmt(t.fidelity)], ["worker", t.worker || "–"],
    ["cost", t.cost_s === null ? "–" : `${fmt(t.cost_s)} s`], ["attempt", fmt(t.attempt)],
    ["on front", t.is_pareto ? "yes" : "no"], ["completed", t.completed_at || "–"]];
  const objs = study.objectives.map(o => h("tr", {}, h("th", {}, label(o.name)),
    h("td", { class: o.name === "accuracy" ? "accuracy" : "" },
      o.name === "accuracy" ? accuracyText(t.values, d)
        : fmt(t.values ? t.values[o.name] : null))));
  const yaml = toYAML(designStudy(study, t)).replace(/^\n/, "") + "\n";
  const yamlBox = h("pre", { id: "design-yaml" }, yaml);
  const status = h("span", { class: "muted" });
  const copy = h("button", { type: "button", id: "copy-yaml", onclick: () =>
    navigator.clipboard.writeText(yaml).then(() => setText(status, "copied"),
      () => setText(status, "select the text below to copy it")) }, "copy as study YAML");
  const charts = breakdowns(d).map(b => {
    const div = h("div", { class: "chart breakdown", id: `breakdown-${b.path.join("-")}` });
    return { b, div, node: h("div", {}, h("h3", {}, `by ${b.path.length ?
      b.path[b.path.length - 1].replace(/s$/, "") : "item"} (${b.path.join(".") || "details"})`),
      div) };
  });
  box.replaceChildren(...[
    h("div", { class: "panel-head" }, h("h2", {}, `Design #${t.number}`),
      h("button", { type: "button", id: "design-close", onclick: () => box.classList.remove("shown") },
        "close")),
    h("div", { class: "facts" }, ...facts.map(([k, v]) => h("span", {}, `${k} `, h("b", {}, v)))),
    t.error ? h("p", { class: "state-failed" }, t.error) : null,
    h("div", { class: "cols" },
      h("div", {}, h("h3", {}, "objectives"), h("table", { class: "kv", id: "design-values" }, ...objs)),
      h("div", {}, h("h3", {}, "parameters"), h("table", { class: "kv", id: "design-params" },
        ...Object.entries(t.params).map(([k, v]) => h("tr", {}, h("th", {}, label(k)),
          h("td", {}, fmtUnit(k, v))))))),
    h("h3", {}, "breakdown"),
    charts.length ? null : h("p", { class: "muted" }, "this trial's details hold no breakdown"),
    ...charts.map(c => c.node),
    h("details", { id: "design-details" }, h("summary", {}, "all details"), tree(d)),
    h("div", { class: "panel-head" }, copy, status), yamlBox].filter(Boolean));
  box.classList.add("shown");
  for (const c of charts) await draw(c.div, breakdownFigure(c.b.rows, c.b.metrics));
  return t;
}
