// Admin: which console user works as which operator, and what is wrong with it; the operators
// themselves (added, re-skilled, renamed, deactivated) with routing following at once.
import { $, api, el, flash, option, services, shortName } from "./api.js";

const LEVELS = ["1", "2", "3", "4", "5"];

function levelChoice(label, current) {
  return el("select", { class: "level", "aria-label": label },
    option("", "—", !current), ...LEVELS.map((n) => option(n, n, String(current ?? "") === n)));
}

function chosenSkills(selects) {
  const skills = {};
  for (const [service, select] of Object.entries(selects)) if (select.value) skills[service] = Number(select.value);
  return skills;
}

function sameSkills(a, b) {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}

function operatorRow(o) {
  const name = el("input", { class: "name", value: o.name, maxlength: "64", "aria-label": `${o.id} の表示名 / Name of ${o.id}` });
  const uri = el("input", { class: "uri", value: o.uri, maxlength: "255", "aria-label": `${o.id} の電話 / Phone of ${o.id}` });
  const selects = {};
  for (const id of Object.keys(services)) {
    selects[id] = levelChoice(`${o.id} の ${shortName(id)} 習熟度 / ${o.id} proficiency for ${id}`, o.skills[id]);
  }
  const active = el("input", { type: "checkbox", class: "active", checked: o.active, "aria-label": `${o.id} 有効 / ${o.id} active` });
  const save = async () => {
    const change = {};
    if (name.value.trim() !== o.name) change.name = name.value;
    if (uri.value !== o.uri) change.uri = uri.value;
    const skills = chosenSkills(selects);
    if (!sameSkills(skills, o.skills)) change.skills = skills;
    if (active.checked !== o.active) change.active = active.checked;
    if (!Object.keys(change).length) { flash("roster-message", `${o.id}: 変更はありません / No change`); return; }
    try {
      await api("PATCH", `/api/operators/${encodeURIComponent(o.id)}`, change);
      flash("roster-message", `${o.id}: 保存しました（すぐに反映） / Saved, in effect now`);
    } catch (error) {
      flash("roster-message", `${o.id}: ${error.message}`, false);
    }
    await loadAdmin();
  };
  return el("tr", { dataset: { operator: o.id }, class: o.active ? "" : "inactive" },
    el("th", { scope: "row" }, o.id, o.source === "admin" ? el("small", { class: "muted" }, " (管理画面)") : null),
    el("td", {}, name), el("td", {}, uri),
    ...Object.values(selects).map((s) => el("td", {}, s)),
    el("td", {}, el("label", { class: "inline" }, active, o.active ? "有効" : "無効")),
    el("td", {}, el("button", { type: "button", class: "save", onclick: save }, "保存 / Save")));
}

function fillAddForm() {
  const box = $("operator-add-skills");
  if (box.dataset.filled) return;
  box.dataset.filled = "1";
  for (const id of Object.keys(services)) {
    box.append(el("label", { dataset: { service: id } }, shortName(id),
      levelChoice(`追加: ${shortName(id)} 習熟度 / New operator proficiency for ${id}`)));
  }
  $("operator-add").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const skills = {};
    for (const label of box.querySelectorAll("label[data-service]")) {
      const value = label.querySelector("select").value;
      if (value) skills[label.dataset.service] = Number(value);
    }
    try {
      const added = await api("POST", "/api/operators",
        { id: form.get("id"), name: form.get("name"), uri: form.get("uri"), skills });
      flash("roster-message", `${added.id}: 追加しました（すぐに着信を受けられます） / Added, takes calls now`);
      event.target.reset();
    } catch (error) {
      flash("roster-message", error.message, false);
    }
    await loadAdmin();
  });
}

export async function loadAdmin() {
  const data = await api("GET", "/api/users");
  const active = data.operators.filter((o) => o.active);
  $("admin-problems").replaceChildren(...data.problems.map((p) => el("li", { class: "alert" }, p.message)));
  if (!data.problems.length) $("admin-problems").append(el("li", { class: "ok" }, "問題なし / No problems"));
  $("admin-users").tBodies[0].replaceChildren(...data.users.map((u) => {
    const choose = el("select", { "aria-label": `${u.username} のオペレーター / Operator of ${u.username}`, class: "bind-to" },
      option("", "なし / None", !u.operator_id),
      ...active.map((o) => option(o.id, `${o.id} ${o.name}`, o.id === u.operator_id)));
    return el("tr", { dataset: { user: u.username } }, el("th", { scope: "row" }, u.username), el("td", {}, u.role),
      el("td", {}, choose),
      el("td", {}, el("button", { type: "button", class: "bind", onclick: async () => {
        try {
          await api("PUT", `/api/users/${encodeURIComponent(u.username)}/operator`, { operator_id: choose.value || null });
          flash("admin-message", `${u.username}: 保存しました / Saved`);
        } catch (error) {
          flash("admin-message", error.message, false);
        }
        await loadAdmin();
      } }, "保存 / Save")));
  }));
  const head = $("admin-operators").tHead.rows[0];
  head.replaceChildren(...["ID", "表示名 / Name", "電話 / Phone (SIP URI)", ...Object.keys(services).map(shortName),
    "状態 / Active", "操作 / Action"].map((label) => el("th", { scope: "col" }, label)));
  $("admin-operators").tBodies[0].replaceChildren(...data.operators.map(operatorRow));
  fillAddForm();
}
