// xbar-dse dashboard: the studies page. A live list (state, progress, best hypervolume, cost)
// with pause / resume / cancel / delete, creation from pasted YAML or JSON (the API's
// validation errors shown beside the lines they name), and two studies' fronts on one chart.
import { ApiError, API, fmt, getAll, getJSON, h, send, setText } from "./api.js";
import { COLORS, draw, matrixFigure } from "./charts.js";

const ACTIONS = { created: ["cancel"], running: ["pause", "cancel"], paused: ["resume", "cancel"] };

/** ``9 / 20 trials``, or the cost or wall budget when the study has no trial budget. */
export function progress(s) {
  const b = s.budget || {};
  if (b.max_trials) return `${s.n_completed} / ${b.max_trials} trials`;
  if (b.max_cost_s) return `${s.n_completed} trials, ${fmt(s.total_cost_s)} / ${fmt(b.max_cost_s)} s cost`;
  if (b.max_wall_s) return `${s.n_completed} trials, wall budget ${fmt(b.max_wall_s)} s`;
  return `${s.n_completed} trials`;
}

export class StudiesPage {
  /** ctx: {open(id), report(error), studiesChanged(studies)} from the main page. */
  constructor(ctx) {
    this.ctx = ctx;
    this.studies = [];
    this.timer = null;
    document.getElementById("create-form").addEventListener("submit", ev => {
      ev.preventDefault();
      this.create().catch(e => ctx.report(e));
    });
    document.getElementById("compare-go").addEventListener("click",
      () => this.compare().catch(e => ctx.report(e)));
  }

  /** Refresh the list now and then every ``period_ms`` while ``active()``. */
  start(active, periodMs = 2000) {
    clearTimeout(this.timer);
    const tick = async () => {
      if (!active()) return;
      await this.refresh().catch(e => this.ctx.report(e));
      this.timer = setTimeout(tick, periodMs);
    };
    tick();
  }

  async refresh() {
    this.studies = await getAll("/studies");
    this.render();
    this.ctx.studiesChanged(this.studies);
  }

  render() {
    const head = h("tr", {}, ...["id", "name", "state", "progress", "best HV", "cost [s]",
      "created", ""].map(c => h("th", {}, c)));
    const rows = [...this.studies].reverse().map(s => h("tr", { "data-id": String(s.id) },
      h("td", {}, String(s.id)),
      h("td", {}, h("a", { href: `?study=${s.id}`, class: "open-study", onclick: ev => {
        ev.preventDefault(); this.ctx.open(s.id);
      } }, s.name)),
      h("td", { class: `state-${s.state} study-state` }, s.state),
      h("td", {}, progress(s)), h("td", {}, fmt(s.hypervolume)), h("td", {}, fmt(s.total_cost_s)),
      h("td", {}, s.created_at.replace("T", " ").slice(0, 19)),
      h("td", { class: "actions" }, ...(ACTIONS[s.state] || []).map(a =>
        h("button", { type: "button", class: `act-${a}`, onclick: () => this.act(s, a) }, a)),
        h("button", { type: "button", class: "act-delete", onclick: () => this.remove(s) },
          "delete"))));
    document.getElementById("studies-table").replaceChildren(head, ...rows);
    for (const id of ["compare-a", "compare-b"]) {
      const sel = document.getElementById(id), was = sel.value;
      sel.replaceChildren(...this.studies.map(s => h("option", { value: String(s.id) },
        `${s.id}: ${s.name}`)));
      if (was) sel.value = was;
    }
  }

  message(text, cls) {
    const m = document.getElementById("studies-message");
    m.className = cls || "muted";
    setText(m, text);
  }

  async act(s, action) {
    try {
      await send("POST", `${API}/studies/${s.id}:${action}`);
      this.message(`study ${s.id}: ${action} sent`);
    } catch (e) {
      this.message(`study ${s.id}: ${action} refused (${e.message})`, "state-failed");
    }
    await this.refresh();
  }

