// The supervisor's floor (wallboard): queues with today's figures, operators with time in state,
// waiting calls, alerts; controls for hours, incident notice, moving/taking calls, forcing states.
// Any floor event re-reads GET /api/floor (coalesced), so the board is the server's truth.
import {
  $, STATE_LABELS, api, coalesced, el, flash, option, seconds, services, shortName,
  stateLabel, text,
} from "./api.js";

const CONTROL_ROLES = ["supervisor", "admin"];
const FLOOR_EVENTS = new Set(["queues", "operator", "alert", "incident", "hours", "resync",
  "escalation_opened", "escalation_answered", "escalation_overdue"]);
const ALERT_LABELS = {
  missed_calls: "不在着信が続いています / Missed calls in a row",
  no_skilled_operator: "対応できるオペレーターがいません / Nobody skilled logged in",
  incident_priority: "障害による優先度変更 / Incident priority change",
  escalation_overdue: "エスカレーション期限超過 / Escalation overdue",
};
let me = null;
let board = null;
let readAt = 0;
let started = false;

export async function startFloor(who) {
  me = who;
  started = true;
  const controls = CONTROL_ROLES.includes(me.role);
  for (const node of document.querySelectorAll(".supervisor-only")) node.hidden = !controls;
  $("incident-service").replaceChildren(option("", "全サービス / All services"),
    ...Object.keys(services).map((id) => option(id, shortName(id))));
  $("move-to").replaceChildren(...Object.keys(services).map((id) => option(id, shortName(id))));
  $("incident-delta").replaceChildren(...[5, 4, 3, 2, 1, 0, -1, -2, -3, -4, -5]
    .map((d) => option(String(d), d > 0 ? `+${d}` : String(d), d === 0)));
  setInterval(tick, 1000);
  setInterval(() => refresh(), 15000); // a safety net; events drive the board
  await refresh();
}

export function onFloorEvent(event) {
  if (!started || !FLOOR_EVENTS.has(event.type)) return null;
  return refresh();
}

const refresh = coalesced(readBoard);

async function readBoard() {
  board = await api("GET", "/api/floor");
  readAt = performance.now();
  render();
}

// A re-render must not undo what the supervisor is choosing in a row's selects.
function keepChoices() {
  const kept = new Map();
  for (const select of document.querySelectorAll("#floor-view tr[data-call] select, #floor-view tr[data-operator] select")) {
    const row = select.closest("tr");
    kept.set(`${row.dataset.call || row.dataset.operator}/${select.className}`, select.value);
  }
  return kept;
}

function restoreChoices(kept) {
  for (const select of document.querySelectorAll("#floor-view tr[data-call] select, #floor-view tr[data-operator] select")) {
    const row = select.closest("tr");
    const value = kept.get(`${row.dataset.call || row.dataset.operator}/${select.className}`);
    if (value !== undefined && [...select.options].some((o) => o.value === value)) select.value = value;
  }
}

function render() {
  const kept = keepChoices();
  const take = $("take-by").value;
  const moveTo = $("move-to").value;
  const focused = document.activeElement?.closest?.("tr")?.dataset;
  renderBoard();
  restoreChoices(kept);
  if ([...$("take-by").options].some((o) => o.value === take)) $("take-by").value = take;
  $("move-to").value = moveTo || $("move-to").value;
  if (focused?.operator) document.querySelector(`#floor-operators tr[data-operator="${focused.operator}"] select`)?.focus();
}

function renderBoard() {
  const controls = CONTROL_ROLES.includes(me.role);
  renderHours();
  $("kpis").tBodies[0].replaceChildren(...board.services.map((s) => {
    const t = s.today || {};
    return el("tr", { dataset: { service: s.id } },
      el("th", { scope: "row", title: `${s.name_ja} / ${s.name_en}` }, `${shortName(s.id)} / ${s.name_en.split(" (")[0]}`),
      el("td", { class: s.waiting_count ? "hot" : "" }, String(s.waiting_count)),
      el("td", { class: "wait", dataset: { base: s.longest_wait_s, live: s.waiting_count ? "1" : "" } },
        s.waiting_count ? seconds(s.longest_wait_s) : "—"),
      el("td", {}, String(t.offered ?? 0)), el("td", {}, String(t.answered ?? 0)),
      el("td", {}, String(t.abandoned ?? 0)),
      el("td", {}, t.service_level === null || t.service_level === undefined ? "—"
        : `${Math.round(t.service_level * 100)}%`),
      el("td", {}, seconds(t.asa_seconds)), el("td", {}, seconds(t.aht_seconds)),
      el("td", {}, s.priority_delta ? `+${s.priority_delta}` : "—"));
  }));
  renderWaiting(board.services.flatMap((s) => s.waiting.map((c) => ({ ...c, service: s.id }))), controls);
  $("floor-operators").tBodies[0].replaceChildren(...board.operators.map((o) => el("tr", { dataset: { operator: o.id, state: o.state } },
    el("th", { scope: "row" }, `${o.name}（${o.id}）`),
    el("td", {}, el("span", { class: `state state-${o.state}` }, stateLabel(o.state, o.reason)),
      o.pending_state ? ` → ${STATE_LABELS[o.pending_state]}` : ""),
    el("td", { class: "wait", dataset: { base: o.in_state_s, live: o.in_state_s === null ? "" : "1" } }, seconds(o.in_state_s)),
    el("td", {}, o.call ? shortName(o.call.service) : "—"),
    el("td", { class: "skills" }, Object.entries(o.skills).map(([s, l]) => `${shortName(s)} ${l}`).join("・")),
    el("td", { class: "actions" }, ...(controls ? stateControls(o) : [])))));
  $("floor-alerts").replaceChildren(...board.alerts.slice(0, 20).map((a) => el("li", { class: "alert" },
    ALERT_LABELS[a.kind || a.type] || a.kind || a.type, " ", a.detail || a.ticket_reference || "")));
  if (!board.alerts.length) $("floor-alerts").append(el("li", { class: "muted" }, "なし / None"));
  const notice = board.incident;
  text("incident-now", notice
    ? `${notice.message_ja}（${notice.service ? shortName(notice.service) : "全サービス / All"}${notice.priority_delta ? `、優先度 +${notice.priority_delta}` : ""}）`
    : "なし / None");
  $("incident-clear").disabled = !notice;
}

