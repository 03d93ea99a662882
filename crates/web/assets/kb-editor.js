// Knowledge-base editor: the preview follows the Markdown as you type, rendered and sanitised
// by the server exactly as the help center shows it; leaving with unsaved changes asks first.
// Without this script the Preview button does the same with a round trip.
(function () {
  "use strict";
  var form = document.getElementById("kb-form");
  var body = document.getElementById("kb-body");
  var title = document.getElementById("kb-title");
  var out = document.getElementById("kb-preview");
  var outTitle = document.getElementById("kb-preview-title");
  if (!form || !body || !out) return;
  var csrf = form.elements._csrf.value;
  var timer = null, running = false, again = false, dirty = false;
  function render() {
    timer = null;
    if (running) { again = true; return; }
    running = true;
    var data = new URLSearchParams();
    data.set("_csrf", csrf);
    data.set("body", body.value);
    fetch("/admin/kb/preview", { method: "POST", credentials: "same-origin", body: data,
      headers: { "X-CSRF-Token": csrf, "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { out.innerHTML = html; out.dataset.rendered = String(Date.now()); })
      .catch(function () {})
      .then(function () { running = false; if (again) { again = false; schedule(); } });
  }
  function schedule() { if (timer) clearTimeout(timer); timer = setTimeout(render, 300); }
  body.addEventListener("input", function () { dirty = true; schedule(); });
  if (title && outTitle) title.addEventListener("input", function () { dirty = true; outTitle.textContent = title.value; });
  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (e) { if (dirty) { e.preventDefault(); e.returnValue = ""; } });
})();
