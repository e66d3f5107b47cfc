// customer hub console: keyboard shortcuts and confirmations, in plain JS (no build step).
(function () {
  "use strict";
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  // Forms that change something a lot ask first.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });
  // Table rows with data-href: click anywhere, or move with j/k and open with Enter/o.
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-href]"));
  var sel = -1;
  function select(i) {
    if (!rows.length) { return; }
    if (sel >= 0) { rows[sel].classList.remove("sel"); }
    sel = Math.max(0, Math.min(rows.length - 1, i));
    rows[sel].classList.add("sel");
    rows[sel].scrollIntoView({block: "nearest"});
  }
  rows.forEach(function (row) {
    row.addEventListener("click", function (ev) {
      if (ev.target.closest("a, button, form")) { return; }
      window.location.href = row.getAttribute("data-href");
    });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var help = document.getElementById("help");
    if (ev.key === "Escape") {
      if (typing(document.activeElement)) { document.activeElement.blur(); }
      if (help && help.open) { help.close(); }
      return;
    }
    if (typing(document.activeElement)) {
      // Enter in the reason field must not pick a verdict: leave the field, then press s or d.
      if (ev.key === "Enter" && document.activeElement.closest("form.decide")) {
        ev.preventDefault(); document.activeElement.blur();
      }
      return;
    }
    if (ev.key === "?") { if (help) { help.open ? help.close() : help.showModal(); } ev.preventDefault(); return; }
    if (rows.length) {
      if (ev.key === "j") { select(sel + 1); ev.preventDefault(); return; }
      if (ev.key === "k") { select(sel - 1); ev.preventDefault(); return; }
      if ((ev.key === "Enter" || ev.key === "o") && sel >= 0) {
        window.location.href = rows[sel].getAttribute("data-href"); ev.preventDefault(); return;
      }
    }
    var target = document.querySelector('[data-key="' + CSS.escape(ev.key) + '"]');
    if (!target) { return; }
    ev.preventDefault();
    if (typing(target)) { target.focus(); } else { target.click(); }
  });
})();
