// The operator's desk: state in one click or key, the screen pop and the ticket form, restored
// from GET /api/me/desk on load, reconnect and late login; my open tickets and escalations;
// knowledge search; an optional incoming-call cue.
import {
  $, AWAY_REASONS, ESCALATION_STATUS_LABELS, TICKET_STATUS_LABELS, api, coalesced, el, flash, localTime,
  option, seconds, serviceName, services, stateLabel, text,
} from "./api.js";

let me = null;
let ticket = null;
let desk = null;
let stateAt = 0; // performance.now() when desk.operator was read
let callId = null;

export function startDesk(who) {
  me = who;
  $("desk-view").hidden = false;
  $("away-reason").replaceChildren(...Object.entries(AWAY_REASONS)
    .filter(([code]) => !["missed_calls", "supervisor", "requested"].includes(code))
    .map(([code, label]) => option(code, label)));
  $("cue").checked = localStorage.getItem("cti.cue") === "on";
  setInterval(tick, 1000);
  setInterval(() => refreshDesk().catch(() => null), 15000); // a safety net; events drive the desk
  return refreshDesk();
}

export const refreshDesk = coalesced(readDesk);

async function readDesk() {
  desk = await api("GET", "/api/me/desk");
  stateAt = performance.now();
  $("unbound").hidden = desk.operator_id !== null;
  $("state-bar").hidden = desk.operator_id === null;
  renderState();
  if (desk.call) showPop(desk.call, false); else hidePop();
  if (desk.ticket_id && desk.ticket_id !== ticket?.id) await loadTicket(desk.ticket_id);
  if (!desk.ticket_id && !desk.call) hideTicketIfDone();
  renderOpenTickets(desk.open_tickets);
  await refreshEscalations();
}

function renderState() {
  const op = desk.operator;
  if (!op) return;
  text("my-state", stateLabel(op.state, op.reason) +
    (op.pending_state ? ` → ${stateLabel(op.pending_state, op.pending_reason)}` : ""));
  $("my-state").dataset.state = op.state;
  for (const button of document.querySelectorAll("#state-bar [data-go]")) {
    button.setAttribute("aria-pressed", String(button.dataset.go === op.state));
  }
  $("wrap-up").hidden = op.state !== "wrap_up";
  const idle = op.state !== "on_call" && op.state !== "reserved" && !desk.call && !ticket;
  $("idle-note").hidden = !idle;
  text("idle-note", op.state === "available"
    ? "受付可：着信を待っています / Available: waiting for a call"
    : "受付可にすると着信を受けます（F2） / Set Available (F2) to receive calls");
  tick();
}

function tick() {
  const op = desk?.operator;
  if (!op) return;
  const passed = (performance.now() - stateAt) / 1000;
  text("state-clock", op.in_state_s === null ? "" : seconds(op.in_state_s + passed));
  if (op.state === "wrap_up" && op.wrap_up_left_s !== null) {
    text("wrap-left", seconds(op.wrap_up_left_s - passed));
  }
}

async function setState(state) {
  if (!desk?.operator_id) return;
  const body = { state, reason: state === "away" ? $("away-reason").value : "" };
  try {
    await api("PUT", `/api/operators/${encodeURIComponent(desk.operator_id)}/state`, body);
    flash("state-message", "");
  } catch (error) {
    flash("state-message", error.message, false);
  }
  await refreshDesk();
}

async function extendWrapUp() {
  if (desk?.operator?.state !== "wrap_up") return;
  try {
    await api("POST", `/api/operators/${encodeURIComponent(desk.operator_id)}/wrap-up/extend`);
    flash("state-message", "後処理を延長しました / Wrap-up extended");
    $("extend").disabled = true;
  } catch (error) {
    flash("state-message", error.status === 409
      ? "延長は1通話につき1回です / Only one extension per call" : error.message, false);
  }
  await refreshDesk();
}

