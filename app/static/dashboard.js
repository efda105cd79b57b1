// xbar-dse dashboard. Every value from the API reaches the page through textContent or an
// attribute: nothing stored is ever parsed as HTML (the page is served with a CSP that
// forbids inline scripts).
"use strict";
const API = "/api/v1";
const KEY_STORE = "xbar.apiKey";
const FINAL = ["completed", "failed", "cancelled"];
const state = { id: null, study: null, etag: null, front: null, trials: [], hv: [],
                stream: null };

class Unauthorized extends Error {}

function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

function askForKey(message) {
  document.getElementById("keybox").classList.add("shown");
  setText(document.getElementById("summary"), message);
}

async function getJSON(path, headers) {
  const r = await fetch(API + path, { headers: authHeaders(headers) });
  if (r.status === 304) return { notModified: true };
  if (r.status === 401) throw new Unauthorized("this server needs an API key");
  if (!r.ok) throw new Error(`${r.status} ${path}`);
  return { body: await r.json(), etag: r.headers.get("ETag") };
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)
    ? v.toExponential(3) : (+v.toPrecision(4)).toString();
  return String(v);
}

function setText(node, text) { node.textContent = text; return node; }

/** An HTML element with attributes and children (strings become text nodes). */
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** An SVG element with attributes and an optional text. */
function el(tag, attrs, text) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function scale(values, lo, hi) {
  let mn = Math.min(...values), mx = Math.max(...values);
  if (!isFinite(mn)) { mn = 0; mx = 1; }
  if (mn === mx) { mn -= 0.5; mx += 0.5; }
  return v => lo + (v - mn) / (mx - mn) * (hi - lo);
}

function targetFidelity() {
  const z = state.study && state.study.target_fidelity;
  return typeof z === "number" ? z : 1;
}

function renderSummary() {
  const s = state.study;
  if (!s) return;
  const item = (label, value, attrs) => h("span", {}, `${label} `, h("b", attrs || {}, value));
  const trials = item("trials", fmt(s.n_completed), { id: "n-completed" });
  if (s.budget.max_trials) trials.append(` / ${s.budget.max_trials}`);
  document.getElementById("summary").replaceChildren(
    item("state", s.state, { id: "study-state", class: `state-${s.state}` }),
    item("method", s.method),
    trials,
    item("failed", fmt(s.n_failed)),
    item("front", fmt(state.front ? state.front.points.length : 0), { id: "front-size" }),
    item("hypervolume", fmt(s.hypervolume), { id: "hypervolume" }),
    item("cost", `${fmt(s.total_cost_s)} s`));
}

function renderMatrix() {
  const box = document.getElementById("matrix");
  box.replaceChildren();
  if (!state.front || !state.study) return;
  const objs = state.study.objectives.map(o => o.name);
  const zt = targetFidelity() - 1e-9;
  const full = state.trials.filter(t => t.values && t.fidelity >= zt);
  const low = state.trials.filter(t => t.values && t.fidelity < zt);
  const frontIds = new Set(state.front.points.map(p => p.number));
  const m = objs.length, cell = m > 2 ? 150 : 300, pad = 28;
  const size = m > 2 ? (m - 1) * cell : cell;
  const svg = el("svg", { width: size + pad, height: size + pad, id: "matrix-svg" });
  const pairs = [];
  for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) pairs.push([i, j]);
  for (const [i, j] of pairs) {
    const ox = m > 2 ? (j - 1) * cell : 0, oy = m > 2 ? i * cell : 0;
    const all = [...full, ...low];
    const sx = scale(all.map(t => t.values[objs[j]]), ox + pad + 4, ox + cell - 4);
    const sy = scale(all.map(t => t.values[objs[i]]), oy + cell - 4, oy + 4);
    svg.appendChild(el("rect", { x: ox + pad, y: oy, width: cell - pad, height: cell - pad + 4,
      fill: "none", stroke: "#dde1e7" }));
    svg.appendChild(el("text", { x: ox + pad + 2, y: oy + cell + 10 - pad + 12 }, objs[j]));
    svg.appendChild(el("text", { x: ox + 2, y: oy + 12 }, objs[i]));
    for (const t of low) svg.appendChild(el("circle", { cx: sx(t.values[objs[j]]),
      cy: sy(t.values[objs[i]]), r: 3, fill: "none", stroke: "#b9c0cc", class: "low-fidelity" }));
    for (const t of full) {
      const on = frontIds.has(t.number);
      svg.appendChild(el("circle", { cx: sx(t.values[objs[j]]), cy: sy(t.values[objs[i]]),
        r: on ? 4 : 3, fill: on ? "#0b5cad" : "#b9c0cc", class: on ? "front-point" : "point" }));
    }
  }
  box.appendChild(svg);
}

function renderHV() {
  const box = document.getElementById("hv");
  box.replaceChildren();
  const pts = state.hv.filter(p => p.hv !== null && p.hv !== undefined);
  const w = 420, ht = 220, pad = 34;
  const svg = el("svg", { width: w, height: ht, id: "hv-svg" });
  svg.appendChild(el("rect", { x: pad, y: 4, width: w - pad - 4, height: ht - pad - 4,
    fill: "none", stroke: "#dde1e7" }));
  svg.appendChild(el("text", { x: pad, y: ht - 8 }, "cumulative cost [s]"));
  if (pts.length) {
    const sx = scale(pts.map(p => p.cost), pad + 4, w - 8);
    const sy = scale(pts.map(p => p.hv), ht - pad - 4, 8);
    const d = pts.map((p, k) => `${k ? "L" : "M"}${sx(p.cost).toFixed(1)},${sy(p.hv).toFixed(1)}`)
      .join(" ");
    svg.appendChild(el("path", { d, fill: "none", stroke: "#0b5cad", "stroke-width": 2 }));
    svg.appendChild(el("text", { x: pad + 4, y: 16 }, `HV ${fmt(pts[pts.length - 1].hv)}`));
  }
  box.appendChild(svg);
}

