// MBELYCO Promo — small progressive enhancements. Pages work without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Forms with data-confirm ask before submitting.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => {
      if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
    });
  });
  // The navigation collapses behind a Menu button on narrow screens.
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
});

// Job progress: a box follows its job until it is done, then the page reloads. The batch page's
// code generation (#generation, the jobs endpoint) and a reconciliation run (data-progress-url,
// whose answer carries the same `job` and `percent`) share this.
const followJob = (box, url, parts) => {
  const tick = async () => {
    try {
      const res = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
      if (res.ok) {
        const body = await res.json();
        const job = body.job || {};
        const p = Math.floor(body.percent || 0);
        if (parts.bar) parts.bar.value = p;
        if (parts.pct) parts.pct.textContent = String(p);
        if (parts.done) parts.done.textContent = String(job.progressDone || 0);
        if (parts.status && job.status) parts.status.textContent = job.status;
        if (job.status === "succeeded" || job.status === "dead" || job.status === "cancelled") {
          window.setTimeout(() => window.location.reload(), 600);
          return;
        }
      }
    } catch (e) { /* try again */ }
    window.setTimeout(tick, 1000);
  };
  if (!parts.status || parts.status.textContent !== "succeeded") window.setTimeout(tick, 500);
};
document.addEventListener("DOMContentLoaded", () => {
  const gen = document.getElementById("generation");
  if (gen) {
    followJob(gen, "/api/v1/admin/jobs/" + gen.dataset.job, {
      bar: document.getElementById("generation-progress"),
      pct: document.getElementById("generation-percent"),
      done: document.getElementById("generation-done"),
      status: document.getElementById("generation-status"),
    });
  }
  document.querySelectorAll("[data-progress-url]").forEach((box) => {
    followJob(box, box.dataset.progressUrl, {
      bar: box.querySelector("[data-role=bar]"),
      pct: box.querySelector("[data-role=percent]"),
      done: box.querySelector("[data-role=done]"),
      status: box.querySelector("[data-role=status]"),
    });
  });
});

// Code import: send the form to the API with XMLHttpRequest so the upload shows its progress,
// then open the import's summary. Without this, the form posts to the page and is redirected.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("code-import");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  const box = document.getElementById("import-progress");
  const bar = box.querySelector("progress");
  const text = document.getElementById("import-progress-text");
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.api);
    xhr.setRequestHeader("x-csrf-token", form.dataset.csrf);
    xhr.setRequestHeader("accept", "application/json");
    box.hidden = false;
    button.disabled = true;
    bar.value = 0;
    text.textContent = "Uploading…";
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const p = Math.floor((e.loaded * 100) / e.total);
      bar.value = p;
      text.textContent = "Uploading… " + p + " % (" + Math.round(e.loaded / 1024) + " of " + Math.round(e.total / 1024) + " KB)";
    };
    xhr.upload.onload = () => {
      bar.value = 100;
      text.textContent = "Uploaded; checking every line and importing…";
    };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (body && body.import && body.import.id) {
        window.location.assign("/admin/codes/import?import=" + encodeURIComponent(body.import.id));
        return;
      }
      button.disabled = false;
      const errs = body && Array.isArray(body.errors) ? body.errors.map((e) => e.field + ": " + e.message).join("; ") : "";
      text.textContent = "Not imported: " + (errs || (body && body.detail) || ("the server answered " + xhr.status));
    };
    xhr.onerror = () => {
      button.disabled = false;
      text.textContent = "The upload failed; check the connection and try again.";
    };
    xhr.send(new FormData(form));
  });
});

// Batches list: a "select all" box in the bulk form's header (the form works without it).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("bulk-batches");
  const cell = form && form.querySelector("thead th");
  if (!cell || !form.querySelector("input[name=ids]")) return;
  const all = document.createElement("input");
  all.type = "checkbox";
  all.setAttribute("aria-label", "Select every batch on this page");
  all.addEventListener("change", () => {
    form.querySelectorAll("input[name=ids]").forEach((box) => { box.checked = all.checked; });
  });
  cell.appendChild(all);
});

