// The /ui page's logic. Plain browser JavaScript, no dependencies.
//
// Security choices: the API key lives in sessionStorage (this tab only) and travels in the
// Authorization header; the SSE stream is read with fetch() for that reason (EventSource cannot
// send headers, and a key in a URL would land in logs). Everything the model wrote is inserted as
// text (textContent), never as HTML, because model output is untrusted.
"use strict";

const KEY_STORAGE = "rfx.api-key";
const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);
const $ = (sel) => document.querySelector(sel);

const state = { key: sessionStorage.getItem(KEY_STORAGE) || "", current: null, abort: null, next: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// ---- HTTP -------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  if (state.key) h.Authorization = `Bearer ${state.key}`;
  return h;
}

async function api(method, path, body, extra = {}) {
  const init = { method, headers: headers(extra) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let problem = {};
    try { problem = await response.json(); } catch (_) { problem = { detail: response.statusText }; }
    throw new ApiError(response.status, problem);
  }
  return response.status === 204 ? null : response.json();
}

// ---- episode list -------------------------------------------------------------------------------
function fmtTokens(usage) {
  return usage ? String((usage.prompt_tokens || 0) + (usage.completion_tokens || 0)) : "0";
}

function fmtTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "";
}

function episodeRow(ep) {
  const row = el("tr", { "data-episode-id": ep.id, "data-testid": "episode-row" },
    el("td", { text: ep.id.slice(0, 12) }),
    el("td", { text: ep.task ? ep.task.id : "" }),
    el("td", {}, el("span", { class: `status ${ep.status}`, text: ep.status })),
    el("td", { text: String((ep.attempts || []).length) }),
    el("td", { text: fmtTokens(ep.usage) }),
    el("td", { text: fmtTime(ep.created_at) }));
  if (state.current === ep.id) row.classList.add("selected");
  row.addEventListener("click", () => openEpisode(ep.id));
  return row;
}

async function loadList(append = false) {
  $("#list-error").textContent = "";
  try {
    const params = new URLSearchParams({ limit: "20" });
    if (append && state.next) params.set("after", state.next);
    const page = await api("GET", `/v1/episodes?${params}`);
    const body = $("#episodes tbody");
    if (!append) body.replaceChildren();
    for (const ep of page.data) body.append(episodeRow(ep));
    state.next = page.has_more ? page.next : null;
    $("#more").hidden = !state.next;
  } catch (err) {
    $("#list-error").textContent = `Could not list episodes: ${err.message}`;
  }
}

// ---- one episode ----------------------------------------------------------------------------------
// Line diff (longest common subsequence): small programs, so O(n*m) is fine.
function lineDiff(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  const n = a.length, m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
    else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push(["-", a[i++]]);
    else out.push(["+", b[j++]]);
  }
  while (i < n) out.push(["-", a[i++]]);
  while (j < m) out.push(["+", b[j++]]);
  return out;
}

function codeBlock(code, previous) {
  const pre = el("pre", { class: "diff", "data-testid": "trial-code" });
  const lines = previous === null ? code.split("\n").map((l) => [" ", l]) : lineDiff(previous, code);
  for (const [mark, line] of lines) {
    const cls = mark === "+" ? "add" : mark === "-" ? "del" : "";
    pre.append(el("span", { class: cls, "data-mark": mark, text: `${mark} ${line}` }));
  }
  return pre;
}

function verdictBlock(label, verdict) {
  const box = el("div", { "data-testid": `verdict-${label}` });
  box.append(el("strong", { text: `${label} verdict: ` }),
    el("span", { class: `verdict v-${verdict.status}`, "data-testid": "verdict-status", text: verdict.status }),
    el("span", { class: "meta", text: `  ${Math.round(verdict.duration_ms || 0)} ms` }));
  const list = el("ul", { class: "tests" });
  for (const test of verdict.tests || []) {
    const text = test.message ? `${test.name} - ${test.message}` : test.name;
    list.append(el("li", { class: test.passed ? "pass" : "fail", "data-testid": "test-result", text }));
  }
  box.append(list);
  if (verdict.detail) box.append(el("div", { class: "meta", text: verdict.detail }));
  return box;
}

