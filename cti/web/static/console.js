// The helpdesk console: login, operator state, screen pops, ticket completion, the floor view.
// Plain JavaScript against the same /api the scripts use; no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const FLOOR_ROLES = ["supervisor", "manager", "admin"];
const STATE_LABELS = {
  offline: "ログオフ / Offline", available: "受付可 / Available", reserved: "呼出中 / Ringing",
  on_call: "通話中 / On call", wrap_up: "後処理 / Wrap-up", away: "離席 / Away",
};
let me = null;
let services = {};
let ticket = null;
let socket = null;

async function api(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
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

function text(id, value) { $(id).textContent = value ?? ""; }

function serviceName(id) {
  const s = services[id];
  return s ? `${s.name_ja} / ${s.name_en}` : (id || "-");
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const who = await api("POST", "/api/session",
      { username: form.get("username"), password: form.get("password") });
    await start(who.user, who.role);
  } catch (error) {
    text("login-error", error.status === 401
      ? "ユーザー名またはパスワードが違います / Wrong user name or password" : error.message);
  }
});

$("logout").addEventListener("click", async () => {
  await api("DELETE", "/api/session").catch(() => null);
  location.reload();
});

$("state").addEventListener("change", async (event) => {
  try {
    const result = await api("PUT", `/api/operators/${encodeURIComponent(me.user)}/state`,
      { state: event.target.value, reason: event.target.value === "away" ? "break" : "" });
    showMyState(result.state, result.pending_state);
  } catch (error) {
    alert(error.message);
  }
});

function showMyState(state, pending) {
  text("my-state", (STATE_LABELS[state] || state) + (pending ? ` → ${STATE_LABELS[pending] || pending}` : ""));
}

async function start(user, role) {
  me = { user, role };
  $("login-panel").hidden = true;
  $("who").hidden = false;
  $("desk").hidden = false;
  text("user", `${user} (${role})`);
  const list = await api("GET", "/api/services");
  services = Object.fromEntries(list.services.map((s) => [s.id, s]));
  await showBanner();
  if (FLOOR_ROLES.includes(role)) {
    $("floor").hidden = false;
    await refreshFloor();
  }
  const operators = await api("GET", "/api/operators").catch(() => ({ operators: [] }));
  const mine = operators.operators.find((o) => o.id === user);
  if (mine) { $("state").value = ["available", "away"].includes(mine.state) ? mine.state : "offline"; showMyState(mine.state); }
  else { $("state").disabled = true; }
  connect();
}