// Shared by the live tables below. `livePolling` runs `poll` every 3 s (or `every` ms) while the
// tab is visible (never two at once, at once again when the tab comes back) and says in `status`
// when it last succeeded or why it paused; `getJson` fetches a feed; `cell` appends a cell built
// with DOM APIs.
const livePolling = (poll, status, every) => {
  const wait = every || 3000;
  let timer = null;
  let running = false;
  const clock = () => new Date(Date.now() + 2 * 3600 * 1000).toISOString().slice(11, 19);
  const tick = async () => {
    timer = null;
    if (running) return;
    running = true;
    try {
      await poll();
      if (status) status.textContent = "Live: last checked " + clock() + " (Kigali).";
    } catch (e) {
      if (status) status.textContent = "Live updates paused (" + e.message + "); retrying.";
    }
    running = false;
    if (!document.hidden && !timer) timer = window.setTimeout(tick, wait);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      if (timer) window.clearTimeout(timer);
      timer = null;
    } else if (!timer && !running) {
      tick();
    }
  });
  timer = window.setTimeout(tick, wait);
};
const getJson = async (url) => {
  const res = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
  if (!res.ok) throw new Error("the server answered " + res.status);
  return res.json();
};
const cell = (tr, content, cls) => {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  if (content instanceof Node) td.appendChild(content); else td.textContent = content;
  tr.appendChild(td);
  return td;
};

