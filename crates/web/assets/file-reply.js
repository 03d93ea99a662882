// The composer's file button on website chat conversations: sends the chosen file (with the
// composer's text as its caption) to the visitor. No framework; served by Switchboard.
(function () {
  "use strict";
  var box = document.getElementById("composer-file");
  if (!box) return;
  var input = box.querySelector("input[type=file]");
  var status = box.querySelector(".file-status");
  var text = document.getElementById("composer-text");
  input.addEventListener("change", function () {
    var f = input.files && input.files[0];
    if (!f) return;
    var caption = text && text.value.trim() ? text.value.trim() : "";
    var idem = Date.now().toString(36) + Math.random().toString(36).slice(2);
    var url = "/c/" + encodeURIComponent(box.dataset.case) + "/files?name=" + encodeURIComponent(f.name) +
      "&caption=" + encodeURIComponent(caption) + "&idem=" + idem;
    status.textContent = box.dataset.sending;
    input.disabled = true;
    fetch(url, {
      method: "POST", body: f, credentials: "same-origin",
      headers: { "content-type": f.type || "application/octet-stream", "x-csrf-token": box.dataset.csrf }
    })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) throw new Error((j.error && j.error.message) || r.status);
          status.textContent = box.dataset.sent;
          if (caption && text) text.value = "";
        });
      })
      .catch(function (e) { status.textContent = e.message; })
      .then(function () { input.value = ""; input.disabled = false; });
  });
})();
