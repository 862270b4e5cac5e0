#include "arbiter/status_page.h"

namespace baton::arbiter {
namespace {

// Rules for the script below: data from the API is inserted only with
// textContent, createTextNode, dataset or setAttribute (never innerHTML), so
// a name or message holding markup shows as text. The last good answer of
// each endpoint stays on screen when a fetch fails; the banner says why.
constexpr std::string_view kHtml = R"baton_html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Baton arbiter</title>
<style>
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em; color: #1d2330; background: #fafbfc; }
  h1 { font-size: 1.3em; margin: 0 0 .3em 0; }
  h2 { font-size: 1.1em; margin: 1.5em 0 .4em 0; }
  header { display: flex; flex-wrap: wrap; gap: .4em 2em; align-items: baseline; border-bottom: 1px solid #d0d5dd; padding-bottom: .6em; }
  header .field { color: #555; }
  header .value { font-weight: 600; color: #1d2330; }
  #updated { margin-left: auto; color: #666; font-size: .9em; }
  #error { display: none; margin: .8em 0; padding: .5em .8em; background: #fde8e8; border: 1px solid #e0a0a0; color: #8a1c1c; border-radius: 4px; }
  #error.shown { display: block; }
  table { border-collapse: collapse; margin: .6em 0 1.2em 0; background: #fff; min-width: 40em; }
  caption { text-align: left; padding: .3em 0; font-weight: 600; }
  caption .detail { font-weight: normal; color: #444; margin-left: 1em; }
  caption .warn { color: #a04000; }
  th, td { border: 1px solid #d0d5dd; padding: .25em .6em; text-align: left; white-space: nowrap; }
  th { background: #eef1f5; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  td.message { white-space: normal; }
  .address { color: #777; font-size: .85em; margin-left: .4em; }
  tr[data-role="active"] td.role { color: #0a6b2d; font-weight: 600; }
  tr[data-role="unknown"] td.role, tr[data-role="unassigned"] td.role { color: #777; }
  td.health-ok { color: #0a6b2d; }
  td.health-degraded { color: #a04000; font-weight: 600; }
  td.health-down { color: #b00020; font-weight: 600; }
  td.health-unknown, .none { color: #777; }
  td.no { color: #b00020; }
  .muted { color: #777; }
</style>
</head>
<body>
<header>
  <h1>Baton arbiter</h1>
  <span class="field">leader: <span class="value" id="leader">&#8230;</span></span>
  <span class="field">answered by: <span class="value" id="answered-by">&#8230;</span></span>
  <span id="updated">not loaded yet</span>
</header>
<div id="error" role="alert"></div>
<main>
  <div id="clusters"><p class="muted">Loading the status&#8230;</p></div>
  <h2>Recent events</h2>
  <table id="events">
    <thead><tr><th>Time</th><th>Cluster</th><th>Type</th><th>Instance</th><th>Epoch</th><th>Message</th></tr></thead>
    <tbody></tbody>
  </table>
</main>
<script>
"use strict";
(function () {
  const REFRESH_MS = 1000;
  const FETCH_TIMEOUT_MS = 3000;

  // el("td", {className: "num", dataset: {x: "1"}}, "text", childNode, ...):
  // strings become text nodes, so data can never turn into markup.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "dataset") {
        for (const [k, v] of Object.entries(value)) node.dataset[k] = String(v);
      } else if (key === "className" || key === "id" || key === "title") {
        node[key] = String(value);
      } else {
        node.setAttribute(key, String(value));
      }
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function text(v) { return v === null || v === undefined || v === "" ? "\u2014" : String(v); }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function position(p) {
    return p && typeof p === "object" ? text(p.epoch) + ":" + text(p.seq) : "\u2014";
  }
  function yesNo(v) { return v === true ? "yes" : v === false ? "no" : "\u2014"; }
  function millis(v) {
    const n = num(v);
    return n === null || n < 0 ? "\u2014" : n + " ms";
  }

  function instanceRow(inst) {
    const role = typeof inst.role === "string" ? inst.role : "unknown";
    const health = typeof inst.health === "string" ? inst.health : "unknown";
    const flags = [];
    if (inst.fenced) flags.push("fenced");
    if (inst.handing_over) flags.push("handing over");
    return el("tr", {className: "instance", dataset: {instance: text(inst.id), role: role}},
      el("td", {className: "id"}, text(inst.id), inst.address ? el("span", {className: "address"}, inst.address) : null),
      el("td", {className: "role"}, role, flags.length ? el("span", {className: "address"}, "(" + flags.join(", ") + ")") : null),
      el("td", {className: "health health-" + health.replace(/[^a-z]/g, "")}, health),
      el("td", {className: "num"}, text(inst.epoch)),
      el("td", {className: "num"}, position(inst.durable)),
      el("td", {className: "num"}, text(num(inst.lag_entries))),
      el("td", {className: "num"}, millis(inst.lease_remaining_ms)),
      el("td", {}, inst.sync ? "sync" : "\u2014"),
      el("td", {className: inst.connected === false ? "no" : ""}, yesNo(inst.connected)));
  }

  function clusterTable(c) {
    const name = text(c.name);
    const details = [
      el("span", {className: "detail"}, "epoch " + text(c.epoch)),
      el("span", {className: "detail" + (c.active ? "" : " warn")}, "active: " + (c.active ? c.active : "none")),
      el("span", {className: "detail" + (c.maintenance ? " warn" : "")}, "maintenance: " + (c.maintenance ? "on" : "off")),
    ];
    if (c.waiting_for) details.push(el("span", {className: "detail warn"}, "waiting for: " + c.waiting_for));
    if (c.operation && typeof c.operation === "object") {
      const op = c.operation;
      details.push(el("span", {className: "detail warn"},
        "operation: " + text(op.kind) + (op.to ? " to " + op.to : "") +
        (num(op.started_ms_ago) !== null ? " (" + op.started_ms_ago + " ms ago)" : "")));
    } else {
      details.push(el("span", {className: "detail"}, "operation: none"));
    }
    const age = num(c.observed_age_ms);
    details.push(el("span", {className: "detail muted"},
      age === null || age < 0 ? "never observed" : "observed " + age + " ms ago"));
    const body = el("tbody", {});
    for (const inst of Array.isArray(c.instances) ? c.instances : []) body.appendChild(instanceRow(inst || {}));
    if (!body.firstChild) body.appendChild(el("tr", {}, el("td", {colspan: 9, className: "muted"}, "no instances")));
    return el("table", {id: "cluster-" + name, className: "cluster", dataset: {cluster: name}},
      el("caption", {}, "Cluster " + name, ...details),
      el("thead", {}, el("tr", {}, ...["Instance", "Role", "Health", "Epoch", "Durable", "Lag", "Lease", "Sync",
                                        "Connected"].map((h) => el("th", {}, h)))),
      body);
  }

  function renderStatus(s) {
    const leader = s.leader && typeof s.leader === "object" ? s.leader : null;
    document.getElementById("leader").textContent =
      leader ? text(leader.id) + (leader.http ? " (" + leader.http + ")" : "") : "none (no replica leads)";
    document.getElementById("answered-by").textContent = text(s.answered_by);
    const box = document.getElementById("clusters");
    const tables = (Array.isArray(s.clusters) ? s.clusters : []).map((c) => clusterTable(c || {}));
    if (!tables.length) tables.push(el("p", {className: "muted"}, "No clusters yet."));
    box.replaceChildren(...tables);
  }

  function eventTime(e) {
    const ms = num(e.time_ms);
    if (ms === null) return text(e.time);
    const d = new Date(ms);
    const pad = (n, w) => String(n).padStart(w || 2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" +
      pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }

  function eventMessage(e) {
    if (e.message) return e.message;
    const parts = [];
    for (const key of ["reason", "result", "enabled", "version", "duration_ms"]) {
      if (e[key] !== undefined && e[key] !== null) parts.push(key + "=" + e[key]);
    }
    return parts.join(" ");
  }

  function renderEvents(ev) {
    const events = Array.isArray(ev.events) ? ev.events.slice().reverse() : [];  // newest first
    const rows = events.map((e) => {
      e = e || {};
      return el("tr", {className: "event", dataset: {seq: text(e.seq), type: text(e.type)}},
        el("td", {}, eventTime(e)), el("td", {}, text(e.cluster)), el("td", {}, text(e.type)),
        el("td", {}, text(e.instance)), el("td", {className: "num"}, text(e.epoch)),
        el("td", {className: "message"}, text(eventMessage(e))));
    });
    if (!rows.length) rows.push(el("tr", {}, el("td", {colspan: 6, className: "muted"}, "no events")));
    document.querySelector("#events tbody").replaceChildren(...rows);
  }

  async function getJson(url) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    try {
      let response;
      try {
        response = await fetch(url, {cache: "no-store", signal: controller.signal,
                                     headers: {"Accept": "application/json"}});
      } catch (err) {
        throw new Error("GET /" + url + ": " + (err && err.name === "AbortError" ? "timed out" : String(err)));
      }
      const body = await response.text();
      let json = null;
      try { json = JSON.parse(body); } catch (err) { json = null; }
      if (!response.ok) {
        const e = json && json.error ? json.error : null;
        throw new Error("GET /" + url + ": HTTP " + response.status +
                        (e ? " " + text(e.code) + ": " + text(e.message) : ""));
      }
      if (json === null || typeof json !== "object") throw new Error("GET /" + url + ": the answer is not JSON");
      return json;
    } finally {
      clearTimeout(timer);
    }
  }

  let lastGood = null;
  async function refresh() {
    const errors = [];
    const [status, events] = await Promise.allSettled([getJson("v1/status"), getJson("v1/events?limit=50")]);
    try {
      if (status.status === "fulfilled") renderStatus(status.value); else errors.push(status.reason.message);
      if (events.status === "fulfilled") renderEvents(events.value); else errors.push(events.reason.message);
    } catch (err) {
      errors.push("cannot render the answer: " + String(err));
    }
    const now = new Date().toLocaleTimeString();
    const banner = document.getElementById("error");
    if (errors.length) {
      banner.textContent = "Refresh failed at " + now + " (showing the last good data" +
        (lastGood ? " from " + lastGood : "") + "): " + errors.join("; ");
      banner.className = "shown";
    } else {
      lastGood = now;
      banner.textContent = "";
      banner.className = "";
    }
    document.getElementById("updated").textContent = lastGood ? "updated " + lastGood : "not loaded yet";
  }

  async function loop() {
    try { await refresh(); } finally { setTimeout(loop, REFRESH_MS); }
  }
  loop();
})();
</script>
</body>
</html>
)baton_html";

}  // namespace

std::string_view StatusPageHtml() { return kHtml; }

}  // namespace baton::arbiter
