// The web phone: drives the simulator's JSON API, and shows the SMS sent to its number as they
// arrive (a long poll on /sim/sms). Every text from the app is written with textContent, never
// parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let serviceCode = "*789#";
let sessionId = null;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({ error: "HTTP " + response.status }));
  if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
  return data;
}

function setOpen(open) {
  $("send").disabled = !open;
  $("cancel").disabled = !open;
  $("dial").disabled = open;
  $("entry").value = "";
  $("entry").placeholder = open ? "Your answer" : `Code, e.g. ${serviceCode}`;
  if (!open) sessionId = null;
}

function showWarnings(violations) {
  const list = $("warnings");
  list.replaceChildren();
  if (!violations || violations.length === 0) list.append(el("li", "None."));
  for (const v of violations || []) list.append(el("li", (v.fatal ? "FATAL: " : "") + v.message, v.fatal ? "fatal" : ""));
}

function showScreen(screen, session) {
  const check = screen.check ? ` · ${screen.check.chars} chars ${screen.check.encoding}` : "";
  $("screen-status").textContent = `${screen.kind} · hop ${screen.hop}${check}`;
  $("screen-text").textContent = screen.text;
  const warnings = screen.violations.slice();
  if (screen.duplicate) {
    warnings.push({ fatal: false, message: "Duplicate delivery: second answer " +
      (screen.duplicate.identical ? "identical" : "DIFFERENT: " + screen.duplicate.secondAnswer) });
  }
  showWarnings(warnings);
  sessionId = session.id;
  setOpen(session.open);
  if (screen.kind === "Con" && !session.open) $("screen-text").textContent += "\n\n(You hung up.)";
}

function showError(error) {
  $("screen-status").textContent = "Error";
  $("screen-text").textContent = error.message;
}