function renderTrials() {
  const t = document.getElementById("trials");
  if (!state.study) return;
  const objs = state.study.objectives.map(o => o.name);
  const rows = state.trials.slice(-50).reverse();
  const head = h("tr", {}, h("th", {}, "#"), h("th", {}, "state"), h("th", {}, "fidelity"),
    ...objs.map(o => h("th", {}, o)), h("th", {}, "cost [s]"),
    h("th", { title: "predicted information gain per second of evaluation cost" }, "IG/cost"));
  t.replaceChildren(head, ...rows.map(r => h("tr", { class: r.is_pareto ? "front" : "" },
    h("td", {}, fmt(r.number)), h("td", {}, r.state), h("td", {}, fmt(r.fidelity)),
    ...objs.map(o => h("td", {}, fmt(r.values ? r.values[o] : null))),
    h("td", {}, fmt(r.cost_s)), h("td", {}, fmt(r.info_gain_per_cost)))));
}

async function loadTrials() {
  const out = [];
  let cursor = null;
  do {
    const q = `?limit=500` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const { body } = await getJSON(`/studies/${state.id}/trials${q}`);
    out.push(...body.data);
    cursor = body.next_cursor;
  } while (cursor);
  state.trials = out;
}

async function refresh() {
  if (state.id === null) return;
  state.study = (await getJSON(`/studies/${state.id}`)).body;
  const r = await getJSON(`/studies/${state.id}/pareto`,
    state.etag ? { "If-None-Match": state.etag } : {});
  if (!r.notModified) { state.front = r.body; state.etag = r.etag; }
  await loadTrials();
  renderSummary(); renderMatrix(); renderTrials(); renderHV();
}

let pending = null;
function scheduleRefresh() {
  if (pending) return;
  pending = setTimeout(async () => { pending = null; await refresh().catch(report); }, 250);
}

function onEvent(type, data) {
  if (type === "trial.completed") {
    const p = JSON.parse(data);
    if (p.hypervolume !== null && p.hypervolume !== undefined)
      state.hv.push({ cost: p.total_cost_s, hv: p.hypervolume });
  }
  if (["trial.completed", "study.state", "trial.failed", "trial.requeued"].includes(type))
    scheduleRefresh();
}

/** Server-Sent Events over fetch (so the API key travels in a header, never in the URL);
 *  reconnects with Last-Event-ID until the study is final. */
async function follow(id) {
  if (state.stream) state.stream.abort();
  const ctl = new AbortController();
  state.stream = ctl;
  state.hv = [];
  const live = document.getElementById("live");
  let lastId = null;
  while (!ctl.signal.aborted && state.id === id) {
    try {
      const headers = authHeaders(lastId ? { "Last-Event-ID": lastId } : {});
      const r = await fetch(`${API}/studies/${id}/events`, { headers, signal: ctl.signal });
      if (r.status === 401) throw new Unauthorized("this server needs an API key");
      if (!r.ok) throw new Error(`${r.status} events`);
      setText(live, "live");
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "", ev = { type: "message", data: [] };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, "");
          buf = buf.slice(nl + 1);
          if (line === "") {
            if (ev.data.length) onEvent(ev.type, ev.data.join("\n"));
            ev = { type: "message", data: [] };
          } else if (!line.startsWith(":")) {
            const k = line.indexOf(":");
            const field = k < 0 ? line : line.slice(0, k);
            const val = k < 0 ? "" : line.slice(k + 1).replace(/^ /, "");
            if (field === "event") ev.type = val;
            else if (field === "data") ev.data.push(val);
            else if (field === "id") lastId = val;
          }
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
      if (e instanceof Unauthorized) { report(e); return; }
    }
    if (state.study && FINAL.includes(state.study.state)) { setText(live, "study finished"); return; }
    setText(live, "reconnecting");
    await new Promise(res => setTimeout(res, 1000));
  }
}

async function select(id) {
  state.id = id; state.etag = null; state.front = null;
  history.replaceState(null, "", `?study=${id}`);
  await refresh();
  follow(id);
}

async function loadStudyList() {
  const { body } = await getJSON("/studies?limit=500");
  const sel = document.getElementById("study");
  sel.replaceChildren(...body.data.map(s => {
    const o = h("option", { value: String(s.id) }, `${s.id}: ${s.name}`);
    return o;
  }));
  return body.data;
}

function report(e) {
  if (e instanceof Unauthorized) askForKey(`${e.message}: enter one above (kept for this tab only)`);
  else setText(document.getElementById("summary"), "error: " + e.message);
}

async function init() {
  const studies = await loadStudyList();
  const sel = document.getElementById("study");
  sel.onchange = () => select(+sel.value).catch(report);
  const want = new URLSearchParams(location.search).get("study");
  const id = want ? +want : (studies.length ? studies[studies.length - 1].id : null);
  if (id !== null) { sel.value = String(id); await select(id); }
}

document.getElementById("keybox").addEventListener("submit", ev => {
  ev.preventDefault();
  const key = document.getElementById("apikey").value.trim();
  if (key) sessionStorage.setItem(KEY_STORE, key);
  document.getElementById("keybox").classList.remove("shown");
  init().catch(report);
});
init().catch(report);