// USSD monitor: tables with data-live poll their JSON endpoint every 3 s with the page's filters
// and the cursor of the previous answer (and the ids of the rows still open: a redemption whose
// payout is in flight comes back in `updates` and is replaced in place), refresh the last hour's
// counters and chart, and slot in the rows they do not hold yet, newest first
// (built with DOM APIs, never innerHTML). An answer may repeat rows the table holds (by data-id),
// and a row whose transaction committed late may be older than the newest shown: it goes in its
// place, by data-key. Polling pauses while the tab is hidden. Without this, the page is a plain
// filtered list.
document.addEventListener("DOMContentLoaded", () => {
  const tables = Array.from(document.querySelectorAll("table[data-live]"));
  if (!tables.length || !window.fetch) return;
  const status = document.getElementById("live-status");
  const kigali = (iso) => new Date(Date.parse(iso) + 2 * 3600 * 1000).toISOString().slice(0, 19).replace("T", " ");
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };
  const builders = {
    interactions: (h) => {
      const tr = document.createElement("tr");
      tr.dataset.id = String(h.id);
      tr.dataset.key = String(h.id);
      cell(tr, kigali(h.createdAt));
      cell(tr, h.phoneNumber);
      const a = el("a", h.sessionId);
      a.href = "/admin/ussd/sessions/" + encodeURIComponent(h.sessionId);
      cell(tr, a);
      cell(tr, el("code", h.input));
      cell(tr, h.response, "answer");
      cell(tr, el("span", h.outcome, "badge badge-" + h.outcome.replace(/[^a-z_]/g, "")));
      cell(tr, String(h.latencyMs));
      return tr;
    },
    redemptions: (r) => {
      const tr = document.createElement("tr");
      tr.dataset.id = r.id;
      tr.dataset.key = String(Date.parse(r.createdAt));
      if (r.open) tr.dataset.open = "1";
      cell(tr, kigali(r.createdAt));
      cell(tr, r.phoneNumber);
      cell(tr, el("code", r.code));
      // amounts and payout states come only to those who may see money
      if ("amount" in r) cell(tr, Number(r.amount).toLocaleString("en-US") + " " + r.currency);
      cell(tr, r.status);
      if ("amount" in r) cell(tr, r.disbursementStatus || "none");
      return tr;
    },
  };
  // the last hour's counters and outcome chart, from the status feed
  const counters = document.getElementById("count-hops") ? "/api/v1/ussd/status" : null;
  const svgNs = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs, text) => {
    const e = document.createElementNS(svgNs, tag);
    for (const k of Object.keys(attrs)) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const drawChart = (outcomes) => {
    const chart = document.getElementById("outcomes-chart");
    if (!chart) return;
    const left = Number(chart.dataset.barLeft || 140);
    const maxW = Number(chart.dataset.barMax || 320);
    const rowH = Number(chart.dataset.barRow || 20);
    const max = Math.max(1, ...outcomes.map((o) => Number(o.count)));
    const title = chart.querySelector("title");
    chart.replaceChildren(...(title ? [title] : []));
    outcomes.forEach((o, i) => {
      const y = i * rowH;
      const w = Math.max(1, Math.floor((Number(o.count) * maxW) / max));
      const kind = String(o.outcome).replace(/[^a-z_]/g, "");
      const g = svgEl("g", {});
      g.appendChild(svgEl("text", { class: "tick", x: left - 6, y: y + 14, "text-anchor": "end" }, kind));
      g.appendChild(svgEl("rect", { class: "bar badge-" + kind, x: left, y: y + 3, width: w, height: 14 }));
      g.appendChild(svgEl("text", { class: "tick", x: left + w + 6, y: y + 14 }, String(o.count)));
      chart.appendChild(g);
    });
    chart.setAttribute("viewBox", "0 0 " + (left + 380) + " " + Math.max(rowH, outcomes.length * rowH));
    chart.hidden = outcomes.length === 0;
  };
  const pollCounters = async () => {
    if (!counters) return;
    const body = await getJson(counters);
    const h = (body.data && body.data.lastHour) || {};
    const set = (id, v) => {
      const e = document.getElementById(id);
      if (e && e.textContent !== v) e.textContent = v;
    };
    set("count-hops", String(h.hops || 0));
    set("count-redemptions", String(h.redemptions || 0));
    set("count-refusals", String(h.refusals || 0));
    set("count-p95", h.latencyP95Ms == null ? "—" : Math.round(h.latencyP95Ms) + " ms");
    drawChart(Array.isArray(h.outcomes) ? h.outcomes : []);
  };
  const pollOne = async (table) => {
    const build = builders[table.id];
    if (!build) return;
    const q = table.dataset.query;
    const cursor = table.dataset.cursor;
    const tbody = table.tBodies[0];
    // rows whose state may still change (a payout in flight) are asked for again by id
    const open = Array.from(tbody.rows, (tr) => (tr.dataset.open === "1" ? tr.dataset.id : "")).filter(Boolean);
    const url = table.dataset.live + "?" + (q ? q + "&" : "") + (cursor ? "since=" + encodeURIComponent(cursor) : "")
      + (open.length ? "&ids=" + open.slice(0, 100).join(",") : "");
    const body = await getJson(url);
    const rows = Array.isArray(body.data) ? body.data : [];
    if (body.cursor) table.dataset.cursor = String(body.cursor);
    for (const row of Array.isArray(body.updates) ? body.updates : []) {
      const old = Array.from(tbody.rows).find((tr) => tr.dataset.id === String(row.id));
      if (!old) continue;
      const tr = build(row);
      if (tr.textContent !== old.textContent) {
        tr.className = "fresh";
        old.replaceWith(tr);
      } else if (tr.dataset.open !== "1") {
        delete old.dataset.open;
      }
    }
    const shown = new Set(Array.from(tbody.rows, (tr) => tr.dataset.id).filter(Boolean));
    const after = (a, b) => Number(a.dataset.key) > Number(b.dataset.key) || (a.dataset.key === b.dataset.key && a.dataset.id > b.dataset.id);
    for (const row of rows) {
      if (shown.has(String(row.id))) continue;
      const tr = build(row);
      shown.add(tr.dataset.id);
      tr.className = "fresh";
      const empty = tbody.querySelector("tr.empty");
      if (empty) empty.remove();
      // newest first: before the first row this one is newer than
      const next = Array.from(tbody.rows).find((other) => after(tr, other));
      tbody.insertBefore(tr, next || null);
    }
    const keep = Number(table.dataset.keep || 100);
    while (tbody.rows.length > keep) tbody.deleteRow(tbody.rows.length - 1);
  };
  livePolling(async () => {
    for (const t of tables) await pollOne(t);
    await pollCounters();
  }, status);
});

