// Header patient search: arrow keys move through the type-ahead results, Enter opens one,
// Escape closes them, Ctrl/Cmd+K (or "/" outside a field) jumps to the box. No inline script:
// htmx fills #patient-results; this file only handles the keyboard.
(function () {
  "use strict";
  var input = document.getElementById("patient-q");
  var box = document.getElementById("patient-results");
  if (!input || !box) return;
  var active = -1;

  function options() {
    return Array.prototype.slice.call(box.querySelectorAll("[role=option]"));
  }
  function setActive(i) {
    var opts = options();
    opts.forEach(function (o) { o.classList.remove("active"); o.setAttribute("aria-selected", "false"); });
    if (!opts.length) { active = -1; input.removeAttribute("aria-activedescendant"); return; }
    active = (i + opts.length) % opts.length;
    var o = opts[active];
    o.classList.add("active");
    o.setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", o.id);
    o.scrollIntoView({ block: "nearest" });
  }
  function close() {
    box.innerHTML = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.target !== box) return;
    active = -1;
    input.setAttribute("aria-expanded", options().length ? "true" : "false");
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); setActive(active + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); setActive(active - 1); }
    else if (e.key === "Escape") { close(); }
    else if (e.key === "Enter" && active >= 0) {
      var link = options()[active].querySelector("a");
      if (link) { e.preventDefault(); window.location.href = link.href; }
    }
  });
  document.addEventListener("keydown", function (e) {
    var inField = /^(INPUT|TEXTAREA|SELECT)$/.test((e.target && e.target.tagName) || "");
    if (((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") || (e.key === "/" && !inField)) {
      e.preventDefault();
      input.focus();
      input.select();
    }
  });
  document.addEventListener("click", function (e) {
    if (!input.form.contains(e.target)) close();
  });
})();
