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

// Generation progress on a batch page: poll the job until it is done, then reload.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("generation");
  if (!box) return;
  const bar = document.getElementById("generation-progress");
  const pct = document.getElementById("generation-percent");
  const done = document.getElementById("generation-done");
  const status = document.getElementById("generation-status");
  const tick = async () => {
    try {
      const res = await fetch("/api/v1/admin/jobs/" + box.dataset.job, { headers: { accept: "application/json" } });
      if (!res.ok) return;
      const body = await res.json();
      const p = Math.floor(body.percent || 0);
      bar.value = p;
      pct.textContent = String(p);
      done.textContent = String(body.job.progressDone || 0);
      status.textContent = body.job.status;
      if (body.job.status === "succeeded" || body.job.status === "dead") {
        window.setTimeout(() => window.location.reload(), 600);
        return;
      }
    } catch (e) { /* try again */ }
    window.setTimeout(tick, 1000);
  };
  if (status.textContent !== "succeeded") window.setTimeout(tick, 500);
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