// Payouts list: every 3 s, ask what changed since the last answer (with the page's filters) and
// replace the rows it holds in place (highlighting a status change), and put payouts newer than
// the newest shown on top when the page lists newest first. Rows are built with DOM APIs, never
// innerHTML. Polling pauses while the tab is hidden. Without this, the page is a plain list.
document.addEventListener("DOMContentLoaded", () => {
  const table = document.querySelector("table[data-live-payouts]");
  if (!table || !window.fetch) return;
  const status = document.getElementById("payouts-live-status");
  const selectable = table.dataset.select === "1";
  const kigali = (iso) => new Date(Date.parse(iso) + 2 * 3600 * 1000).toISOString().slice(0, 16).replace("T", " ");
  const note = (p) => {
    if (p.errorCode && p.errorMessage) return p.errorCode + ": " + p.errorMessage;
    if (p.errorCode) return p.errorCode;
    if (p.heldReason) return "held: " + p.heldReason;
    return "";
  };
  const build = (p, checked) => {
    const tr = document.createElement("tr");
    tr.dataset.id = p.id;
    tr.dataset.status = p.status;
    tr.dataset.updated = p.updatedAt;
    tr.dataset.created = p.createdAt;
    if (selectable) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "ids";
      box.value = p.id;
      box.setAttribute("form", "bulk-retry");
      box.setAttribute("aria-label", "Select payout " + p.id);
      box.checked = !!checked;
      cell(tr, box);
    }
    const a = document.createElement("a");
    a.href = "/admin/disbursements/" + encodeURIComponent(p.id);
    a.textContent = kigali(p.createdAt);
    cell(tr, a);
    cell(tr, p.phoneNumber);
    cell(tr, Number(p.amount).toLocaleString("en-US") + " " + p.currency);
    const badge = document.createElement("span");
    badge.className = "badge badge-" + String(p.status).replace(/[^a-z_]/g, "");
    badge.textContent = p.status;
    cell(tr, badge);
    cell(tr, p.attempts + "/" + p.maxAttempts);
    cell(tr, p.momoTransactionId || "");
    cell(tr, p.batchNumber + " — " + p.batchName);
    cell(tr, note(p), "note");
    return tr;
  };
  livePolling(async () => {
    const q = table.dataset.query;
    const url = table.dataset.livePayouts + "?" + (q ? q + "&" : "") + "since=" + encodeURIComponent(table.dataset.cursor);
    const body = await getJson(url);
    const rows = Array.isArray(body.data) ? body.data : [];
    const tbody = table.tBodies[0];
    for (const p of rows) {
      const old = Array.from(tbody.rows).find((tr) => tr.dataset.id === p.id);
      if (old) {
        if (old.dataset.updated === p.updatedAt) continue;
        const box = old.querySelector("input[name=ids]");
        const tr = build(p, box && box.checked);
        if (old.dataset.status !== p.status) tr.className = "fresh";
        old.replaceWith(tr);
      } else if (table.dataset.prepend === "1" && Date.parse(p.createdAt) > Date.parse(table.dataset.newest)) {
        const empty = tbody.querySelector("tr.empty");
        if (empty) empty.remove();
        const tr = build(p, false);
        tr.className = "fresh";
        tbody.insertBefore(tr, tbody.firstChild);
      }
    }
    const newest = rows.reduce((m, p) => (Date.parse(p.createdAt) > Date.parse(m) ? p.createdAt : m), table.dataset.newest);
    if (table.dataset.prepend === "1") table.dataset.newest = newest;
    if (body.cursor) table.dataset.cursor = body.cursor;
    const keep = Number(table.dataset.keep || 50);
    while (tbody.rows.length > keep) tbody.deleteRow(tbody.rows.length - 1);
  }, status);
});

