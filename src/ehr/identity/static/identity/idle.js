// Automatic log-off: warn a minute before the server ends an idle session, then go to sign-in.
(function () {
  "use strict";
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-idle-timeout") || "0", 10);
  if (!seconds) { return; }
  var warnBefore = Math.min(60, Math.floor(seconds / 2));
  var warnTimer = null;
  var endTimer = null;
  var box = null;

  function csrfToken() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function toLogin() {
    window.location.assign("/login/?next=" + encodeURIComponent(location.pathname + location.search));
  }
  function hide() { if (box) { box.remove(); box = null; } }
  function stay() {
    fetch("/account/keepalive/", {
      method: "POST", credentials: "same-origin",
      headers: {"X-CSRFToken": csrfToken()}
    }).then(function (r) { if (r.ok) { hide(); schedule(); } else { toLogin(); } })
      .catch(toLogin);
  }
  function warn() {
    box = document.createElement("div");
    box.className = "idle-warning";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-live", "assertive");
    box.innerHTML = "<p>You will be signed out in about a minute because of inactivity.</p>";
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Stay signed in";
    button.addEventListener("click", stay);
    box.appendChild(button);
    body.appendChild(box);
    button.focus();
  }
  function schedule() {
    clearTimeout(warnTimer); clearTimeout(endTimer);
    warnTimer = setTimeout(warn, (seconds - warnBefore) * 1000);
    endTimer = setTimeout(toLogin, seconds * 1000 + 1000);
  }
  schedule();
})();
