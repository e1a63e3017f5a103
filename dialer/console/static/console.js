// healthdial console: live dashboard, controls, results, do-not-call list, uploads.
// Served by the package; nothing is fetched from elsewhere.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf"]').content;

async function api(method, url, body) {
  const opts = {method, headers: {"X-CSRF-Token": csrf()}, credentials: "same-origin"};
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(url, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v;  // CSSOM: allowed under the CSP
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};
const pct = (x) => (x === null || x === undefined) ? "–" : (100 * x).toFixed(1) + "%";
const num = (x) => (x === null || x === undefined) ? "–" : Number(x).toLocaleString();
const dur = (s) => {
  if (s === null || s === undefined) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
};
const when = (epoch, clock) => {
  if (!epoch) return "–";
  const d = new Date(epoch * 1000);
  return d.toISOString().replace("T", " ").slice(0, 16) + (clock === "fast" ? " (simulated)" : " UTC");
};

function table(target, head, rows) {
  target.replaceChildren(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => c instanceof Node ? el("td", {}, c) : el("td", {}, c))))));
}

function kv(target, pairs) {
  target.replaceChildren(...pairs.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
}

// --- SVG charts -------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};

function lineChart(target, points, series, xLabel) {
  const W = 720, H = 180, P = 34;
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": xLabel});
  if (!points.length) { target.replaceChildren(el("p", {class: "muted"}, "No call has ended yet.")); return; }
  const xs = points.map((p) => p.x), top = Math.max(1, ...points.flatMap((p) => series.map((s) => p[s.key])));
  const x0 = Math.min(...xs), x1 = Math.max(x0 + 1, ...xs);
  const X = (x) => P + (W - 2 * P) * (x - x0) / (x1 - x0), Y = (y) => H - P + (-(H - 2 * P) * y / top);
  root.append(svg("line", {x1: P, y1: H - P, x2: W - P, y2: H - P, class: "axis"}));
  root.append(svg("line", {x1: P, y1: P, x2: P, y2: H - P, class: "axis"}));
  const t = svg("text", {x: 4, y: P, class: "tick"}); t.textContent = top; root.append(t);
  const b = svg("text", {x: W / 2, y: H - 4, class: "tick", "text-anchor": "middle"}); b.textContent = xLabel; root.append(b);
  for (const s of series) {
    const d = points.map((p, i) => `${i ? "L" : "M"}${X(p.x).toFixed(1)},${Y(p[s.key]).toFixed(1)}`).join("");
    root.append(svg("path", {d, class: `series ${s.cls}`}));
    for (const p of points) root.append(svg("circle", {cx: X(p.x), cy: Y(p[s.key]), r: 2.5, class: `point ${s.cls}`}));
  }
  const hhmm = (m) => new Date(m * 60000).toISOString().slice(11, 16);
  for (const [x, anchor] of [[x0, "start"], [x1, "end"]]) {
    const lab = svg("text", {x: X(x), y: H - P + 14, class: "tick", "text-anchor": anchor});
    lab.textContent = hhmm(x); root.append(lab);
  }
  const legend = el("p", {class: "legend"}, ...series.map((s) => el("span", {class: `key ${s.cls}`}, s.label)));
  target.replaceChildren(root, legend);
}

function stackBar(target, parts) {
  const total = parts.reduce((a, p) => a + p.n, 0) || 1;
  target.replaceChildren(...parts.filter((p) => p.n).map((p) =>
    el("span", {class: `part ${p.cls}`, style: `width:${(100 * p.n / total).toFixed(2)}%`, title: `${p.label}: ${p.n}`}, p.n)));
}

function bars(target, items) {
  const top = Math.max(1, ...items.map((i) => i.n));
  target.replaceChildren(...items.map((i) => el("div", {class: `bar ${i.cls || ""}`},
    el("span", {class: "label"}, i.label),
    el("span", {class: "fill", style: `width:${(100 * i.n / top).toFixed(1)}%`}),
    el("span", {class: "n"}, num(i.n)))));
}

function intervals(target, rows) {
  // estimate with its 95% interval per district, beside the district's contact rate
  const W = 720, row = 26, P = 150, H = rows.length * row + 30;
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "prevalence by district"});
  const X = (v) => P + (W - P - 120) * v;
  rows.forEach((r, i) => {
    const y = 20 + i * row;
    const name = svg("text", {x: 4, y: y + 4, class: "tick"}); name.textContent = r.label; root.append(name);
    if (r.ci) {
      root.append(svg("line", {x1: X(r.ci[0]), y1: y, x2: X(r.ci[1]), y2: y, class: "whisker"}));
      root.append(svg("circle", {cx: X(r.est), cy: y, r: 4, class: "dot"}));
    }
    const c = svg("text", {x: W - 110, y: y + 4, class: r.lowContact ? "tick warn" : "tick"});
    c.textContent = `reached ${pct(r.contact)}`; root.append(c);
  });
  root.append(svg("line", {x1: P, y1: H - 8, x2: W - 120, y2: H - 8, class: "axis"}));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const t = svg("text", {x: X(v) - 8, y: H, class: "tick"}); t.textContent = pct(v).replace(".0", ""); root.append(t);
  }
  target.replaceChildren(root);
}

