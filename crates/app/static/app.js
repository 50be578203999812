// MBELYCO Promo — small progressive enhancements. Pages work without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Forms with data-confirm ask before submitting.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => {
      if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
    });
  });
});
