// Records (supervisor, manager, admin): search tickets with every filter, page with a cursor,
// open one with its call timeline and escalations, export the filtered list; the audit log (admin).
import {
  $, ESCALATION_STATUS_LABELS, TICKET_STATUS_LABELS, api, el, localTime, option, serviceName,
  services, shortName, text,
} from "./api.js";

const OUTCOMES = {
  answered: "応答 / Answered", abandoned_ivr: "メニューで切断 / Hung up in menu",
  abandoned_queue: "待ち中に切断 / Abandoned in queue", after_hours: "時間外 / After hours",
  callback_requested: "折返し依頼 / Callback", deflected: "案内で終了 / Deflected",
  refused: "受付不可（混雑） / Refused (busy)",
};
const TIMELINE_LABELS = {
  offered: "着信 / Call in", after_hours: "時間外 / After hours", service_selected: "サービス選択 / Service chosen",
  queued: "待ち / Queued", moved: "移動 / Moved", operator_offered: "呼出 / Ringing operator",
  operator_missed: "不応答 / Not answered", connected: "応答 / Connected", overflowed: "オーバーフロー / Overflow",
  callback_requested: "折返し依頼 / Callback", incident_message: "障害案内 / Incident notice", ended: "終了 / Ended",
};
let cursors = [];
let lastQuery = "";

export function startRecords(who, operators) {
  $("rec-service").replaceChildren(option("", "すべて / All"), ...Object.keys(services).map((id) => option(id, shortName(id))));
  $("rec-status").replaceChildren(option("", "すべて / All"), ...Object.entries(TICKET_STATUS_LABELS).map(([v, l]) => option(v, l)));
  $("rec-outcome").replaceChildren(option("", "すべて / All"), ...Object.entries(OUTCOMES).map(([v, l]) => option(v, l)));
  $("rec-operator").replaceChildren(option("", "すべて / All"), ...operators.map((o) => option(o.id, `${o.name}（${o.id}）`)));
  $("audit-section").hidden = who.role !== "admin";
}