function trialCard(attempt, previous) {
  const usage = attempt.usage || {};
  const card = el("div", { class: "trial", "data-testid": "trial", "data-trial": String(attempt.trial) },
    el("h3", { text: `Trial ${attempt.trial}` + (attempt.parent ? ` (child of trial ${attempt.parent})` : "") }),
    el("div", { class: "meta", "data-testid": "trial-meta",
      text: `${usage.prompt_tokens || 0} prompt + ${usage.completion_tokens || 0} completion tokens, ` +
            `${Math.round(attempt.latency_ms || 0)} ms` }),
    codeBlock(attempt.code || "", previous));
  if (attempt.feedback) card.append(verdictBlock("feedback", attempt.feedback));
  if (attempt.hidden) card.append(verdictBlock("hidden", attempt.hidden));
  const lesson = attempt.reflection || attempt.critique;
  if (lesson) card.append(el("div", { class: "lesson", "data-testid": "lesson", text: `Lesson: ${lesson}` }));
  return card;
}

// tree_search: the search tree from each attempt's parent, one line per node with its feedback
// verdict and value (the fraction of feedback tests passed); the episode's answer is marked.
function treeNode(attempt, kids, finalTrial) {
  const feedback = attempt.feedback ? attempt.feedback.status : "no feedback";
  const value = attempt.value === null || attempt.value === undefined ? "-" : attempt.value.toFixed(2);
  const item = el("li", { "data-testid": "tree-node", "data-trial": String(attempt.trial) },
    el("span", { class: "node-trial", text: `#${attempt.trial}` }),
    el("span", { class: `verdict v-${feedback}`, "data-testid": "node-verdict", text: feedback }),
    el("span", { class: "meta", "data-testid": "node-value", text: `value ${value}` }));
  if (attempt.trial === finalTrial) {
    item.classList.add("answer");
    item.append(el("span", { class: "meta", text: " answer" }));
  }
  const below = kids.get(attempt.trial) || [];
  if (below.length) {
    const list = el("ul");
    for (const child of below) list.append(treeNode(child, kids, finalTrial));
    item.append(list);
  }
  return item;
}

function treeView(ep) {
  const attempts = ep.attempts || [];
  const box = $("#tree");
  box.replaceChildren();
  box.hidden = !attempts.some((a) => a.parent !== null && a.parent !== undefined);
  if (box.hidden) return;
  const kids = new Map();
  const roots = [];
  for (const attempt of attempts) {
    if (attempt.parent === null || attempt.parent === undefined) roots.push(attempt);
    else kids.set(attempt.parent, [...(kids.get(attempt.parent) || []), attempt]);
  }
  const list = el("ul", { class: "tree" });
  for (const root of roots) list.append(treeNode(root, kids, ep.final_trial));
  box.append(el("h3", { text: "Search tree" }), list);
}

function renderEpisode(ep) {
  $("#placeholder").hidden = true;
  $("#episode").hidden = false;
  $("#ep-task").textContent = ep.task.id;
  $("#ep-id").textContent = ep.id;
  const status = $("#ep-status");
  status.textContent = ep.status;
  status.className = `status ${ep.status}`;
  $("#ep-stop").textContent = ep.stop_reason ? `stop: ${ep.stop_reason}` : "";
  const u = ep.usage || {};
  $("#ep-usage").textContent = `${fmtTokens(u)} tokens` + (u.cost_usd ? `, $${u.cost_usd.toFixed(4)}` : "");
  $("#ep-error").textContent = ep.error || "";
  treeView(ep);
  const trials = $("#trials");
  trials.replaceChildren();
  const codeOf = new Map();
  let previous = null;
  for (const attempt of ep.attempts || []) {
    // a tree node is compared with the node it was expanded from, not with the trial before it
    const base = attempt.parent === null || attempt.parent === undefined ? previous : codeOf.get(attempt.parent) ?? null;
    trials.append(trialCard(attempt, base));
    codeOf.set(attempt.trial, attempt.code || "");
    previous = attempt.code || "";
  }
  const final = $("#ep-final");
  if (TERMINAL.has(ep.status)) {
    const trial = ep.final_trial ? ` (answer of trial ${ep.final_trial})` : "";
    final.textContent = `Final verdict: ${ep.status}${trial}`;
    final.className = `status ${ep.status}`;
  } else {
    final.textContent = "";
    final.className = "";
  }
  for (const row of document.querySelectorAll("#episodes tbody tr"))
    row.classList.toggle("selected", row.dataset.episodeId === ep.id);
}

async function refreshEpisode(id) {
  const ep = await api("GET", `/v1/episodes/${encodeURIComponent(id)}`);
  if (state.current === id) renderEpisode(ep);
  return ep;
}