// One payout's page: every 5 s, check its status; when it changed, show the new status and
// attempts and offer a reload (the forms on the page may no longer apply).
document.addEventListener("DOMContentLoaded", () => {
  const badge = document.querySelector("[data-live-payout]");
  if (!badge || !window.fetch) return;
  const attempts = document.getElementById("payout-attempts");
  const changed = document.getElementById("payout-changed");
  const tick = async () => {
    if (!document.hidden) {
      try {
        const res = await fetch(badge.dataset.livePayout, { headers: { accept: "application/json" }, credentials: "same-origin" });
        if (res.ok) {
          const body = await res.json();
          const d = body.data && body.data.disbursement;
          if (d && d.updatedAt !== badge.dataset.updated) {
            badge.dataset.updated = d.updatedAt;
            if (d.status !== badge.dataset.status) {
              badge.dataset.status = d.status;
              badge.textContent = d.status;
              badge.className = "badge badge-" + String(d.status).replace(/[^a-z_]/g, "");
            }
            if (attempts) attempts.textContent = d.attempts + " of " + d.maxAttempts;
            if (changed) changed.hidden = false;
          }
        }
      } catch (e) { /* try again */ }
    }
    window.setTimeout(tick, 5000);
  };
  window.setTimeout(tick, 5000);
});

// Redemptions list: every 3 s, ask for redemptions written since the previous answer (with the
// page's filters; decision 0020) and for the current state of the rows still open (pending or
// failed), replace those in place when they changed, and put new ones in their place, newest
// first, when the page lists newest first. Rows are built with DOM APIs, never innerHTML; the
// amount, payout and MoMo columns exist only for readers who may see money (data-money).
document.addEventListener("DOMContentLoaded", () => {
  const table = document.querySelector("table[data-live-redemptions]");
  if (!table || !window.fetch) return;
  const status = document.getElementById("redemptions-live-status");
  const money = table.dataset.money === "1";
  const tbody = table.tBodies[0];
  const kigali = (iso) => new Date(Date.parse(iso) + 2 * 3600 * 1000).toISOString().slice(0, 16).replace("T", " ");
  const build = (r) => {
    const tr = document.createElement("tr");
    tr.dataset.id = r.id;
    tr.dataset.key = String(Date.parse(r.createdAt));
    if (r.open) tr.dataset.open = "1";
    const a = document.createElement("a");
    a.href = "/admin/redemptions/" + encodeURIComponent(r.id);
    a.textContent = kigali(r.createdAt);
    cell(tr, a);
    cell(tr, r.phoneNumber);
    const code = document.createElement("code");
    code.textContent = r.code;
    cell(tr, code);
    if (money) cell(tr, Number(r.amount).toLocaleString("en-US") + " " + r.currency);
    cell(tr, r.status, "status");
    if (money) {
      const payout = r.disbursementStatus || "none";
      const badge = document.createElement("span");
      badge.className = "badge badge-" + String(payout).replace(/[^a-z_]/g, "");
      badge.textContent = payout;
      cell(tr, badge);
      cell(tr, r.momoTransactionId || "");
    }
    cell(tr, r.batchNumber + " — " + r.batchName);
    return tr;
  };
  livePolling(async () => {
    const open = Array.from(tbody.rows, (tr) => (tr.dataset.open === "1" ? tr.dataset.id : "")).filter(Boolean);
    const q = table.dataset.query;
    const url = table.dataset.liveRedemptions + "?" + (q ? q + "&" : "") + "since=" + encodeURIComponent(table.dataset.cursor)
      + (open.length ? "&ids=" + open.slice(0, 100).join(",") : "");
    const body = await getJson(url);
    for (const r of Array.isArray(body.updates) ? body.updates : []) {
      const old = Array.from(tbody.rows).find((tr) => tr.dataset.id === r.id);
      if (!old) continue;
      const tr = build(r);
      if (tr.textContent !== old.textContent) {
        tr.className = "fresh";
        old.replaceWith(tr);
      } else if (!r.open) {
        delete old.dataset.open;
      }
    }
    if (table.dataset.prepend === "1") {
      const shown = new Set(Array.from(tbody.rows, (tr) => tr.dataset.id).filter(Boolean));
      for (const r of Array.isArray(body.data) ? body.data : []) {
        if (shown.has(r.id)) continue;
        const tr = build(r);
        shown.add(r.id);
        tr.className = "fresh";
        const empty = tbody.querySelector("tr.empty");
        if (empty) empty.remove();
        const newer = (a, b) => Number(a.dataset.key) > Number(b.dataset.key) || (a.dataset.key === b.dataset.key && a.dataset.id > b.dataset.id);
        const next = Array.from(tbody.rows).find((other) => newer(tr, other));
        tbody.insertBefore(tr, next || null);
      }
      const keep = Number(table.dataset.keep || 50);
      while (tbody.rows.length > keep) tbody.deleteRow(tbody.rows.length - 1);
    }
    if (body.cursor) table.dataset.cursor = String(body.cursor);
  }, status);
});

