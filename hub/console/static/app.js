// customer hub console: keyboard shortcuts, confirmations and the bulk selection, in plain JS (no build step).
(function () {
  "use strict";
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  // Forms (or the button that submits one) that change something a lot ask first.
  document.addEventListener("submit", function (ev) {
    var button = ev.submitter;
    var msg = (button && button.getAttribute("data-confirm")) || ev.target.getAttribute("data-confirm");
    if (ev.target.hasAttribute("data-bulk") && msg) {
      var n = selectedCount();
      if (n.all) { msg += " (all " + n.all + " matching)"; } else { msg += " (" + n.count + " selected)"; }
    }
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });
  // Bulk selection on the queue: a checkbox per entry, "this page", "all matching the filters".
  var bulk = document.querySelector("form[data-bulk]");
  var boxes = bulk ? Array.prototype.slice.call(bulk.querySelectorAll("input[name=item]")) : [];
  var pageBox = document.getElementById("select-page");
  var allBox = document.getElementById("all-matching");
  var counter = document.getElementById("selected-count");
  function selectedCount() {
    var pairs = 0;
    boxes.forEach(function (b) { if (b.checked) { pairs += b.value.split(",").length; } });
    var all = allBox && allBox.checked ? (allBox.parentNode.textContent.match(/[\d,]+/) || [""])[0] : "";
    return {count: pairs, all: all};
  }
  function showCount() {
    if (!counter) { return; }
    var n = selectedCount();
    counter.textContent = n.all ? "all " + n.all + " pairs" : (n.count ? n.count + " pair" + (n.count === 1 ? "" : "s") + " selected" : "");
  }
  boxes.forEach(function (b) { b.addEventListener("change", showCount); });
  if (pageBox) {
    pageBox.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = pageBox.checked; });
      showCount();
    });
  }
  if (allBox) { allBox.addEventListener("change", showCount); }
  // Table rows with data-href: click anywhere, or move with j/k, select with x and open with Enter/o.
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
      if (ev.target.closest("a, button, form input, input, label")) { return; }
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
      if (ev.key === "Enter" && document.activeElement.closest("form.decide, form.resolve")) {
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
      if (ev.key === "x" && sel >= 0) {
        var box = rows[sel].querySelector("input[name=item]");
        if (box) { box.checked = !box.checked; showCount(); }
        ev.preventDefault(); return;
      }
    }
    if (/^[1-9]$/.test(ev.key)) {  // pick a candidate of a record matching several customers
      var picks = document.querySelectorAll("[data-pick]");
      var pick = picks[parseInt(ev.key, 10) - 1];
      if (pick) { ev.preventDefault(); pick.click(); }
      return;
    }
    var target = document.querySelector('[data-key="' + CSS.escape(ev.key) + '"]');
    if (!target) { return; }
    ev.preventDefault();
    if (typing(target)) { target.focus(); } else { target.click(); }
  });
})();
