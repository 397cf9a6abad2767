// Shared by every view: the /api client, DOM helpers and the labels people read.
// Plain ES modules, no build step; the page's CSP allows only scripts from this origin.

export const $ = (id) => document.getElementById(id);

export const STATE_LABELS = {
  offline: "ログオフ / Offline", available: "受付可 / Available", reserved: "呼出中 / Ringing",
  on_call: "通話中 / On call", wrap_up: "後処理 / Wrap-up", away: "離席 / Away",
};
export const AWAY_REASONS = {
  break: "休憩 / Break", meeting: "会議 / Meeting", training: "研修 / Training",
  other_work: "電話以外の業務 / Other work", missed_calls: "不在着信 / Missed calls",
  supervisor: "監督者による変更 / Set by supervisor", requested: "",
};
export const TICKET_STATUS_LABELS = {
  new: "新規 / New", callback_requested: "折返し依頼 / Callback", in_progress: "対応中 / In progress",
  escalated: "エスカレーション中 / Escalated", resolved: "解決 / Resolved", closed: "完了 / Closed",
  reopened: "再開 / Reopened",
};
export const ESCALATION_STATUS_LABELS = {
  pending: "送信待ち / Pending", failing: "送信失敗・再試行中 / Retrying", sent: "回答待ち / Awaiting answer",
  answered: "回答済み / Answered",
};

export async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  } else if (method !== "GET") {
    options.headers["Content-Type"] = "application/json";
    options.body = "{}";
  }
  const response = await fetch(path, options);
  const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = new Error(data?.message || response.statusText);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

export function text(id, value) { $(id).textContent = value ?? ""; }

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function option(value, label, selected = false) {
  const node = new Option(label, value);
  node.selected = selected;
  return node;
}

export const services = {};

export async function loadServices() {
  const list = await api("GET", "/api/services");
  for (const s of list.services) services[s.id] = s;
  return list.services;
}

export function serviceName(id) {
  const s = services[id];
  return s ? `${s.name_ja} / ${s.name_en}` : (id || "—");
}

export function shortName(id) {
  const s = services[id];
  return s ? s.name_ja.split("（")[0] : (id || "—");
}

export function seconds(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const s = Math.max(0, Math.round(value));
  return s < 60 ? `${s}秒` : `${Math.floor(s / 60)}分${String(s % 60).padStart(2, "0")}秒`;
}

export function localTime(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("ja-JP", { timeZone: "Asia/Tokyo", hour12: false });
}

export function stateLabel(state, reason) {
  const base = STATE_LABELS[state] || state;
  const why = state === "away" && reason ? (AWAY_REASONS[reason] ?? reason) : "";
  return why ? `${base}（${why}）` : base;
}

export function flash(id, message, ok = true) {
  const node = $(id);
  node.textContent = message;
  node.className = ok ? "ok" : "error";
}

// One reader at a time, and one more read after any request that came in meanwhile: the
// screen always ends on the server's latest state, however events and replies interleave.
export function coalesced(read) {
  let running = null;
  let again = false;
  return function run() {
    if (running) { again = true; return running; }
    running = (async () => {
      do { again = false; await read(); } while (again);
    })().finally(() => { running = null; });
    return running;
  };
}