// ---- live events over SSE, read with fetch() ----------------------------------------------------
function* parseSSE(buffer, message) {
  // Yields complete messages from the text; returns via message.rest what is left of a partial one.
  const lines = buffer.split(/\r\n|\r|\n/);
  message.rest = lines.pop();
  for (const line of lines) {
    if (line === "") {
      if (message.data.length) yield { id: message.id, event: message.event, data: message.data.join("\n") };
      message.id = null; message.event = "message"; message.data = [];
    } else if (!line.startsWith(":")) {
      const at = line.indexOf(":");
      const name = at < 0 ? line : line.slice(0, at);
      let value = at < 0 ? "" : line.slice(at + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "data") message.data.push(value);
      else if (name === "event") message.event = value;
      else if (name === "id") message.id = value;
    }
  }
}

function logEvent(event) {
  const trial = event.data && event.data.trial !== undefined ? ` trial ${event.data.trial}` : "";
  $("#events").append(el("li", { "data-testid": "event", text: `${fmtTime(event.at)} ${event.type}${trial}` }));
}

async function follow(id, signal) {
  let lastId = null;
  let failures = 0;
  const live = $("#ep-live");
  while (!signal.aborted && state.current === id) {
    try {
      const extra = { Accept: "text/event-stream" };
      if (lastId) extra["Last-Event-ID"] = lastId;
      const response = await fetch(`/v1/episodes/${encodeURIComponent(id)}/events`, { headers: headers(extra), signal });
      if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})));
      live.textContent = "live";
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const message = { id: null, event: "message", data: [], rest: "" };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const msg of parseSSE(message.rest + decoder.decode(value, { stream: true }), message)) {
          let event;
          try { event = JSON.parse(msg.data); } catch (_) { continue; }
          lastId = msg.id || event.id;
          failures = 0;
          logEvent(event);
          await refreshEpisode(id);
          if (event.type === "episode.finished") {
            live.textContent = "";
            loadList();
            return;
          }
        }
      }
      // The stream ended without episode.finished: done if the episode is over, else resume.
      if (TERMINAL.has((await refreshEpisode(id)).status)) { live.textContent = ""; loadList(); return; }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status < 500) { live.textContent = `stream error: ${err.message}`; return; }
    }
    failures += 1;
    if (failures > 8) { live.textContent = "stream lost"; return; }
    live.textContent = "reconnecting...";
    await new Promise((resolve) => setTimeout(resolve, 500 * failures));
  }
}

async function openEpisode(id) {
  if (state.abort) state.abort.abort();
  state.current = id;
  history.replaceState(null, "", `#episode=${encodeURIComponent(id)}`);
  $("#events").replaceChildren();
  $("#ep-live").textContent = "";
  try {
    const ep = await refreshEpisode(id);
    if (!TERMINAL.has(ep.status)) {
      state.abort = new AbortController();
      follow(id, state.abort.signal);
    }
  } catch (err) {
    $("#placeholder").hidden = false;
    $("#episode").hidden = true;
    $("#placeholder").textContent = `Could not open episode ${id}: ${err.message}`;
  }
}

// ---- forms ---------------------------------------------------------------------------------------
function randomKey() {
  // crypto.randomUUID() exists only in secure contexts; a stack reached over plain http on a LAN is not.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function submitTask(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const errorBox = $("#submit-error");
  errorBox.textContent = "";
  const visible = String(form.get("visible_tests") || "").split("\n").map((l) => l.trim()).filter(Boolean);
  const body = {
    task: {
      id: form.get("id"), prompt: form.get("prompt"), entry_point: form.get("entry_point"),
      tests: form.get("tests"), visible_tests: visible,
    },
    max_trials: Number(form.get("max_trials")),
  };
  // Left at "the actor's default", the strategy is not sent: a bundled actor then runs its measured one.
  if (form.get("strategy")) body.strategy = form.get("strategy");
  try {
    const ep = await api("POST", "/v1/episodes", body, { "Idempotency-Key": randomKey() });
    await loadList();
    openEpisode(ep.id);
  } catch (err) {
    errorBox.textContent = `Not submitted: ${err.message}`;
  }
}

function useKey(event) {
  event.preventDefault();
  state.key = $("#api-key").value.trim();
  sessionStorage.setItem(KEY_STORAGE, state.key);
  $("#api-key").value = "";
  showAuth();
  loadList();
}

function showAuth() {
  $("#auth-state").textContent = state.key ? "key set for this tab" : "no key";
}

document.addEventListener("DOMContentLoaded", () => {
  $("#auth").addEventListener("submit", useKey);
  $("#submit-form").addEventListener("submit", submitTask);
  $("#refresh").addEventListener("click", () => loadList());
  $("#more").addEventListener("click", () => loadList(true));
  showAuth();
  loadList();
  const match = location.hash.match(/^#episode=(.+)$/);
  if (match) openEpisode(decodeURIComponent(match[1]));
});