// --- the live dashboard ---------------------------------------------------------------------
const OUTCOME_CLS = {completed: "ok", partial: "warn", refused: "mid", opted_out: "mid", voicemail: "mid",
  busy: "off", no_answer: "off", invalid_number: "off", dropped: "bad"};

function renderDashboard(root, s) {
  const set = (key, value) => root.querySelectorAll(`[data-key="${key}"]`).forEach((e) => { e.textContent = value; });
  set("state", s.state);
  root.querySelector('[data-key="state"]').className = `state ${s.state}`;
  const reason = root.querySelector('[data-key="reason"]');
  reason.hidden = !s.reason; reason.textContent = s.reason || "";
  set("lines", `${num(s.lines_busy)} / ${num(s.line_cap)}`);
  set("rates.started_per_min", num(s.rates.started_per_min));
  set("rates.completed_per_min", num(s.rates.completed_per_min));
  set("rates.completed_per_s", s.rates.completed_per_s.toFixed(2));
  set("eta", dur(s.eta_s));
  set("attempts", num(s.attempts));
  const clock = s.clock === "fast" ? "fast clock: the campaign's times are simulated; rates and time left are wall time"
    : "realtime clock: wall time";
  document.getElementById("clock").textContent = `${clock} · updated ${s.updated_s_ago ?? "–"} s ago`;
  const p = s.progress;
  stackBar(document.getElementById("progress-bar"), [
    {label: "done", n: p.done, cls: "ok"}, {label: "in progress", n: p.in_progress, cls: "live"},
    {label: "waiting for a retry", n: p.waiting_retry, cls: "mid"}, {label: "left", n: p.left, cls: "off"},
    {label: "set aside", n: p.set_aside, cls: "bad"}]);
  kv(document.getElementById("progress"), [["contacts", num(p.contacts)], ["done", num(p.done)],
    ["in progress", num(p.in_progress)], ["waiting for a retry", `${num(p.waiting_retry)} (next ${when(p.next_retry_at, s.clock)})`],
    ["left", num(p.left)], ["dialable now, in calling hours", num(p.dialable_now)], ["set aside (failed 3 times, or no calling hour in its zones)", num(p.set_aside)]]);
  bars(document.getElementById("dispositions"), Object.entries(s.outcomes).map(([k, n]) => ({label: k.replace("_", " "), n, cls: OUTCOME_CLS[k]})));
  const d = s.dispositions;
  kv(document.getElementById("rates"), [["responsive (completed, partial)", num(d.responsive)],
    ["contacted (refused, opted out, voicemail)", num(d.contacted)], ["uncontacted (busy, no answer, invalid, dropped)", num(d.uncontacted)],
    ["response rate (completed / contacts)", pct(d.response_rate)], ["cooperation rate (completed / reached)", pct(d.cooperation_rate)]]);
  document.getElementById("throughput-clock").textContent = s.clock === "fast" ? "per simulated minute" : "per minute";
  lineChart(document.getElementById("throughput"), s.throughput.map((t) => ({x: t.minute, ...t})),
    [{key: "attempts", label: "attempts", cls: "a"}, {key: "completed", label: "completed surveys", cls: "b"}],
    s.clock === "fast" ? "simulated time (UTC)" : "time (UTC)");
  const official = root.dataset.official === "1";
  const qcell = (q) => official ? el("a", {href: `/campaigns/${encodeURIComponent(s.name)}/calls?question=${encodeURIComponent(q)}`,
    title: "the worst recorded turns of this question"}, q) : q;
  table(document.getElementById("recognition"), ["question", "turns", "reprompted", "read back", "said back", "keypad", "unanswered", "rejected", "p50 / p99 latency", ""],
    s.recognition.map((r) => [qcell(r.question), num(r.turns), pct(r.reprompted), pct(r.confirming), pct(r.implied), pct(r.keypad), pct(r.unanswered), pct(r.rejected),
      r.p50_ms === null ? "–" : `${r.p50_ms} / ${r.p99_ms ?? ">5000"} ms`,
      r.flag ? el("span", {class: "flag", title: r.flag}, "⚑ " + r.flag) : ""]));
  table(document.getElementById("pipeline"), ["attempts made", "trying", "waiting", "done", "set aside"],
    s.pipeline.map((r) => [r.attempts, num(r.trying), num(r.waiting), num(r.done), num(r.set_aside)]));
  const w = s.workers;
  if (w && (w.workers || w.error)) {
    const box = document.getElementById("workers");
    if (w.error) box.replaceChildren(el("p", {class: "error"}, w.error));
    else {
      const t = el("table", {class: "list"});
      table(t, ["worker", "state", "heartbeat"], w.workers.map((x) => [x.name, x.state, `${x.heartbeat_s_ago ?? "–"} s ago`]));
      box.replaceChildren(el("p", {}, `queue depth ${num(w.queue_depth)} · lost batches sent again ${num(s.lost_batches)}`), t);
    }
  }
  const limits = document.getElementById("limits");
  if (document.activeElement?.form !== limits) {
    limits.line_cap.value = s.line_cap; limits.cps.value = s.cps;
  }
  root.querySelector('[data-action="pause"]').disabled = s.state !== "running" && s.state !== "idle";
  root.querySelector('[data-action="resume"]').disabled = s.state !== "paused";
  root.querySelector('[data-action="stop"]').disabled = s.state === "stopped" || s.state === "finished";
}

