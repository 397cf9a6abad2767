// Escalations (open / answered / overdue) and knowledge articles (list, edit with versions,
// promote a resolved ticket) for supervisors, managers and admins; the monthly report download.
import {
  $, ESCALATION_STATUS_LABELS, api, el, flash, localTime, option, services, shortName, text,
} from "./api.js";

let me = null;
let article = null;

export function startLibrary(who) {
  me = who;
  const editor = ["supervisor", "admin"].includes(me.role);
  for (const node of document.querySelectorAll(".knowledge-editor")) node.hidden = !editor;
  $("kb-list-service").replaceChildren(option("", "すべて / All"), ...Object.keys(services).map((id) => option(id, shortName(id))));
  $("kb-edit-service").replaceChildren(...Object.keys(services).map((id) => option(id, shortName(id))));
  const month = new Date(Date.now() - 86400000 * 28).toISOString().slice(0, 7);
  $("report-month").value = month;
  updateReportLink();
}

async function loadEscalations() {
  const which = $("esc-filter").value;
  const params = new URLSearchParams({ limit: "200" });
  if (which === "answered") params.set("status", "answered");
  if (which === "overdue") params.set("overdue", "true");
  const found = await api("GET", `/api/escalations?${params}`);
  const list = which === "open" ? found.escalations.filter((e) => e.status !== "answered") : found.escalations;
  text("esc-count", `${list.length} 件`);
  $("esc-table").tBodies[0].replaceChildren(...list.map((e) => el("tr", { class: e.overdue ? "overdue" : "" },
    el("td", {}, e.reference), el("td", {}, e.ticket_reference), el("td", {}, e.contact_name || e.target),
    el("td", {}, ESCALATION_STATUS_LABELS[e.status] || e.status), el("td", {}, localTime(e.created_at)),
    el("td", {}, e.due_at ? localTime(e.due_at) : "—"),
    el("td", {}, `${e.business_age_s === null ? "—" : `${(e.business_age_s / 3600).toFixed(1)} 時間 / h`}${e.overdue ? " ⚠ 期限超過 / Overdue" : ""}`),
    el("td", { class: "excerpt" }, e.answer || e.last_error || ""))));
}

async function loadArticles() {
  const service = $("kb-list-service").value;
  const found = await api("GET", `/api/knowledge${service ? `?service=${service}` : ""}`);
  $("kb-articles").replaceChildren(...found.articles.map((a) => el("li", {},
    el("button", { type: "button", class: "link", onclick: () => openArticle(a.id) }, `${a.title}`),
    el("span", { class: "muted" }, ` ${shortName(a.service)} v${a.version}`))));
  if (!found.articles.length) $("kb-articles").append(el("li", { class: "muted" }, "なし / None"));
}

async function openArticle(id) {
  article = await api("GET", `/api/knowledge/${id}`);
  $("kb-editor").hidden = false;
  text("kb-editor-title", `${article.title}（v${article.version}）`);
  $("kb-edit-service").value = article.service;
  $("kb-edit-title").value = article.title;
  $("kb-edit-question").value = article.question;
  $("kb-edit-answer").value = article.answer;
  $("kb-versions").replaceChildren(...article.versions.map((v) => el("li", {},
    `v${v.version} ${localTime(v.edited_at)} ${v.edited_by}: ${v.title}`)));
}

async function saveArticle(event) {
  event.preventDefault();
  const body = { title: $("kb-edit-title").value, question: $("kb-edit-question").value,
    answer: $("kb-edit-answer").value };
  try {
    if (article) {
      const saved = await api("PUT", `/api/knowledge/${article.id}`, { ...body, version: article.version });
      await openArticle(saved.id ?? article.id);
    } else {
      const made = await api("POST", "/api/knowledge", { ...body, service: $("kb-edit-service").value });
      await openArticle(made.id);
    }
    flash("kb-message", "保存しました / Saved");
    await loadArticles();
  } catch (error) {
    flash("kb-message", error.message, false);
  }
}

async function promote(event) {
  event.preventDefault();
  try {
    const made = await api("POST", "/api/knowledge", { ticket_id: Number($("kb-promote-ticket").value) });
    flash("kb-message", "チケットから記事を作りました / Article made from the ticket");
    await openArticle(made.id);
    await loadArticles();
  } catch (error) {
    flash("kb-message", error.message, false);
  }
}

function updateReportLink() {
  const month = $("report-month").value;
  const format = $("report-format").value;
  $("report-link").href = `/api/reports/monthly?month=${encodeURIComponent(month)}&format=${format}`;
  text("report-link", `${month} 月報 / Monthly report (${format})`);
}

export function wireLibrary() {
  $("esc-form").addEventListener("submit", (event) => { event.preventDefault(); loadEscalations(); });
  $("kb-list-form").addEventListener("submit", (event) => { event.preventDefault(); loadArticles(); });
  $("kb-edit-form").addEventListener("submit", saveArticle);
  $("kb-new").addEventListener("click", () => {
    article = null;
    $("kb-editor").hidden = false;
    text("kb-editor-title", "新しい記事 / New article");
    for (const id of ["kb-edit-title", "kb-edit-question", "kb-edit-answer"]) $(id).value = "";
    $("kb-versions").replaceChildren();
  });
  $("kb-promote-form").addEventListener("submit", promote);
  $("report-month").addEventListener("change", updateReportLink);
  $("report-format").addEventListener("change", updateReportLink);
}

export function showLibrary() { loadEscalations().catch(() => null); loadArticles().catch(() => null); }