export function onDeskEvent(event) {
  switch (event.type) {
    case "screen_pop":
      showPop(event, true);
      return refreshDesk();
    case "ticket_ready": return loadTicket(event.ticket_id).then(refreshDesk);
    case "my_state":
      if (event.new !== "wrap_up") $("extend").disabled = false;
      return refreshDesk();
    case "escalation_answered":
    case "escalation_overdue":
      if (ticket && event.ticket_id === ticket.id) return loadTicket(ticket.id).then(refreshEscalations);
      return refreshEscalations();
    default: return null;
  }
}

function showPop(pop, fresh) {
  $("call").hidden = false;
  text("call-service", serviceName(pop.service));
  text("call-caller", pop.caller || "非通知 / Withheld");
  text("call-waited", seconds(pop.waited_s));
  text("call-state", pop.connected ? "通話中 / Connected" : "呼出中 / Ringing");
  if (pop.call_id !== callId) {
    callId = pop.call_id;
    text("call-ticket", "…");
    $("history").replaceChildren();
    if (fresh) cue(pop);
  }
}

function hidePop() {
  $("call").hidden = true;
  callId = null;
}

function hideTicketIfDone() {
  if (ticket && !["new", "in_progress", "reopened", "callback_requested"].includes(ticket.status)) return;
  if (ticket && desk.open_tickets.some((t) => t.id === ticket.id)) return;
  if (!ticket) $("ticket").hidden = true;
}

function cue(pop) {
  if (!$("cue").checked) return;
  try {
    const audio = new AudioContext();
    for (const [at, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = freq;
      gain.gain.value = 0.15;
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + at);
      tone.stop(audio.currentTime + at + 0.18);
    }
  } catch { /* no audio device: the notification and the screen still show the call */ }
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification("着信 / Incoming call", { body: `${serviceName(pop.service)} ${pop.caller || ""}`, tag: "cti-call" });
  }
}

export async function loadTicket(id) {
  const shown = ticket?.id === id ? ticket : null; // a reload of the ticket on screen
  ticket = await api("GET", `/api/tickets/${id}`);
  // A reload (the ticket became ready after the pop, an escalation was answered) keeps what
  // the operator has typed and not saved yet; only fields still as loaded take the new value.
  const typed = (field) => shown !== null && $(field).value !== (shown[field] || "");
  const keepSummary = typed("summary");
  const keepAnswer = typed("answer");
  const keepCategory = typed("category");
  text("call-ticket", ticket.reference);
  text("ticket-ref", ticket.reference);
  $("ticket").hidden = false;
  $("idle-note").hidden = true;
  const categories = services[ticket.service]?.categories || [];
  const category = keepCategory ? $("category").value : ticket.category || "";
  $("category").replaceChildren(...["", ...categories].map((c) => option(c, c || "—")));
  $("category").value = category;
  if (!keepSummary) $("summary").value = ticket.summary;
  if (!keepAnswer) $("answer").value = ticket.answer;
  $("status").replaceChildren(...statusChoices(ticket.status).map((s) =>
    option(s, TICKET_STATUS_LABELS[s] || s, s === ticket.status)));
  if (keepSummary) {
    await showPreview();
  } else {
    kept.clear();
    showKept();
    text("preview", ticket.summary);
  }
  text("saved", "");
  const related = await api("GET", `/api/tickets/${id}/related`).catch(() => ({ tickets: [] }));
  $("history").replaceChildren(...related.tickets.map((t) => el("li", {},
    `${t.received_at.slice(0, 10)} ${serviceName(t.service)} ${t.summary || "（要約なし / no summary）"}`)));
  if (!related.tickets.length) $("history").append(el("li", { class: "muted" }, "なし / None"));
  await suggest(ticket.summary);
}

function statusChoices(current) {
  const next = {
    new: ["in_progress", "resolved", "closed", "callback_requested"],
    callback_requested: ["in_progress", "resolved", "closed"],
    in_progress: ["resolved", "closed"], escalated: ["in_progress", "resolved"],
    resolved: ["closed", "reopened"], closed: ["reopened"],
    reopened: ["in_progress", "resolved", "closed"],
  };
  return [current, ...(next[current] || [])];
}