async function showBanner() {
  const [calendar, incident] = await Promise.all([
    api("GET", "/api/calendar"), api("GET", "/api/incident")]);
  const lines = [];
  if (!calendar.open) lines.push(`受付時間外 / Closed: ${calendar.reason}`);
  if (incident.incident) lines.push(`障害案内中 / Incident notice: ${incident.incident.message_ja}`);
  $("banner").hidden = lines.length === 0;
  text("banner", lines.join("　"));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/events`);
  socket.onmessage = (message) => onEvent(JSON.parse(message.data));
  socket.onclose = () => setTimeout(() => { if (me) connect(); }, 2000);
}

async function onEvent(event) {
  switch (event.type) {
    case "screen_pop": return screenPop(event);
    case "ticket_ready": return loadTicket(event.ticket_id);
    case "my_state": if (event.new) showMyState(event.new); return;
    case "queues": return FLOOR_ROLES.includes(me.role) && renderQueues(event.queues);
    case "operator": return FLOOR_ROLES.includes(me.role) && refreshOperators();
    case "alert": {
      const item = document.createElement("li");
      item.textContent = `${new Date().toLocaleTimeString("ja-JP")} ${event.kind}: ${event.detail}`;
      $("alerts").prepend(item);
      return;
    }
    case "escalation_answered": if (ticket && event.ticket_id === ticket.id) await loadTicket(ticket.id); return;
    default: return;
  }
}

async function screenPop(event) {
  $("call").hidden = false;
  text("call-service", serviceName(event.service));
  text("call-caller", event.caller);
  text("call-waited", `${Math.round(event.waited_s)} 秒 / s`);
  text("call-ticket", "…");
  $("history").replaceChildren();
  // The ticket opens on "ticket_ready", once the offer to this operator is recorded.
}

async function loadTicket(id) {
  ticket = await api("GET", `/api/tickets/${id}`);
  text("call-ticket", ticket.reference);
  text("ticket-ref", ticket.reference);
  $("ticket").hidden = false;
  const categories = services[ticket.service]?.categories || [];
  $("category").replaceChildren(...["", ...categories].map((c) => new Option(c || "—", c)));
  $("category").value = ticket.category || "";
  $("summary").value = ticket.summary;
  $("answer").value = ticket.answer;
  if ([...$("status").options].some((o) => o.value === ticket.status)) $("status").value = ticket.status;
  text("preview", ticket.summary);
  const related = await api("GET", `/api/tickets/${id}/related`).catch(() => ({ tickets: [] }));
  $("history").replaceChildren(...related.tickets.map((t) => {
    const item = document.createElement("li");
    item.textContent = `${t.received_at.slice(0, 10)} ${serviceName(t.service)} ${t.summary || "(要約なし / no summary)"}`;
    return item;
  }));
  await suggest(ticket.summary);
}

let typing = null;
$("summary").addEventListener("input", (event) => {
  clearTimeout(typing);
  typing = setTimeout(async () => {
    const value = event.target.value;
    const result = await api("POST", "/api/redact", { text: value });
    text("preview", result.text);
    await suggest(value);
  }, 250);
});

async function suggest(value) {
  if (!value || value.length < 2) { $("similar").replaceChildren(); return; }
  const params = new URLSearchParams({ text: value });
  if (ticket?.service) params.set("service", ticket.service);
  const found = await api("GET", `/api/knowledge/similar?${params}`).catch(() => null);
  const items = found ? [...(found.articles || []), ...(found.tickets || [])] : [];
  $("similar").replaceChildren(...items.slice(0, 5).map((a) => {
    const item = document.createElement("li");
    item.textContent = `${a.title || a.reference || ""}: ${a.answer || ""}`;
    return item;
  }));
}

$("ticket-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!ticket) return;
  const body = { summary: $("summary").value, answer: $("answer").value, version: ticket.version };
  if ($("category").value) body.category = $("category").value;
  if ($("status").value !== ticket.status) body.status = $("status").value;
  try {
    ticket = { ...ticket, ...(await api("PATCH", `/api/tickets/${ticket.id}`, body)) };
    $("summary").value = ticket.summary;
    text("preview", ticket.summary);
    text("saved", "保存しました / Saved");
  } catch (error) {
    text("saved", error.status === 409
      ? "他の人が更新しました。再読込してください / Changed by someone else: reload" : error.message);
  }
});

async function refreshFloor() {
  const queues = await api("GET", "/api/queues");
  renderQueues(queues.queues.map((q) => ({ service: q.service, waiting: q.waiting.length, longest_wait_s: q.longest_wait_s })));
  await refreshOperators();
}

function renderQueues(queues) {
  $("queues").tBodies[0].replaceChildren(...queues.map((q) => {
    const row = document.createElement("tr");
    row.dataset.service = q.service;
    for (const value of [serviceName(q.service), q.waiting, `${Math.round(q.longest_wait_s)} s`]) {
      row.insertCell().textContent = value;
    }
    return row;
  }));
}

async function refreshOperators() {
  const operators = await api("GET", "/api/operators");
  $("operators").tBodies[0].replaceChildren(...operators.operators.map((o) => {
    const row = document.createElement("tr");
    row.dataset.operator = o.id;
    for (const value of [o.id, o.name, STATE_LABELS[o.state] || o.state, o.call_id ? "●" : ""]) {
      row.insertCell().textContent = value;
    }
    return row;
  }));
}

api("GET", "/api/session").then((who) => start(who.user, who.role)).catch(() => null);
