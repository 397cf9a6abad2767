// Admin: which console user works as which configured operator, and what is wrong with it.
import { $, api, el, flash, option } from "./api.js";

export async function loadAdmin() {
  const data = await api("GET", "/api/users");
  $("admin-problems").replaceChildren(...data.problems.map((p) => el("li", { class: "alert" }, p.message)));
  if (!data.problems.length) $("admin-problems").append(el("li", { class: "ok" }, "問題なし / No problems"));
  $("admin-users").tBodies[0].replaceChildren(...data.users.map((u) => {
    const choose = el("select", { "aria-label": `${u.username} のオペレーター / Operator of ${u.username}`, class: "bind-to" },
      option("", "なし / None", !u.operator_id),
      ...data.operators.map((o) => option(o.id, `${o.id} ${o.name}`, o.id === u.operator_id)));
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
}