function startDashboard(root) {
  const name = root.dataset.campaign, note = document.getElementById("control-note");
  const events = new EventSource(`/api/campaigns/${encodeURIComponent(name)}/events`);
  events.addEventListener("snapshot", (e) => renderDashboard(root, JSON.parse(e.data)));
  events.onerror = () => { note.textContent = "connection lost: retrying…"; };
  events.onopen = () => { note.textContent = ""; };
  root.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", async () => {
    const action = b.dataset.action;
    if (action === "stop" && !confirm(`Stop ${name} for good? A stopped campaign is not run again.`)) return;
    try {
      await api("POST", `/api/campaigns/${encodeURIComponent(name)}/${action}`, action === "stop" ? {confirm: true} : {});
      note.textContent = `${action} sent: it takes effect within 2 s`;
    } catch (err) { note.textContent = err.message; }
  }));
  document.getElementById("limits").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target;
    try {
      await api("PATCH", `/api/campaigns/${encodeURIComponent(name)}`, {line_cap: Number(f.line_cap.value), cps: Number(f.cps.value)});
      note.textContent = "line cap and calls/s sent: they take effect within 2 s";
    } catch (err) { note.textContent = err.message; }
  });
}

// --- results ---------------------------------------------------------------------------
async function startResults(root) {
  const name = encodeURIComponent(root.dataset.campaign);
  const rows = await api("GET", `/api/campaigns/${name}/districts`);
  const symptoms = [...new Set(rows.flatMap((r) => Object.keys(r.symptoms)))];
  const pick = document.getElementById("symptom");
  pick.replaceChildren(...symptoms.map((s) => el("option", {value: s}, s.replace("_", " "))));
  const draw = () => {
    const q = pick.value;
    intervals(document.getElementById("prevalence"), rows.map((r) => {
      const p = r.symptoms[q];
      return {label: r.district, est: p ? p.estimate : 0, ci: p && p.n ? [p.ci_low, p.ci_high] : null,
        contact: r.contact_rate, lowContact: r.contact_rate < 0.3};
    }));
    table(document.getElementById("districts"), ["district", "contacts", "contact rate", "answered", "prevalence", "95% interval"],
      rows.map((r) => { const p = r.symptoms[q] || {n: 0};
        return [r.district, num(r.contacts), pct(r.contact_rate), num(p.n), p.n ? pct(p.estimate) : "–", p.n ? `${pct(p.ci_low)} – ${pct(p.ci_high)}` : "–"]; }));
  };
  pick.addEventListener("change", draw);
  draw();
  if (root.dataset.official === "1") {
    const show = async (reveal) => {
      const f = await api("GET", `/api/campaigns/${name}/followups${reveal ? "?reveal=1" : ""}`);
      table(document.getElementById("followups"), ["risk", "phone", "district", "name"],
        f.map((r) => [el("span", {class: `risk ${r.risk}`}, r.risk), r.phone, r.district || "", r.name || ""]));
    };
    document.getElementById("reveal").addEventListener("click", () => show(true));
    show(false);
  }
}

