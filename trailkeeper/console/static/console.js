// trailkeeper console: expands event rows in place. Without JavaScript the "Details" links open
// the event's own page, so everything works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // On a phone the filters fold away so the events come first; the summary line says what is applied.
  if (window.matchMedia("(max-width: 760px)").matches) {
    for (const box of document.querySelectorAll("details[data-collapse-narrow]")) box.open = false;
  }
  for (const link of document.querySelectorAll("a[data-expand]")) {
    const row = document.getElementById(link.dataset.expand);
    if (!row) continue;
    link.setAttribute("role", "button");
    link.addEventListener("click", (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey) return; // open in a new tab as usual
      event.preventDefault();
      const open = row.hidden;
      row.hidden = !open;
      link.setAttribute("aria-expanded", String(open));
    });
    link.addEventListener("keydown", (event) => {
      if (event.key === " ") { event.preventDefault(); link.click(); } // buttons answer Space too
    });
  }
});