function filterParams() {
  const params = new URLSearchParams();
  const day = (value, next) => {
    const at = new Date(`${value}T00:00:00+09:00`);
    if (next) at.setUTCDate(at.getUTCDate() + 1);
    return at.toISOString();
  };
  if ($("rec-since").value) params.set("since", day($("rec-since").value, false));
  if ($("rec-until").value) params.set("until", day($("rec-until").value, true));
  for (const [name, id] of [["service", "rec-service"], ["category", "rec-category"], ["status", "rec-status"],
    ["outcome", "rec-outcome"], ["operator", "rec-operator"], ["escalation_target", "rec-target"], ["q", "rec-q"]]) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

async function search(cursor) {
  const params = filterParams();
  lastQuery = params.toString();
  params.set("limit", "25");
  if (cursor) params.set("cursor", cursor);
  try {
    const page = await api("GET", `/api/records?${params}`);
    text("rec-total", `${page.total} 件 / tickets`);
    text("rec-message", "");
    $("rec-results").tBodies[0].replaceChildren(...page.tickets.map((t) => el("tr", { dataset: { ticket: t.id } },
      el("td", {}, el("button", { type: "button", class: "link", onclick: () => openTicket(t.id) }, t.reference)),
      el("td", {}, localTime(t.received_at)), el("td", {}, shortName(t.service)), el("td", {}, t.category || "—"),
      el("td", {}, TICKET_STATUS_LABELS[t.status] || t.status), el("td", {}, OUTCOMES[t.outcome] || t.outcome || "—"),
      el("td", {}, t.operator || "—"), el("td", { class: "excerpt" }, (t.summary || "").slice(0, 60)))));
    $("rec-next").disabled = !page.next_cursor;
    $("rec-next").dataset.cursor = page.next_cursor || "";
    $("rec-prev").disabled = cursors.length === 0;
    for (const kind of ["csv", "xlsx"]) $(`rec-export-${kind}`).href = `/api/records/export?format=${kind}&${lastQuery}`;
    $("rec-exports").hidden = false;
  } catch (error) {
    text("rec-message", error.message);
  }
}

async function openTicket(id) {
  const [ticket, escalations] = await Promise.all([
    api("GET", `/api/tickets/${id}`), api("GET", `/api/escalations?ticket=${id}`)]);
  $("rec-detail").hidden = false;
  text("rec-detail-title", `${ticket.reference} ${serviceName(ticket.service)}`);
  $("rec-detail-fields").replaceChildren(...[
    ["受付 / Received", localTime(ticket.received_at)], ["状態 / Status", TICKET_STATUS_LABELS[ticket.status] || ticket.status],
    ["結果 / Outcome", OUTCOMES[ticket.outcome] || ticket.outcome || "—"], ["分類 / Category", ticket.category || "—"],
    ["担当 / Operator", ticket.operator || "—"], ["待ち / Wait", ticket.wait_seconds === null ? "—" : `${Math.round(ticket.wait_seconds)}秒`],
    ["通話 / Talk", ticket.talk_seconds === null ? "—" : `${Math.round(ticket.talk_seconds)}秒`],
    ["内容 / Summary", ticket.summary || "—"], ["回答 / Answer", ticket.answer || "—"],
  ].flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("rec-timeline").replaceChildren(...ticket.timeline.map((e) => el("li", {},
    `${localTime(e.at)} ${TIMELINE_LABELS[e.kind] || e.kind}${e.data.operator_id ? ` ${e.data.operator_id}` : ""}${e.data.service ? ` ${shortName(e.data.service)}` : ""}`)));
  $("rec-escalations").replaceChildren(...escalations.escalations.map((e) => el("li", { class: e.overdue ? "overdue" : "" },
    `${e.reference} → ${e.contact_name || e.target}: ${ESCALATION_STATUS_LABELS[e.status] || e.status}${e.overdue ? " ⚠ 期限超過 / Overdue" : ""}`,
    e.answer ? el("p", { class: "answer" }, `${localTime(e.answered_at)} ${e.answer}`) : null)));
  if (!escalations.escalations.length) $("rec-escalations").append(el("li", { class: "muted" }, "なし / None"));
  $("rec-detail").scrollIntoView({ block: "nearest" });
}

let auditBefore = null;
async function loadAudit(more) {
  const params = new URLSearchParams({ limit: "50" });
  if ($("audit-actor").value.trim()) params.set("actor", $("audit-actor").value.trim());
  if ($("audit-action").value.trim()) params.set("action", $("audit-action").value.trim());
  if (more && auditBefore) params.set("before", auditBefore);
  const page = await api("GET", `/api/audit?${params}`);
  auditBefore = page.next_before;
  const rows = page.entries.map((e) => el("tr", {}, el("td", {}, localTime(e.at)), el("td", {}, `${e.actor}（${e.role}）`),
    el("td", {}, e.action), el("td", {}, e.target), el("td", { class: "excerpt" }, JSON.stringify(e.detail).slice(0, 120))));
  if (more) $("audit-log").tBodies[0].append(...rows); else $("audit-log").tBodies[0].replaceChildren(...rows);
  text("audit-total", `${page.total} 件 / entries`);
  $("audit-more").disabled = !page.next_before;
}

export function wireRecords() {
  $("rec-form").addEventListener("submit", (event) => { event.preventDefault(); cursors = []; search(null); });
  $("rec-next").addEventListener("click", () => {
    cursors.push($("rec-next").dataset.prev || "");
    const next = $("rec-next").dataset.cursor;
    $("rec-next").dataset.prev = next;
    search(next);
  });
  $("rec-prev").addEventListener("click", () => {
    const previous = cursors.pop() || null;
    $("rec-next").dataset.prev = previous || "";
    search(previous);
  });
  $("audit-form").addEventListener("submit", (event) => { event.preventDefault(); loadAudit(false); });
  $("audit-more").addEventListener("click", () => loadAudit(true));
}