// "*789*1*2#" dials *789# with "1*2" pre-filled; the pre-fill field wins when set.
function prefillFrom(code) {
  const base = serviceCode.replace(/#$/, "");
  const dialled = code.replace(/#$/, "");
  if (dialled === base) return "";
  if (dialled.startsWith(base + "*")) return dialled.slice(base.length + 1);
  throw new Error(`This gateway only serves ${serviceCode}.`);
}

async function dial() {
  try {
    const prefill = $("prefill").value.trim() || prefillFrom($("entry").value.trim() || serviceCode);
    const step = await api("POST", "/api/sessions", {
      phone: $("phone").value.trim(),
      network: $("network").value,
      duplicateDelivery: $("duplicate").checked,
      extendedDial: prefill,
      abandon: $("abandon").checked,
    });
    showScreen(step.screen, step.session);
  } catch (error) {
    showError(error);
  }
  refreshSessions();
}

async function send() {
  if (!sessionId) return;
  try {
    const step = await api("POST", `/api/sessions/${encodeURIComponent(sessionId)}/input`, {
      input: $("entry").value,
      abandon: $("abandon").checked,
    });
    showScreen(step.screen, step.session);
  } catch (error) {
    showError(error);
    setOpen(false);
  }
  refreshSessions();
}

async function cancel() {
  if (!sessionId) return;
  try {
    await api("POST", `/api/sessions/${encodeURIComponent(sessionId)}/cancel`);
    $("screen-status").textContent = "Cancelled";
    $("screen-text").textContent = "You hung up.";
  } catch (error) {
    showError(error);
  }
  setOpen(false);
  refreshSessions();
}

function sessionView(s) {
  const box = el("details", undefined, "session");
  const status = s.open ? "open" : `${s.status} (${s.endReason})`;
  box.append(el("summary", `${s.startedAt} · ${s.phoneNumber} · ${s.networkCode} · ${status}`));
  box.append(el("p", `sessionId ${s.id} · serviceCode ${s.serviceCode} · input "${s.input}"`));
  const table = el("table");
  const head = el("tr");
  for (const h of ["#", "text", "HTTP", "ms", "answer"]) head.append(el("th", h));
  table.append(head);
  s.hops.forEach((hop, i) => {
    const row = el("tr");
    for (const cell of [i + 1, hop.text, hop.status ?? "-", hop.elapsedMs, hop.body ?? hop.screen.text]) {
      row.append(el("td", String(cell)));
    }
    table.append(row);
  });
  box.append(table);
  if (s.event) {
    const attempts = s.event.attempts.map((a) => a.status ?? a.error).join(", ");
    const line = `Notification ${s.event.event.status}: ${s.event.delivered ? "delivered" : "NOT delivered"} (attempts: ${attempts})`;
    box.append(el("p", line, s.event.delivered ? "" : "fatal"));
  }
  return box;
}

async function refreshSessions() {
  try {
    const sessions = await api("GET", "/api/sessions");
    const open = new Set([...document.querySelectorAll("#sessions details[open]")].map((d) => d.dataset.id));
    const views = sessions.map((s) => {
      const view = sessionView(s);
      view.dataset.id = s.id;
      if (open.has(s.id)) view.open = true;
      return view;
    });
    $("sessions").replaceChildren(...(views.length ? views : [el("p", "None yet.")]));
    const current = sessions.find((s) => s.id === sessionId);
    if (current && !current.open) setOpen(false);
  } catch (error) {
    $("sessions").replaceChildren(el("p", error.message, "fatal"));
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let inboxGeneration = 0;

function smsView(m, fresh) {
  const item = el("li", undefined, fresh ? "sms new" : "sms");
  item.dataset.seq = String(m.seq);
  const when = m.receivedAt.replace("T", " ").replace(/\.\d+Z$/, " UTC");
  item.append(el("p", `From ${m.from || "AFRICASTKNG"} · ${when}`, "sms-meta"));
  item.append(el("p", m.message, "sms-text"));
  item.append(el("p", `${m.parts} part(s) · ${m.chars} chars ${m.encoding} · ${m.cost}`, "sms-meta"));
  if (fresh) setTimeout(() => item.classList.remove("new"), 5000);
  return item;
}

function announce(count) {
  const alert = $("sms-alert");
  alert.textContent = count === 1 ? "New SMS" : `${count} new SMS`;
  alert.hidden = false;
  setTimeout(() => { alert.hidden = true; }, 5000);
}

// Follows the inbox of the number in the Phone number field until it changes: the first request
// lists what is there, each next one waits on the server for a newer message.
async function watchInbox() {
  const generation = ++inboxGeneration;
  const number = $("phone").value.trim();
  const list = $("inbox");
  $("inbox-number").textContent = number;
  list.replaceChildren(el("li", "No messages yet.", "empty"));
  let after = 0;
  let first = true;
  while (generation === inboxGeneration) {
    try {
      const query = `number=${encodeURIComponent(number)}&after=${after}&waitSecs=${first ? 0 : 25}`;
      const messages = await api("GET", `/sim/sms?${query}`);
      if (generation !== inboxGeneration) return;
      for (const m of messages) after = Math.max(after, m.seq);
      const delivered = messages.filter((m) => m.delivered);
      if (delivered.length) {
        const empty = list.querySelector(".empty");
        if (empty) empty.remove();
        for (const m of delivered) list.prepend(smsView(m, !first));
        if (!first) announce(delivered.length);
      }
      first = false;
    } catch (error) {
      if (generation !== inboxGeneration) return;
      list.replaceChildren(el("li", `Inbox unavailable: ${error.message}`, "empty fatal"));
      await sleep(3000);
      first = true;
      after = 0;
    }
  }
}

function press(key) {
  if (sessionId && key === "#") return send();
  $("entry").value += key;
}

async function start() {
  try {
    const config = await api("GET", "/api/config");
    serviceCode = config.serviceCode;
    $("network").value = config.networkCode;
  } catch (error) {
    showError(error);
  }
  setOpen(false);
  $("keypad").addEventListener("click", (event) => {
    const key = event.target.dataset && event.target.dataset.key;
    if (key) press(key);
  });
  $("dial").addEventListener("click", dial);
  $("send").addEventListener("click", send);
  $("cancel").addEventListener("click", cancel);
  $("clear").addEventListener("click", () => { $("entry").value = ""; });
  $("entry").addEventListener("keydown", (event) => {
    if (event.key === "Enter") sessionId ? send() : dial();
  });
  $("phone").addEventListener("change", watchInbox);
  refreshSessions();
  setInterval(refreshSessions, 3000);
  watchInbox();
}

document.addEventListener("DOMContentLoaded", start);
