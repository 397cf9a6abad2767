// Renders /api/openapi.json for people: one card per route with roles, parameters and schemas.
import { el } from "./api.js";

const doc = await (await fetch("/api/openapi.json")).json();
document.getElementById("api-intro").textContent = `${doc.info.title} — OpenAPI ${doc.openapi}. ${doc.info.description}`;
const cards = [];
for (const [path, operations] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(operations)) {
    const roles = Array.isArray(op["x-roles"]) ? op["x-roles"].join(", ") : "公開 / public";
    const params = op.parameters.map((p) => el("li", {}, `${p.name} (${p.in}) ${JSON.stringify(p.schema)}`));
    const success = Object.keys(op.responses).find((code) => code.startsWith("2")) || "200";
    const ok = op.responses[success]?.content || {};
    cards.push(el("section", { class: "card", id: op.operationId },
      el("h2", {}, el("code", {}, `${method.toUpperCase()} ${path}`)),
      el("p", {}, `権限 / Roles: ${roles}`),
      el("p", {}, op.description),
      params.length ? el("ul", { class: "compact" }, ...params) : null,
      op.requestBody ? el("pre", { class: "preview" }, `request: ${JSON.stringify(op.requestBody.content["application/json"].schema, null, 1)}`) : null,
      el("pre", { class: "preview" }, `${success}: ${Object.entries(ok).map(([t, c]) => `${t} ${JSON.stringify(c.schema, null, 1)}`).join("\n") || "—"}`)));
  }
}
document.getElementById("api-routes").replaceChildren(...cards);
