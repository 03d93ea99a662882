// Knowledge-base articles beside the composer: the best matches for the customer's latest
// message, or for the agent's own search, in the customer's language; each inserts "title: link"
// or a short snippet with the link into the reply.
(function () {
  "use strict";
  var box = document.getElementById("kb-suggest");
  var text = document.getElementById("composer-text");
  if (!box || !text) return;
  var d = box.dataset;
  function insert(add) {
    text.value = text.value ? text.value.replace(/\s*$/, "\n") + add : add;
    text.dispatchEvent(new Event("input")); text.focus();
  }
  function button(label, cls, onClick) {
    var b = document.createElement("button"); b.type = "button"; b.className = cls; b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }
  var h = document.createElement("h2"); h.textContent = d.title; box.appendChild(h);
  var form = document.createElement("div"); form.className = "kb-search"; form.setAttribute("role", "search");
  var input = document.createElement("input"); input.type = "search"; input.id = "kb-search";
  input.setAttribute("aria-label", d.search); input.placeholder = d.search;
  var go = button(d.searchButton, "kb-search-go", function () { load(input.value); });
  input.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); load(input.value); } });
  form.appendChild(input); form.appendChild(go); box.appendChild(form);
  var list = document.createElement("ul"); list.id = "kb-hits"; list.setAttribute("aria-live", "polite"); box.appendChild(list);
  function show(hits) {
    list.innerHTML = "";
    if (!hits.length) { var li = document.createElement("li"); li.className = "empty"; li.textContent = d.none; list.appendChild(li); }
    hits.forEach(function (a) {
      var li = document.createElement("li");
      var link = document.createElement("a"); link.href = a.url; link.target = "_blank"; link.rel = "noopener"; link.textContent = a.title;
      li.appendChild(link); li.appendChild(document.createTextNode(" "));
      li.appendChild(button(d.insert, "kb-insert-link", function () { insert(a.title + ": " + a.url); }));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(button(d.snippet, "kb-insert-snippet", function () { insert(a.summary + "\n" + a.url); }));
      list.appendChild(li);
    });
  }
  function load(q) {
    var url = "/ui/kb/suggest?case=" + encodeURIComponent(d.case) + (q && q.trim() ? "&q=" + encodeURIComponent(q.trim()) : "");
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.json() : { hits: [] }; })
      .then(function (found) { show(found.hits || []); box.hidden = false; })
      .catch(function () {});
  }
  load("");
})();
