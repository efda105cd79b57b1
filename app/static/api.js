// xbar-dse dashboard: API access (API key from sessionStorage, 401 -> Unauthorized), the SSE
// reader, number/unit formatting and DOM helpers. Every value from the API reaches the page
// through textContent, an attribute, or Plotly with its markup escaped (plotlyText): nothing
// stored is ever parsed as HTML.
export const API = "/api/v1";
export const KEY_STORE = "xbar.apiKey";
export const FINAL = ["completed", "failed", "cancelled"];

export class Unauthorized extends Error {}

/** An API error with the problem+json body (``errors``: ``[{loc, msg, type}]``). */
export class ApiError extends Error {
  constructor(status, problem, path) {
    super(`${status} ${problem && problem.detail ? problem.detail : path}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function problemOf(r) {
  try { return await r.json(); } catch (e) { return {}; }
}

/** GET ``API + path``: ``{body, etag}``, or ``{notModified: true}`` on 304. */
export async function getJSON(path, headers) {
  const r = await fetch(API + path, { headers: authHeaders(headers) });
  if (r.status === 304) return { notModified: true };
  if (r.status === 401) throw new Unauthorized("this server needs an API key");
  if (!r.ok) throw new ApiError(r.status, await problemOf(r), path);
  return { body: await r.json(), etag: r.headers.get("ETag"),
           retryAfter: r.headers.get("Retry-After") };
}

/** POST/DELETE to ``url`` (absolute path) with an optional JSON body; the parsed answer
 *  (``null`` for 204). */
export async function send(method, url, body) {
  const init = { method, headers: authHeaders(body === undefined ? {} :
    { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(url, init);
  if (r.status === 401) throw new Unauthorized("this server needs an API key");
  if (!r.ok) throw new ApiError(r.status, await problemOf(r), url);
  return r.status === 204 ? null : r.json();
}

/** All pages of ``API + path`` (a list endpoint with ``next_cursor``). */
export async function getAll(path) {
  const out = [];
  let cursor = null;
  const sep = path.includes("?") ? "&" : "?";
  do {
    const q = `${sep}limit=500` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const { body } = await getJSON(path + q);
    out.push(...body.data);
    cursor = body.next_cursor;
  } while (cursor);
  return out;
}

/** Server-Sent Events over fetch (the API key travels in a header, never in the URL);
 *  reconnects with Last-Event-ID until ``isFinal()`` or the signal aborts. */
export async function follow(id, signal, onEvent, onStatus, isFinal) {
  let lastId = null;
  while (!signal.aborted) {
    try {
      const headers = authHeaders(lastId ? { "Last-Event-ID": lastId } : {});
      const r = await fetch(`${API}/studies/${id}/events`, { headers, signal });
      if (r.status === 401) throw new Unauthorized("this server needs an API key");
      if (!r.ok) throw new Error(`${r.status} events`);
      onStatus("live");
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
      if (signal.aborted) return;
      if (e instanceof Unauthorized) throw e;
    }
    if (isFinal()) { onStatus("study finished"); return; }
    onStatus("reconnecting");
    await new Promise(res => setTimeout(res, 1000));
  }
}

/** Units by key suffix (the project's JSON convention: ``area_mm2``, ``energy_uj`` ...). */
const SUFFIX_UNITS = [["_mm2", "mm²"], ["_um2", "µm²"], ["_uj", "µJ"], ["_nj", "nJ"],
  ["_pj", "pJ"], ["_us", "µs"], ["_ns", "ns"], ["_ms", "ms"], ["_s", "s"], ["_ghz", "GHz"],
  ["_mhz", "MHz"], ["_nm", "nm"], ["_ohm", "Ω"], ["_mw", "mW"], ["_w", "W"], ["_v", "V"],
  ["_share", "%"]];

/** ``[name, unit]`` of a JSON key: ``area_mm2`` -> ``["area", "mm²"]``; conductances
 *  (``g_on_us``) are µS, shares are shown in %. Keys without a known suffix have no unit. */
export function splitUnit(key) {
  const k = String(key);
  if (/^g_.*_us$/.test(k)) return [k.slice(0, -3), "µS"];
  for (const [suffix, unit] of SUFFIX_UNITS)
    if (k.endsWith(suffix) && k.length > suffix.length) return [k.slice(0, -suffix.length), unit];
  return [k, ""];
}

/** ``area [mm²]`` for ``area_mm2``; the key itself when it has no unit. */
export function label(key) {
  const [name, unit] = splitUnit(key);
  return unit ? `${name.replace(/_/g, " ")} [${unit}]` : String(key).replace(/_/g, " ");
}

export function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") {
    if (!isFinite(v)) return String(v);
    return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)
      ? v.toExponential(3) : (+v.toPrecision(4)).toString();
  }
  return String(v);
}

/** A value of key ``key`` with its unit (shares as percent). */
export function fmtUnit(key, v) {
  const unit = splitUnit(key)[1];
  if (typeof v !== "number") return fmt(v);
  if (unit === "%") return `${fmt(100 * v)} %`;
  return unit ? `${fmt(v)} ${unit}` : fmt(v);
}

/** Text for Plotly (which reads a few HTML tags in labels): markup shown literally. */
export function plotlyText(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function setText(node, text) { node.textContent = text; return node; }

/** An HTML element with attributes and children (strings become text nodes). */
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Save ``text`` as a file named ``name`` (a Blob download; nothing leaves the browser). */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
