// Appointment book: click free time to book; drag an appointment (or focus it, press M, move
// with the arrow keys, Enter) to move it. Nothing is saved until the user confirms in the
// dialog; Cancel (or Escape) puts the block back. No inline script or style (CSP): positions
// are set through the CSSOM, and the server re-draws the page after a confirmed move.
(function () {
  "use strict";
  var cal = document.getElementById("calendar");
  var dialog = document.getElementById("move-dialog");
  if (!cal || !dialog) return;
  var ROW = 5;
  var step = parseInt(cal.dataset.step, 10) || 15;
  var rows = parseInt(cal.dataset.rows, 10);
  var dayStart = parseInt(cal.dataset.dayStart, 10);
  var live = document.getElementById("move-live");
  var pending = null;
  var grabOffset = 0;
  var lastDrag = 0;
  var $ = function (id) { return document.getElementById(id); };

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function hm(m) { return pad(Math.floor(m / 60)) + ":" + pad(m % 60); }
  function columns() { return Array.prototype.slice.call(cal.querySelectorAll(".cal-col")); }
  function say(text) { if (live) live.textContent = text; }
  function rowPx(col) { return col.getBoundingClientRect().height / rows; }
  function clamp(m, dur) {
    var lo = dayStart, hi = dayStart + rows * ROW - dur;
    return Math.max(lo, Math.min(hi, m));
  }
  function minutesAt(col, clientY, offset, dur, round) {
    var y = clientY - col.getBoundingClientRect().top - (offset || 0);
    var m = dayStart + (y / rowPx(col)) * ROW;
    m = (round ? Math.round(m / step) : Math.floor(m / step)) * step;
    return clamp(m, dur || 0);
  }
  function place(block, col, minutes) {
    if (block.parentNode !== col) col.appendChild(block);
    var span = Math.max(1, Math.ceil(parseInt(block.dataset.minutes, 10) / ROW));
    block.style.gridRowStart = String(Math.floor((minutes - dayStart) / ROW) + 1);
    block.style.gridRowEnd = "span " + span;
    block.style.gridColumn = "1 / span 12";
  }
  function begin(block) {
    pending = {
      block: block, parent: block.parentNode, next: block.nextSibling,
      col: block.parentNode, minutes: parseInt(block.dataset.startMinutes, 10),
      dur: parseInt(block.dataset.minutes, 10),
    };
  }
  function revert() {
    if (!pending) return;
    var b = pending.block;
    b.classList.remove("moving", "dragging");
    b.style.gridRowStart = b.style.gridRowEnd = b.style.gridColumn = "";
    pending.parent.insertBefore(b, pending.next);
    b.focus();
    pending = null;
    say("Move cancelled; the appointment is back in its place.");
  }
  function describe() {
    var col = pending.col;
    var text = col.dataset.dayLabel + " " + hm(pending.minutes) + "–" + hm(pending.minutes + pending.dur);
    if (col.dataset.actor !== pending.parent.dataset.actor) text += " with " + col.dataset.colLabel;
    return text;
  }
  function resetDialog() {
    $("move-conflict").hidden = true;
    $("move-anyway").hidden = true;
    $("move-ok").hidden = false;
    $("move-clashes").textContent = "";
    $("move-suggestions").textContent = "";
  }
  function confirmMove() {
    resetDialog();
    $("move-what").textContent = pending.block.dataset.label;
    $("move-when").textContent = describe();
    $("move-scope").hidden = !pending.block.dataset.series;
    var first = dialog.querySelector("input[name=scope][value=this]");
    if (first) first.checked = true;
    dialog.showModal();
    $("move-ok").focus();
  }
  function send(overbook) {
    var form = $("move-form");
    var data = new FormData();
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    data.append("csrfmiddlewaretoken", token);
    data.append("date", pending.col.dataset.date);
    data.append("minutes", String(pending.minutes));
    var actor = pending.col.dataset.actor || "";
    if (actor.indexOf("Practitioner/") === 0) data.append("provider", actor);
    var scope = form.querySelector("input[name=scope]:checked");
    data.append("scope", pending.block.dataset.series && scope ? scope.value : "this");
    if (overbook) data.append("overbook", "1");
    $("move-ok").disabled = true;
    fetch("/schedule/appointment/" + encodeURIComponent(pending.block.dataset.id) + "/move", {
      method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": token },
    }).then(function (resp) {
      return resp.json().then(function (body) { return { status: resp.status, body: body }; });
    }).then(function (r) {
      $("move-ok").disabled = false;
      if (r.body.ok) {
        say(r.body.message);
        pending = null;
        dialog.close();
        window.location.reload();
        return;
      }
      showProblem(r.body);
    }).catch(function () {
      $("move-ok").disabled = false;
      showProblem({ message: "The move could not be saved (network problem). Nothing was changed." });
    });
  }
  function showProblem(body) {
    $("move-conflict").hidden = false;
    $("move-conflict-text").textContent = body.message || "The move was refused.";
    var list = $("move-clashes");
    list.textContent = "";
    (body.clashes || []).forEach(function (c) {
      var li = document.createElement("li");
      li.textContent = (c.event ? c.what + " (practice event)" : c.who + " · " + c.what) + " · " + c.when;
      list.appendChild(li);
    });
    var sug = $("move-suggestions");
    sug.textContent = "";
    (body.suggestions || []).forEach(function (s) {
      var li = document.createElement("li");
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "secondary";
      btn.textContent = "Pick " + s.when + " · " + s.who;
      btn.addEventListener("click", function () { pickSlot(s); });
      li.appendChild(btn);
      sug.appendChild(li);
    });
    $("move-ok").hidden = !!body.conflict;
    $("move-anyway").hidden = !body.may_overbook;
  }
  function pickSlot(s) {
    var day = s.start.slice(0, 10);
    var minutes = parseInt(s.start.slice(11, 13), 10) * 60 + parseInt(s.start.slice(14, 16), 10);
    var col = columns().filter(function (c) { return c.dataset.date === day && c.dataset.actor === s.actor; })[0];
    if (col) { pending.col = col; place(pending.block, col, minutes); }
    else { pending.col = { dataset: { date: day, actor: s.actor, dayLabel: day, colLabel: s.who } }; }
    pending.minutes = minutes;
    $("move-when").textContent = s.when + " · " + s.who;
    resetDialog();
  }

  $("move-ok").addEventListener("click", function () { send(false); });
  $("move-anyway").addEventListener("click", function () { send(true); });
  $("move-cancel").addEventListener("click", function () { dialog.close(); revert(); });
  dialog.addEventListener("cancel", function () { revert(); });

  // drag and drop
  cal.addEventListener("dragstart", function (e) {
    var block = e.target.closest && e.target.closest(".appt[data-movable]");
    if (!block) { e.preventDefault(); return; }
    begin(block);
    grabOffset = e.clientY - block.getBoundingClientRect().top;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", block.dataset.id);
    block.classList.add("dragging");
  });
  cal.addEventListener("dragover", function (e) {
    var col = e.target.closest && e.target.closest(".cal-col");
    if (!col || !pending) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    columns().forEach(function (c) { c.classList.toggle("drop-target", c === col); });
  });
  cal.addEventListener("drop", function (e) {
    var col = e.target.closest && e.target.closest(".cal-col");
    if (!col || !pending) return;
    e.preventDefault();
    col.classList.remove("drop-target");
    pending.block.classList.remove("dragging");
    pending.col = col;
    pending.minutes = minutesAt(col, e.clientY, grabOffset, pending.dur, true);
    place(pending.block, col, pending.minutes);
    confirmMove();
  });
  cal.addEventListener("dragend", function () {
    lastDrag = Date.now();
    columns().forEach(function (c) { c.classList.remove("drop-target"); });
    if (pending && !dialog.open) revert();
  });

  // keyboard: M starts a move, arrows move by one grid step or one column, Enter confirms
  cal.addEventListener("keydown", function (e) {
    var block = e.target.closest && e.target.closest(".appt[data-movable]");
    if (!block || dialog.open) return;
    var moving = pending && pending.block === block;
    if (!moving && (e.key === "m" || e.key === "M")) {
      e.preventDefault();
      begin(block);
      block.classList.add("moving");
      place(block, pending.col, pending.minutes);
      say("Moving. Arrow keys change the time or column, Enter confirms, Escape cancels.");
      return;
    }
    if (!moving) return;
    var cols = columns();
    var i = cols.indexOf(pending.col);
    if (e.key === "ArrowUp" || e.key === "ArrowDown") {
      pending.minutes = clamp(pending.minutes + (e.key === "ArrowUp" ? -step : step), pending.dur);
    } else if (e.key === "ArrowLeft" && i > 0) {
      pending.col = cols[i - 1];
    } else if (e.key === "ArrowRight" && i < cols.length - 1) {
      pending.col = cols[i + 1];
    } else if (e.key === "Enter") {
      e.preventDefault();
      block.classList.remove("moving");
      confirmMove();
      return;
    } else if (e.key === "Escape") {
      e.preventDefault();
      revert();
      return;
    } else {
      return;
    }
    e.preventDefault();
    place(block, pending.col, pending.minutes);
    block.focus();
    say(describe());
  });

  // click free (or any empty) time to book there
  cal.addEventListener("click", function (e) {
    if (e.target.closest(".appt, .event, a, button") || pending || Date.now() - lastDrag < 500) return;
    var col = e.target.closest(".cal-col");
    if (!col) return;
    var m = minutesAt(col, e.clientY, 0, 0, false);
    var params = new URLSearchParams({ start: col.dataset.date + "T" + hm(m) });
    if (col.dataset.actor) params.set(col.dataset.actor.indexOf("Location/") === 0 ? "location" : "provider", col.dataset.actor);
    window.location.href = "/schedule/book/?" + params.toString();
  });
})();