let typing = null;
function onSummaryInput() {
  clearTimeout(typing);
  typing = setTimeout(async () => {
    await showPreview();
    await suggest($("summary").value);
  }, 250);
}

// Words the operator marked "not personal data" in the preview for this ticket: sent with every
// preview and save (the server refuses them for phone, mail, My Number and card, and audits them).
const kept = new Set();

async function showPreview() {
  const value = $("summary").value;
  if (!value) { text("preview", ""); return; }
  let result;
  try {
    result = await api("POST", "/api/redact", { text: value, keep: [...kept] });
  } catch (error) {
    flash("kept-message", error.message, false);
    return;
  }
  const chars = Array.from(value); // the server's offsets count code points
  const parts = [];
  let at = 0;
  for (const found of result.found) {
    parts.push(chars.slice(at, found.start).join(""));
    parts.push(found.keepable
      ? el("button", { type: "button", class: "masked", dataset: { word: found.word },
        title: "個人情報ではない（伏せ字にしない） / Not personal data: keep",
        "aria-label": `${found.mask}「${found.word}」: 個人情報ではない（伏せ字にしない） / Not personal data: keep`,
        onclick: () => keepWord(found.word) }, found.mask)
      : el("span", { class: "masked never" }, found.mask));
    at = found.end;
  }
  parts.push(chars.slice(at).join(""));
  $("preview").replaceChildren(...parts);
}

async function keepWord(word, keep = true) {
  if (keep) kept.add(word); else kept.delete(word);
  showKept();
  text("kept-message", "");
  await showPreview();
}

function showKept() {
  $("kept").hidden = kept.size === 0;
  $("kept-words").replaceChildren(...[...kept].map((word) => el("li", { dataset: { word } }, `「${word}」`,
    el("button", { type: "button", class: "link", "aria-label": `「${word}」を伏せ字に戻す / Mask ${word} again`,
      onclick: () => keepWord(word, false) }, "伏せ字に戻す / Mask again"))));
}

async function suggest(value) {
  if (!value || value.length < 2) { $("similar").replaceChildren(); return; }
  await searchInto("similar", value.slice(0, 500), ticket?.service);
}

async function searchInto(listId, query, service) {
  const params = new URLSearchParams({ text: query, limit: "5" });
  if (service) params.set("service", service);
  const found = await api("GET", `/api/knowledge/similar?${params}`).catch(() => null);
  const items = found ? [...found.articles, ...found.tickets] : [];
  $(listId).replaceChildren(...items.slice(0, 6).map((a) => el("li", {},
    el("strong", {}, a.kind === "article" ? `［記事 / Article］${a.title}` : `［過去の対応 / Past］${a.title || ""}`),
    el("span", { class: "answer" }, a.answer || ""))));
  if (!items.length) $(listId).append(el("li", { class: "muted" }, "該当なし / Nothing similar"));
}

async function saveTicket(event) {
  event?.preventDefault();
  if (!ticket) return;
  const loaded = ticket;
  const body = { summary: $("summary").value, answer: $("answer").value, version: loaded.version };
  if (kept.size) body.keep = [...kept];
  if ($("category").value) body.category = $("category").value;
  if ($("status").value !== loaded.status) body.status = $("status").value;
  try {
    ticket = { ...loaded, ...(await patchTicket(loaded, body)) };
    $("status").replaceChildren(...statusChoices(ticket.status).map((s) =>
      option(s, TICKET_STATUS_LABELS[s] || s, s === ticket.status)));
    $("summary").value = ticket.summary;
    text("preview", ticket.summary);
    flash("saved", "保存しました / Saved");
    await refreshDesk();
  } catch (error) {
    flash("saved", error.status === 409
      ? "他の人が更新しました。再読込してください / Changed by someone else: reload" : error.message, false);
  }
}