// The shell's open alerts: the header's badge counts the unresolved, unsnoozed alerts the user
// is an audience of (red while one is critical) and its list shows the newest, each linked to its
// page in the alerts console (and to what it is about), fetched at once and then kept current
// through the shared polling loop. Built with DOM APIs, never innerHTML. Without this, the badge
// stays hidden.
document.addEventListener("DOMContentLoaded", () => {
  const menu = document.getElementById("alerts-menu");
  if (!menu || !window.fetch) return;
  const count = document.getElementById("alerts-count");
  const list = document.getElementById("alerts-list");
  const kigali = (iso) => new Date(Date.parse(iso) + 2 * 3600 * 1000).toISOString().slice(0, 16).replace("T", " ");
  const poll = async () => {
    const body = await getJson(menu.dataset.alertsUrl);
    const n = Number(body.count || 0);
    count.textContent = String(n);
    menu.hidden = n === 0;
    menu.classList.toggle("critical", Number(body.critical || 0) > 0);
    const items = (Array.isArray(body.data) ? body.data : []).map((a) => {
      const li = document.createElement("li");
      li.dataset.id = a.id;
      li.dataset.kind = a.kind;
      if (a.status === "acknowledged") li.className = "acknowledged";
      const title = document.createElement(a.page ? "a" : "strong");
      if (a.page) title.href = a.page;
      title.textContent = a.title;
      li.appendChild(title);
      const meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = a.severity + (a.status === "acknowledged" ? " · acknowledged" : "") + " · " + kigali(a.lastSeenAt) + (a.occurrences > 1 ? " · " + a.occurrences + " times" : "");
      if (a.href) {
        const about = document.createElement("a");
        about.href = a.href;
        about.textContent = "what it is about";
        meta.appendChild(document.createTextNode(" · "));
        meta.appendChild(about);
      }
      li.appendChild(meta);
      return li;
    });
    if (menu.dataset.consoleUrl) {
      const li = document.createElement("li");
      const all = document.createElement("a");
      all.className = "all-alerts";
      all.href = menu.dataset.consoleUrl;
      all.textContent = "All alerts";
      li.appendChild(all);
      items.push(li);
    }
    list.replaceChildren(...items);
  };
  poll().catch(() => { /* the loop tries again */ });
  livePolling(poll, null, 5000);
});

// Settings pages: a colour picker and its #rrggbb text stay in step; an image chosen from disk
// is read into the field as a data: URL (the server checks its type and size).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input[type=color][data-color-for]").forEach((picker) => {
    const text = document.getElementById(picker.dataset.colorFor);
    if (!text) return;
    picker.addEventListener("input", () => { text.value = picker.value; });
    text.addEventListener("input", () => {
      if (/^#[0-9a-fA-F]{6}$/.test(text.value)) picker.value = text.value.toLowerCase();
    });
  });
  document.querySelectorAll("input[type=file][data-image-for]").forEach((file) => {
    const field = document.getElementById(file.dataset.imageFor);
    if (!field || !window.FileReader) return;
    file.addEventListener("change", () => {
      const f = file.files && file.files[0];
      if (!f) return;
      const reader = new FileReader();
      reader.addEventListener("load", () => { field.value = String(reader.result || ""); });
      reader.readAsDataURL(f);
    });
  });
  document.querySelectorAll("button[data-image-clear]").forEach((button) => {
    const field = document.getElementById(button.dataset.imageClear);
    if (!field) return;
    button.addEventListener("click", () => {
      field.value = "";
      button.textContent = "The built-in image will be used";
    });
  });
});