  async remove(s) {
    try {
      await send("DELETE", `${API}/studies/${s.id}`);
      this.message(`study ${s.id} deleted`);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405))
        this.message(e.status === 405 ? "this server cannot delete studies yet"
          : `study ${s.id} is already gone`, "state-failed");
      else throw e;
    }
    await this.refresh();
  }

  /** Parse the pasted text (YAML or JSON) on the server, POST it, and show any errors next
   *  to the lines of the fields they name. */
  async create() {
    const text = document.getElementById("create-text").value;
    const errorsBox = document.getElementById("create-errors");
    errorsBox.replaceChildren();
    let parsed;
    try {
      parsed = await send("POST", "/dashboard/parse-study", { text });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      return this.showErrors(text, e.problem.errors || [{ loc: [], msg: e.message }], {});
    }
    try {
      const s = await send("POST", `${API}/studies`, parsed.document);
      this.message(`created study ${s.id}: ${s.name}`);
      lineView(text, []);
      await this.refresh();
    } catch (e) {
      if (!(e instanceof ApiError) || !e.problem.errors) throw e;
      this.showErrors(text, e.problem.errors, parsed.lines);
    }
  }

  /** List ``errors`` (``loc`` from the API, ``line`` from the parser) and mark the lines. */
  showErrors(text, errors, lines) {
    const marks = errors.map(e => {
      const loc = (e.loc || []).filter((p, i) => !(i === 0 && p === "body")).map(String);
      let line = e.line || null;
      for (let n = loc.length; !line && n > 0; n--) line = lines[loc.slice(0, n).join(".")] || null;
      return { field: loc.join(".") || "(document)", msg: e.msg, line };
    });
    document.getElementById("create-errors").replaceChildren(...marks.map(m =>
      h("li", { class: "field-error" }, h("code", {}, m.field),
        m.line ? ` (line ${m.line})` : "", `: ${m.msg}`)));
    lineView(text, marks);
    this.message(`${marks.length} invalid field(s): nothing was created`, "state-failed");
  }

  /** Both studies' full-fidelity fronts on one scatter matrix (their common objectives). */
  async compare() {
    const ids = ["compare-a", "compare-b"].map(k => +document.getElementById(k).value);
    const fronts = await Promise.all(ids.map(id => getJSON(`/studies/${id}/pareto`)));
    const [a, b] = fronts.map(f => f.body);
    const names = new Set(b.objectives.map(o => o.name));
    const objectives = a.objectives.filter(o => names.has(o.name));
    const study = id => this.studies.find(s => s.id === id);
    const colors = [COLORS.front, COLORS.other];
    const groups = [a, b].map((f, k) => ({
      name: `${f.study_id}: ${(study(f.study_id) || {}).name || ""}`,
      points: f.points.map(p => ({ number: p.number, values: p.values, fidelity: 1 })),
      marker: { color: colors[k], size: 8, symbol: k ? "diamond" : "circle" } }));
    const div = document.getElementById("compare");
    if (objectives.length < 2) { setText(div, "these studies share fewer than two objectives"); return; }
    await draw(div, matrixFigure(objectives, groups));
  }
}

/** The pasted text with line numbers and each error written beside its line. */
function lineView(text, marks) {
  const box = document.getElementById("create-lines");
  if (!marks.length) { box.replaceChildren(); return; }
  const byLine = new Map();
  for (const m of marks) if (m.line) byLine.set(m.line, [...(byLine.get(m.line) || []), m]);
  box.replaceChildren(...text.split("\n").map((line, i) => {
    const ms = byLine.get(i + 1) || [];
    return h("div", { class: ms.length ? "line bad" : "line" }, h("span", { class: "ln" }, String(i + 1)),
      h("span", { class: "src" }, line), ...ms.map(m => h("span", { class: "why" },
        `${m.field}: ${m.msg}`)));
  }));
}