// Call events (connected, ended...) also bump a ticket's version. When nobody else changed
// what the operator edits, save again on the current version instead of refusing.
async function patchTicket(loaded, body) {
  try {
    return await api("PATCH", `/api/tickets/${loaded.id}`, body);
  } catch (error) {
    if (error.status !== 409) throw error;
    const fresh = await api("GET", `/api/tickets/${loaded.id}`);
    const untouched = ["summary", "answer", "category"].every((k) => fresh[k] === loaded[k]);
    if (!untouched) throw error;
    const retry = { ...body, version: fresh.version };
    if (retry.status === fresh.status) delete retry.status;
    return api("PATCH", `/api/tickets/${loaded.id}`, retry);
  }
}

async function escalate() {
  if (!ticket) return;
  try {
    const opened = await api("POST", `/api/tickets/${ticket.id}/escalations`,
      { target: $("escalate-target").value, note: $("escalate-note").value });
    flash("saved", `エスカレーションしました / Escalated: ${opened.reference}`);
    $("escalate-note").value = "";
    await loadTicket(ticket.id);
    await refreshEscalations();
  } catch (error) {
    flash("saved", error.message, false);
  }
}

function renderOpenTickets(list) {
  $("my-tickets").replaceChildren(...list.map((t) => el("li", {},
    el("button", { type: "button", class: "link", onclick: () => loadTicket(t.id) },
      `${t.reference} ${serviceName(t.service)}`),
    el("span", { class: "muted" }, ` ${TICKET_STATUS_LABELS[t.status] || t.status} ${localTime(t.received_at)}`))));
  if (!list.length) $("my-tickets").append(el("li", { class: "muted" }, "なし / None"));
}

async function refreshEscalations() {
  const found = await api("GET", "/api/escalations?limit=50").catch(() => ({ escalations: [] }));
  const waiting = found.escalations.filter((e) => e.status !== "answered" || e.ticket_id === ticket?.id);
  $("my-escalations").replaceChildren(...waiting.map((e) => el("li", { class: e.overdue ? "overdue" : "" },
    el("button", { type: "button", class: "link", onclick: () => loadTicket(e.ticket_id) },
      `${e.ticket_reference} → ${e.contact_name || e.target}`),
    el("span", {}, ` ${ESCALATION_STATUS_LABELS[e.status] || e.status}${e.overdue ? " ⚠ 期限超過 / Overdue" : ""}`),
    e.answer ? el("p", { class: "answer" }, e.answer) : null)));
  if (!waiting.length) $("my-escalations").append(el("li", { class: "muted" }, "なし / None"));
}

function shortcut(event) {
  if ($("desk-view").hidden) return;
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
  if (event.key === "F2") { event.preventDefault(); setState("available"); }
  else if (event.key === "F3") { event.preventDefault(); setState("away"); }
  else if (event.key === "F4") { event.preventDefault(); extendWrapUp(); }
  else if (event.key === "F8") { event.preventDefault(); setState("offline"); }
  else if ((event.ctrlKey || event.metaKey) && event.key === "Enter") { event.preventDefault(); saveTicket(); }
  else if (event.key === "/" && !typing) { event.preventDefault(); $("kb-query").focus(); }
}

export function wireDesk() {
  $("go-available").addEventListener("click", () => setState("available"));
  $("go-away").addEventListener("click", () => setState("away"));
  $("go-offline").addEventListener("click", () => setState("offline"));
  $("extend").addEventListener("click", extendWrapUp);
  $("summary").addEventListener("input", onSummaryInput);
  $("ticket-form").addEventListener("submit", saveTicket);
  $("escalate").addEventListener("click", escalate);
  $("kb-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $("kb-query").value.trim();
    if (q) searchInto("kb-results", q, $("kb-service").value || undefined);
  });
  $("cue").addEventListener("change", async () => {
    localStorage.setItem("cti.cue", $("cue").checked ? "on" : "off");
    if ($("cue").checked && "Notification" in window && Notification.permission === "default") {
      await Notification.requestPermission();
    }
  });
  document.addEventListener("keydown", shortcut);
}

export function fillServiceChoices(list) {
  $("kb-service").replaceChildren(option("", "すべて / All"), ...list.map((s) => option(s.id, serviceName(s.id))));
}
