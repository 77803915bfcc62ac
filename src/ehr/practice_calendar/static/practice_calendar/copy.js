// Copy buttons on the calendar feeds page: <button data-copy="input-id">.
(function () {
  "use strict";
  function say(text) {
    var status = document.getElementById("copy-status");
    if (status) status.textContent = text;
  }
  function copy(input, button) {
    var done = function () {
      var old = button.textContent;
      button.textContent = "Copied";
      say("Link copied to the clipboard.");
      setTimeout(function () { button.textContent = old; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        input.select();
        say("Press Control C (Command C on a Mac) to copy the selected link.");
      });
    } else {
      input.focus();
      input.select();
      try {
        if (document.execCommand("copy")) { done(); return; }
      } catch (e) { /* fall through */ }
      say("Press Control C (Command C on a Mac) to copy the selected link.");
    }
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("button[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (input) copy(input, button);
  });
  document.addEventListener("focusin", function (ev) {
    if (ev.target.classList && ev.target.classList.contains("ev-url")) ev.target.select();
  });
})();