function renderHours() {
  const h = board.hours;
  text("hours-now", h.open ? "受付中 / Open" : `受付時間外 / Closed（${h.reason}）`);
  $("hours-now").className = h.open ? "ok" : "error";
}

// Waiting rows are keyed by call id and updated in place (100 calls must not cost a full
// re-render per event); one action bar acts on the selected call.
function renderWaiting(calls, controls) {
  const body = $("waiting").tBodies[0];
  const rows = new Map([...body.querySelectorAll("tr[data-call]")].map((row) => [row.dataset.call, row]));
  body.querySelector("tr.empty")?.remove();
  const order = [];
  for (const call of calls) {
    let row = rows.get(call.call_id);
    rows.delete(call.call_id);
    if (!row) {
      const pick = el("input", { type: "radio", name: "waiting-call", value: call.call_id,
        "aria-label": `この待ち呼を選択 / Select this call`, onchange: () => showSelected() });
      row = el("tr", { dataset: { call: call.call_id } }, el("td", {}, controls ? pick : ""),
        el("td"), el("td", { class: "wait" }), el("td"));
    }
    const cells = row.cells;
    cells[1].textContent = shortName(call.service);
    cells[2].dataset.base = call.wait_s;
    cells[2].dataset.live = "1";
    cells[2].textContent = seconds(call.wait_s);
    cells[3].textContent = call.state === "offered" ? `呼出中 / Ringing ${call.offered_to.join(", ")}` : `${call.position} 番目 / #${call.position}`;
    order.push(row);
  }
  for (const stale of rows.values()) stale.remove();
  order.forEach((row, index) => { if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null); });
  if (!calls.length) body.append(el("tr", { class: "empty" }, el("td", { colspan: "4", class: "muted" }, "待ち呼なし / No waiting calls")));
  $("call-actions").hidden = !controls;
  $("take-by").replaceChildren(...board.operators.filter((o) => ["available", "away", "wrap_up"].includes(o.state))
    .map((o) => option(o.id, `${o.name}（${STATE_LABELS[o.state]}）`)));
  showSelected();
}

function selectedCall() {
  return document.querySelector("#waiting input[name=waiting-call]:checked")?.value || null;
}

function showSelected() {
  const call = selectedCall();
  text("selected-call", call ? document.querySelector(`#waiting tr[data-call="${CSS.escape(call)}"] td:nth-child(2)`)?.textContent || call : "未選択 / None");
  $("move").disabled = !call;
  $("take").disabled = !call || !$("take-by").options.length;
}

function stateControls(operator) {
  const choose = el("select", { "aria-label": `${operator.id} の状態 / State of ${operator.id}`, class: "force-state" },
    option("available", STATE_LABELS.available), option("away", STATE_LABELS.away),
    option("offline", STATE_LABELS.offline));
  return [choose, el("button", { type: "button", class: "force", onclick: () =>
    act(`/api/operators/${encodeURIComponent(operator.id)}/state`,
      { state: choose.value, reason: choose.value === "away" ? "supervisor" : "" }, "PUT") }, "変更 / Set")];
}

async function act(path, body, method = "POST") {
  try {
    await api(method, path, body);
    flash("floor-message", "実行しました / Done");
  } catch (error) {
    flash("floor-message", error.message, false);
  }
  await refresh();
}

function tick() {
  if (!board || $("floor-view").hidden) return;
  const passed = (performance.now() - readAt) / 1000;
  for (const cell of document.querySelectorAll("#floor-view td.wait[data-live='1']")) {
    cell.textContent = seconds(Number(cell.dataset.base) + passed);
  }
}

export function wireFloor() {
  $("hours-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const until = $("hours-until").value;
    await act("/api/calendar/override", { mode: $("hours-mode").value,
      until: until ? new Date(until).toISOString() : null }, "PUT");
  });
  $("incident-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { message_ja: $("incident-ja").value, message_en: $("incident-en").value,
      service: $("incident-service").value || null, priority_delta: Number($("incident-delta").value) };
    await act("/api/incident", body, "PUT");
  });
  $("incident-clear").addEventListener("click", () => act("/api/incident", undefined, "DELETE"));
  $("move").addEventListener("click", () => {
    const call = selectedCall();
    if (call) act(`/api/calls/${encodeURIComponent(call)}/move`, { service: $("move-to").value });
  });
  $("take").addEventListener("click", () => {
    const call = selectedCall();
    if (call) act(`/api/calls/${encodeURIComponent(call)}/take`, { operator_id: $("take-by").value });
  });
}
