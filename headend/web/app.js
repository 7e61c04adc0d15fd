// Field-ops dashboard: plain JS over the monitoring JSON API (/api/v1). No build step.
// Routes: #/ (fleet, optional ?gateway=...), #/meter/<id>. The day picker sets ?day= on every call.
"use strict";

const $ = (sel) => document.querySelector(sel);

function pct(ratio) {
  return ratio === null || ratio === undefined ? "-" : (ratio * 100).toFixed(1) + "%";
}

function setRatio(el, ratio) {
  el.textContent = pct(ratio);
  el.dataset.value = ratio === null || ratio === undefined ? "" : String(ratio);
}

function cell(row, text, field) {
  const td = document.createElement("td");
  td.textContent = text;
  if (field) td.dataset.field = field;
  row.appendChild(td);
  return td;
}

function clear(tbody) {
  while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
}

async function api(path, params) {
  const query = new URLSearchParams(params || {});
  const day = $("#day").value;
  if (day) query.set("day", day);
  const res = await fetch(path + (query.toString() ? "?" + query : ""));
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ? body.error.message : res.statusText);
  return body;
}

function showError(err) {
  const el = $("#error");
  el.textContent = "Could not load data: " + err.message;
  el.hidden = false;
}

// "transport" (nobody answered: gateway, link) and "meter" (something answered wrong) stay apart.
const KIND = { transport: "transport (no answer)", meter: "meter (answered wrong)" };

// The reason with the most failed boundaries, e.g. "connection_refused (transport)", or "".
function mainReason(reasons) {
  let best = null;
  for (const r of reasons || []) if (!best || r.boundaries > best.boundaries) best = r;
  return best ? best.outcome + " (" + best.category + ")" : "";
}

async function renderFleet(gatewayFilter) {
  $("#fleet-view").hidden = false;
  $("#meter-view").hidden = true;
  const [summary, gateways, failing] = await Promise.all([
    api("/api/v1/summary"),
    api("/api/v1/gateways"),
    api("/api/v1/meters", gatewayFilter ? { failing: "true", gateway: gatewayFilter } : { failing: "true" }),
  ]);
  const t = summary.totals;
  $("#as-of").textContent = "day " + summary.day + " (UTC" + (summary.utc_offset_minutes >= 0 ? "+" : "") +
    summary.utc_offset_minutes / 60 + "), as of " + summary.as_of;
  setRatio($("#rate-today"), t.completeness_after_backfill);
  setRatio($("#rate-first"), t.completeness_first_attempt);
  setRatio($("#rate-retries"), t.completeness_after_retries);
  setRatio($("#rate-on-time"), t.on_time_rate);
  $("#meters-complete").textContent = t.meters_complete;
  $("#meters-total").textContent = t.meters;
  $("#meters-failing").textContent = t.meters_failing;
  $("#failed-transport").textContent = t.boundaries_failed_transport;
  $("#failed-meter").textContent = t.boundaries_failed_meter;

  const history = $("#history-table tbody");
  clear(history);
  for (const d of summary.history) {
    const tr = document.createElement("tr");
    tr.dataset.day = d.day;
    cell(tr, d.day, "day");
    const rate = cell(tr, pct(d.completeness_after_backfill), "completeness");
    rate.dataset.value = d.completeness_after_backfill === null ? "" : String(d.completeness_after_backfill);
    const barCell = cell(tr, "", "bar");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = ((d.completeness_after_backfill || 0) * 200).toFixed(0) + "px";
    barCell.appendChild(bar);
    cell(tr, d.meters_complete + " / " + d.meters, "meters_complete");
    cell(tr, pct(d.on_time_rate), "on_time");
    history.appendChild(tr);
  }

  const gwBody = $("#gateway-table tbody");
  clear(gwBody);
  for (const g of gateways.gateways) {
    const tr = document.createElement("tr");
    tr.dataset.gateway = g.gateway;
    tr.dataset.status = g.status;
    cell(tr, g.gateway, "gateway");
    cell(tr, g.status, "status").className = "status-" + g.status;
    cell(tr, g.totals.meters, "meters");
    cell(tr, g.totals.meters_failing, "failing");
    const rate = cell(tr, pct(g.totals.completeness_after_backfill), "completeness");
    rate.dataset.value = g.totals.completeness_after_backfill === null ? "" : String(g.totals.completeness_after_backfill);
    cell(tr, g.totals.boundaries_failed_transport, "failed_transport");
    cell(tr, g.totals.boundaries_failed_meter, "failed_meter");
    cell(tr, mainReason(g.totals.reasons), "reason");
    tr.addEventListener("click", () => { location.hash = "#/?gateway=" + encodeURIComponent(g.gateway); });
    gwBody.appendChild(tr);
  }

  const reasons = [...(t.reasons || [])].sort((a, b) => b.boundaries - a.boundaries);
  const rBody = $("#reasons-table tbody");
  clear(rBody);
  for (const r of reasons) {
    const tr = document.createElement("tr");
    tr.dataset.reason = r.outcome;
    tr.dataset.category = r.category;
    cell(tr, r.outcome, "outcome").className = "bad";
    cell(tr, KIND[r.category] || r.category, "category");
    cell(tr, r.boundaries, "boundaries");
    rBody.appendChild(tr);
  }
  $("#reasons-empty").hidden = reasons.length !== 0;

  $("#failing-filter").textContent = gatewayFilter ? "on " + gatewayFilter : "";
  const fBody = $("#failing-table tbody");
  clear(fBody);
  for (const m of failing.meters) {
    const tr = document.createElement("tr");
    tr.dataset.meter = m.meter_id;
    tr.dataset.reason = m.main_reason;
    cell(tr, m.meter_id, "meter_id");
    cell(tr, m.gateway, "gateway");
    cell(tr, m.model, "model");
    cell(tr, m.intervals_after_backfill + " / " + m.intervals_expected, "read");
    cell(tr, m.main_reason, "reason");
    cell(tr, m.last_failure ? m.last_failure.boundary + " " + m.last_failure.detail : "", "last_failure");
    tr.addEventListener("click", () => { location.hash = "#/meter/" + encodeURIComponent(m.meter_id); });
    fBody.appendChild(tr);
  }
  $("#failing-empty").hidden = failing.meters.length !== 0;
}

