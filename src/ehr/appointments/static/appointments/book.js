// Booking form: the end time follows the visit type's length until the user types one (the
// filled value is shown as system-filled, UX.md section 4).
(function () {
  "use strict";
  var type = document.getElementById("id_appointment_type");
  var start = document.getElementById("id_start_time");
  var end = document.getElementById("id_end_time");
  if (!type || !start || !end) return;
  if (!end.value) end.dataset.auto = "1";
  function minutesOf() {
    var opt = type.options[type.selectedIndex];
    var m = opt && /\((\d+) min\)/.exec(opt.textContent);
    return m ? parseInt(m[1], 10) : 0;
  }
  function fill() {
    if (!end.dataset.auto || !start.value) return;
    var dur = minutesOf();
    if (!dur) return;
    var parts = start.value.split(":");
    var t = parseInt(parts[0], 10) * 60 + parseInt(parts[1], 10) + dur;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    end.value = pad(Math.floor(t / 60) % 24) + ":" + pad(t % 60);
    end.classList.add("auto-filled");
  }
  type.addEventListener("change", fill);
  start.addEventListener("change", fill);
  end.addEventListener("input", function () { delete end.dataset.auto; end.classList.remove("auto-filled"); });
})();