// Dashboard (`/`): through the shared polling loop, every `data-refresh` seconds
// (analytics.dashboard.refreshIntervalSeconds), ask the API for the same view and put its
// figures, charts and activity in place. A tile names where its value is in the answer
// (data-fig) and how it is written (data-fmt); a chart is redrawn from the shapes the server drew
// (the page and the script draw nothing of their own). DOM APIs only, never innerHTML. The
// custom view is kept on the server by the picker's form (decision 0048), not in the browser.
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("dashboard");
  if (!root) return;
  const select = document.getElementById("dashboard-view-select");
  const picks = root.querySelector(".dash-sections");
  if (select && picks) select.addEventListener("change", () => { picks.hidden = select.value !== "custom"; });
  if (!window.fetch) return;
  const nf = (v) => Number(v || 0).toLocaleString("en-US");
  const human = (v) => {
    const s = Math.max(0, Math.floor(Number(v) || 0));
    if (s >= 86400) return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
    if (s >= 3600) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    if (s >= 60) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return s + " s";
  };
  const fixed = (unit) => (v) => (v == null ? "—" : Number(v).toFixed(1) + " " + unit);
  const fmt = {
    n: (f) => nf(f && f.value),
    money: (f) => nf(f && f.amount) + " RWF · " + nf(f && f.count),
    pct: fixed("%"),
    secs: fixed("s"),
    ms: fixed("ms"),
    human: (v) => (v == null ? "none" : human(v)),
    text: (v) => String(v == null ? "" : v),
    balance: (b) => (!b ? "" : (b.available != null && b.currency ? nf(b.available) + " " + b.currency + " · " : "")
      + (b.state === "ok" ? "not low (threshold " + nf(b.threshold) + " RWF)"
        : b.reading || "low: " + nf(b.heldForMoney) + " payout(s) wait for money")),
    workers: (ws) => (!Array.isArray(ws) || !ws.length ? "none" : ws.map((w) => w.id + ": "
      + (w.stale ? "stale (" + human(w.lastBeatSeconds) + " ago)" : "beat " + human(w.lastBeatSeconds) + " ago")).join("; ")),
  };
  const at = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  const NS = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text != null) e.textContent = text;
    return e;
  };
  const shape = (s) => {
    let node;
    if (s.shape === "rect") node = el("rect", { class: s.class, x: s.x, y: s.y, width: s.w, height: s.h });
    else if (s.shape === "dot") node = el("circle", { class: s.class, cx: s.cx, cy: s.cy, r: 3 });
    else if (s.shape === "path") node = el("polyline", { class: s.class, points: s.points });
    else if (s.shape === "slice") node = el("path", { class: s.class, d: s.d });
    else if (s.shape === "line") node = el("line", { class: s.class, x1: s.x1, y1: s.y1, x2: s.x2, y2: s.y2 });
    else if (s.shape === "text") return el("text", { class: s.class, x: s.x, y: s.y, "text-anchor": s.anchor }, s.text);
    else return null;
    if (s.title) node.appendChild(el("title", {}, s.title));
    if (!s.href) return node;
    const a = el("a", { href: s.href });
    a.appendChild(node);
    return a;
  };
  const link = (href, text) => {
    if (!href) return document.createTextNode(text);
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  };
  const kigali = (iso) => new Date(Date.parse(iso) + 2 * 3600 * 1000).toISOString().slice(0, 16).replace("T", " ");
  const status = document.getElementById("dashboard-live");
  livePolling(async () => {
    const d = await getJson(root.dataset.api);
    root.querySelectorAll("[data-fig]").forEach((e) => {
      const v = at(d, e.dataset.fig);
      if (v === undefined) return;
      const f = fmt[e.dataset.fmt] || fmt.text;
      const text = f(v);
      if (e.textContent !== text) e.textContent = text;
      if (v && typeof v === "object" && v.href && e.tagName === "A") e.setAttribute("href", v.href);
    });
    for (const ch of Array.isArray(d.charts) ? d.charts : []) {
      const svg = root.querySelector('svg[data-chart="' + ch.id + '"]');
      if (svg) svg.replaceChildren(...ch.drawing.shapes.map(shape).filter(Boolean));
      const table = root.querySelector('table[data-chart-table="' + ch.id + '"]');
      if (table) {
        table.tBodies[0].replaceChildren(...ch.points.map((p) => {
          const tr = document.createElement("tr");
          cell(tr, link(p.href, p.label));
          cell(tr, p.shown);
          return tr;
        }));
      }
    }
    const feed = document.getElementById("feed");
    if (feed && Array.isArray(d.feed)) {
      const items = d.feed.map((i) => {
        const li = document.createElement("li");
        li.dataset.kind = String(i.kind).toLowerCase();
        const t = document.createElement("time");
        t.dateTime = i.at;
        t.textContent = kigali(i.at);
        li.append(t, " ", link(i.href, i.text));
        return li;
      });
      if (!items.length) {
        const li = document.createElement("li");
        li.className = "muted empty";
        li.textContent = "Nothing has happened yet.";
        items.push(li);
      }
      feed.replaceChildren(...items);
    }
  }, status, Math.max(5, Number(root.dataset.refresh) || 30) * 1000);
});