function drawChart(intervals, expectedEnds) {
  const forward = new Map();
  for (const iv of intervals) if (iv.channel === "forward_active") forward.set(iv.end, iv);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const width = 960, height = 220, n = Math.max(expectedEnds.length, 1);
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("preserveAspectRatio", "none");
  const max = Math.max(1, ...Array.from(forward.values(), (iv) => iv.value_wh));
  const w = width / n;
  let drawn = 0;  // expected ends with an interval: a newer interval than the KPI's as-of is not a bar
  expectedEnds.forEach((end, i) => {
    const iv = forward.get(end);
    if (iv) ++drawn;
    const rect = document.createElementNS(ns, "rect");
    const h = iv ? Math.max(1, (iv.value_wh / max) * (height - 10)) : height - 10;
    rect.setAttribute("x", (i * w).toFixed(2));
    rect.setAttribute("y", (height - h).toFixed(2));
    rect.setAttribute("width", Math.max(1, w - 1).toFixed(2));
    rect.setAttribute("height", h.toFixed(2));
    rect.setAttribute("class", iv ? iv.status : "missing");
    rect.dataset.end = end;
    const title = document.createElementNS(ns, "title");
    title.textContent = end + ": " + (iv ? iv.value_wh + " Wh (" + iv.status + ")" : "missing");
    rect.appendChild(title);
    svg.appendChild(rect);
  });
  const chart = $("#interval-chart");
  chart.replaceChildren(svg);
  chart.dataset.intervals = String(drawn);
  chart.dataset.expected = String(expectedEnds.length);
}

function isoNoMillis(ms) {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

async function renderMeter(id) {
  $("#fleet-view").hidden = true;
  $("#meter-view").hidden = false;
  const [info, intervals, attempts] = await Promise.all([
    api("/api/v1/meters/" + encodeURIComponent(id)),
    api("/api/v1/meters/" + encodeURIComponent(id) + "/intervals"),
    api("/api/v1/meters/" + encodeURIComponent(id) + "/attempts", { limit: "50" }),
  ]);
  const m = info.meter;
  $("#meter-title").textContent = m.meter_id;
  $("#meter-info").textContent = m.protocol + " via " + m.channel + ", model " + m.model +
    (m.tags ? ", " + m.tags : "") + ", " + m.interval_minutes + "-minute intervals";
  const k = info.kpi;
  $("#meter-read").textContent = k ? k.intervals_after_backfill + " / " + k.intervals_expected : "-";
  $("#meter-complete").textContent = k ? (k.complete ? "yes" : "no") : "-";
  $("#meter-reason").textContent = k && k.main_reason ? k.main_reason : "none";

  // Every interval end of the day so far, so gaps show as grey bars.
  const dayStart = Date.parse(intervals.day + "T00:00:00Z") - m.utc_offset_minutes * 60000;
  const step = m.interval_minutes * 60000;
  const expected = k ? k.intervals_expected : 0;
  const ends = [];
  for (let i = 1; i <= expected; i++) ends.push(isoNoMillis(dayStart + i * step));
  drawChart(intervals.intervals, ends);

  const flags = $("#flags-table tbody");
  clear(flags);
  for (const iv of intervals.intervals) {
    if (iv.status === "actual" && iv.quality_codes.length === 0) continue;
    const tr = document.createElement("tr");
    cell(tr, iv.end, "end");
    cell(tr, iv.channel, "channel");
    cell(tr, iv.value_wh, "value_wh");
    cell(tr, iv.status, "status");
    cell(tr, iv.quality_codes.join(" "), "quality_codes");
    cell(tr, iv.version, "version");
    flags.appendChild(tr);
  }

  const body = $("#attempts-table tbody");
  clear(body);
  for (const a of attempts.attempts) {
    const tr = document.createElement("tr");
    tr.dataset.outcome = a.outcome;
    cell(tr, a.boundary, "boundary");
    cell(tr, a.attempt, "attempt");
    cell(tr, a.outcome, "outcome").className = a.outcome === "ok" ? "good" : "bad";
    cell(tr, a.category, "category");
    cell(tr, a.latency_ms + " ms", "latency");
    cell(tr, a.detail, "detail");
    body.appendChild(tr);
  }
}

async function route() {
  $("#error").hidden = true;
  const hash = location.hash || "#/";
  try {
    if (hash.startsWith("#/meter/")) {
      await renderMeter(decodeURIComponent(hash.slice("#/meter/".length)));
    } else {
      const q = new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
      await renderFleet(q.get("gateway"));
    }
    document.body.dataset.loaded = "true";
  } catch (err) {
    showError(err);
  }
}

window.addEventListener("hashchange", route);
$("#day").addEventListener("change", route);
const initial = new URLSearchParams(location.search).get("day");
if (initial) $("#day").value = initial;
route();
