// The helpdesk console shell: login, the views each role may open, the live event socket.
import { $, api, loadServices, text } from "./api.js";
import { fillServiceChoices, onDeskEvent, refreshDesk, startDesk, wireDesk } from "./desk.js";
import { onFloorEvent, startFloor, wireFloor } from "./floor.js";
import { loadAdmin } from "./admin.js";
import { showLibrary, startLibrary, wireLibrary } from "./library.js";
import { startRecords, wireRecords } from "./records.js";

const VIEWS = {
  desk: { roles: ["operator"], label: "受付 / Desk" },
  floor: { roles: ["supervisor", "manager", "admin"], label: "フロア / Floor" },
  records: { roles: ["supervisor", "manager", "admin"], label: "記録 / Records" },
  library: { roles: ["supervisor", "manager", "admin"], label: "エスカレーション・ナレッジ / Escalations & knowledge" },
  admin: { roles: ["admin"], label: "管理 / Admin" },
};
let me = null;
let allowed = [];
let connectedOnce = false;

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

function show(view) {
  for (const name of Object.keys(VIEWS)) {
    $(`${name}-view`).hidden = name !== view;
    $(`tab-${name}`)?.setAttribute("aria-current", name === view ? "page" : "false");
  }
  history.replaceState(null, "", `#${view}`);
  if (view === "library") showLibrary();
  if (view === "admin") loadAdmin().catch(() => null);
}

async function start(user, role) {
  me = { user, role };
  allowed = Object.keys(VIEWS).filter((name) => VIEWS[name].roles.includes(role));
  if (role !== "operator") { // a supervisor bound to an operator also takes calls
    const mine = await api("GET", "/api/me/desk").catch(() => null);
    if (mine?.operator_id) allowed.unshift("desk");
  }
  $("login-panel").hidden = true;
  $("who").hidden = false;
  text("user", `${user}（${role}）`);
  fillServiceChoices(await loadServices());
  $("tabs").replaceChildren(...allowed.map((name) => {
    const link = document.createElement("a");
    link.id = `tab-${name}`;
    link.href = `#${name}`;
    link.textContent = VIEWS[name].label;
    link.addEventListener("click", (event) => { event.preventDefault(); show(name); });
    return link;
  }));
  await showBanner();
  if (allowed.includes("desk")) await startDesk(me);
  if (allowed.includes("floor")) await startFloor(me);
  if (allowed.includes("records")) {
    const operators = await api("GET", "/api/operators");
    startRecords(me, operators.operators);
  }
  if (allowed.includes("library")) startLibrary(me);
  const wanted = location.hash.slice(1);
  show(allowed.includes(wanted) ? wanted : allowed[0]);
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
  const socket = new WebSocket(`${scheme}://${location.host}/api/events`);
  socket.onopen = () => {
    $("offline-note").hidden = true;
    document.body.dataset.live = "1";
    if (connectedOnce) resync(); // events may have been missed: rebuild from the server's state
    connectedOnce = true;
  };
  socket.onmessage = (message) => onEvent(JSON.parse(message.data));
  socket.onclose = () => {
    $("offline-note").hidden = false;
    document.body.dataset.live = "";
    setTimeout(() => { if (me) connect(); }, 2000);
  };
}

function resync() {
  if (allowed.includes("desk")) refreshDesk().catch(() => null);
  if (allowed.includes("floor")) onFloorEvent({ type: "resync" });
  showBanner().catch(() => null);
}

async function onEvent(event) {
  if (event.type === "incident" || event.type === "hours") await showBanner();
  if (allowed.includes("desk")) await onDeskEvent(event);
  if (allowed.includes("floor")) await onFloorEvent(event);
}

wireDesk();
wireFloor();
wireRecords();
wireLibrary();
api("GET", "/api/session").then((who) => start(who.user, who.role)).catch(() => null);