// --- do-not-call list and uploads ---------------------------------------------------------------
function startDnc() {
  const list = async (reveal) => {
    const rows = await api("GET", `/api/dnc${reveal ? "?reveal=1" : ""}`);
    table(document.getElementById("dnc-list"), ["number", "extension", "added", "from", ""], rows.map((r) => {
      const b = el("button", {class: "link"}, "unblock");
      b.addEventListener("click", async () => {
        if (!reveal) { alert("Reveal the list first: unblocking needs the full number."); return; }
        await api("DELETE", "/api/dnc", {numbers: [r.ext ? `${r.number};ext=${r.ext}` : r.number]});
        list(reveal);
      });
      return [r.number, r.ext || "all", when(r.added_at, "realtime"), r.source || "", b];
    }));
  };
  document.getElementById("dnc-reveal").addEventListener("click", () => list(true));
  document.getElementById("dnc-add").addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("dnc-result");
    try {
      const r = await api("POST", "/api/dnc", new FormData(e.target));
      out.replaceChildren(el("p", {}, `${r.read} numbers read, ${r.added} newly blocked, ${r.rejected.length} unreadable`),
        ...r.rejected.map((x) => el("p", {class: "error"}, `line ${x.line}: ${x.reason}`)));
      list(false);
    } catch (err) { out.replaceChildren(el("p", {class: "error"}, err.message)); }
  });
  list(false);
}

function startNew() {
  document.getElementById("new-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = document.getElementById("new-result");
    try {
      const r = await api("POST", "/api/campaigns", new FormData(e.target));
      const t = el("table", {class: "list"});
      table(t, ["row", "why it was not loaded"], r.rejected.map((x) => [x.row, x.reason]));
      out.replaceChildren(el("p", {class: "ok"}, `${r.campaign}: loaded ${r.loaded}, duplicates ${r.duplicates}, do-not-call ${r.do_not_call}, rejected ${r.rejected.length}. `,
        el("a", {href: `/campaigns/${encodeURIComponent(r.campaign)}`}, "Open its dashboard")), r.rejected.length ? t : "");
    } catch (err) { out.replaceChildren(el("p", {class: "error"}, err.message)); }
  });
}

// --- recorded calls --------------------------------------------------------------------
async function startCalls(root) {
  const name = encodeURIComponent(root.dataset.campaign), q = root.dataset.question;
  const link = (id, text, at) => el("a", {href: `/recordings/${id}${at !== undefined ? `#t=${at}` : ""}`}, text);
  if (q) {
    const worst = await api("GET", `/api/campaigns/${name}/worst?question=${encodeURIComponent(q)}`);
    table(document.getElementById("worst"), ["call", "turn", "decision", "confidence", "rejected"],
      worst.map((w) => [link(w.recording, w.attempt, w.at_s), w.turn, w.decision, w.confidence, w.rejected ? "yes" : ""]));
  }
  const rows = await api("GET", `/api/campaigns/${name}/recordings${q ? `?question=${encodeURIComponent(q)}` : ""}`);
  table(document.getElementById("call-list"), ["call", "phone", "started", "duration", "outcome"],
    rows.map((r) => [link(r.id, r.attempt), r.phone, when(r.started, "realtime"), `${(r.duration_s || 0).toFixed(1)} s`, r.outcome]));
}

async function startRecording(root) {
  const rec = await api("GET", `/api/recordings/${root.dataset.id}`);
  const player = document.getElementById("player");
  const seek = (t) => { player.currentTime = Math.max(0, t); player.play(); };
  table(document.getElementById("turns"), ["", "at", "prompt", "heard", "confidence", "decision"],
    rec.log.turns.map((t) => {
      const b = el("button", {class: "link"}, "▶");
      b.addEventListener("click", () => seek(t.started_s));
      const heard = t.digits ? `keypad ${t.digits}` : t.silent ? "(silence)" : t.hangup ? "(hung up)"
        : `${JSON.stringify(t.transcript)}${t.rejected ? ` (rejected: ${t.raw})` : ""}`;
      return [b, `${t.started_s.toFixed(1)} s`, `${t.prompt.kind}: ${t.prompt.question || ""}`, heard,
        t.confidence.toFixed(2), `${t.decision}${t.barged_in ? " · cut the prompt" : ""}`];
    }));
  const at = Number((location.hash.match(/t=([\d.]+)/) || [])[1]);
  if (at) player.currentTime = at;
}

document.addEventListener("DOMContentLoaded", () => {
  const c = document.getElementById("calls"); if (c) startCalls(c);
  const rec = document.getElementById("recording"); if (rec) startRecording(rec);
  const d = document.getElementById("dashboard"); if (d) startDashboard(d);
  const r = document.getElementById("results"); if (r) startResults(r);
  if (document.getElementById("dnc")) startDnc();
  if (document.getElementById("new")) startNew();
});