// Template editor: as the subject or text is typed, the server fills it with sample values and
// says what it costs (SMS: GSM-7 or UCS-2 and how many messages; USSD: the screen's limit) and
// what a save would refuse; the preview and the messages beside the fields follow. One renderer,
// the server's; without this file the page shows the same after each save.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("template-form");
  if (!form || !form.dataset.templatePreview) return;
  const body = document.getElementById("template-body");
  const subject = document.getElementById("template-subject");
  const out = {
    subject: document.getElementById("preview-subject"),
    body: document.getElementById("preview-body"),
    cost: document.getElementById("preview-cost"),
    nongsm: document.getElementById("preview-nongsm"),
  };
  const line = (c) => {
    if (c.segments) {
      return c.encoding + ": " + c.characters + " characters, " + c.segments + " SMS (" + c.perSegment + " characters each)";
    }
    if (c.limit) return c.encoding + ": " + c.characters + " of " + c.limit + " characters on one screen";
    return c.characters + " characters";
  };
  let timer = null;
  let asked = 0;
  const ask = async () => {
    const mine = ++asked;
    const payload = { key: form.dataset.key, channel: form.dataset.channel, locale: form.dataset.locale, body: body.value };
    if (subject) payload.subject = subject.value;
    try {
      const res = await fetch(form.dataset.templatePreview, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", accept: "application/json", "x-csrf-token": form.dataset.csrf },
        body: JSON.stringify(payload),
      });
      if (!res.ok || mine !== asked) return;
      const p = await res.json();
      if (out.subject) out.subject.textContent = p.subject || "";
      out.body.textContent = p.body;
      out.cost.textContent = line(p.cost);
      out.cost.dataset.over = p.cost.overLimit ? "true" : "false";
      const odd = p.cost.nonGsm7 || [];
      out.nongsm.hidden = odd.length === 0;
      out.nongsm.textContent = "Not in GSM-7: " + odd.map((c) => "“" + c + "”").join(" ");
      form.querySelectorAll("p.field-error[data-field]").forEach((el) => {
        const problem = (p.problems || []).find((e) => e.field === el.dataset.field);
        el.hidden = !problem;
        el.textContent = problem ? problem.message : "";
      });
    } catch (e) { /* the next keystroke asks again */ }
  };
  const later = () => {
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(ask, 250);
  };
  body.addEventListener("input", later);
  if (subject) subject.addEventListener("input", later);
});
