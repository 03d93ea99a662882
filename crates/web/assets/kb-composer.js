// Suggested knowledge-base articles beside the composer: the best matches for the customer's
// latest message, each with a button that inserts "title: link" into the reply.
(function () {
  "use strict";
  var box = document.getElementById("kb-suggest");
  var text = document.getElementById("composer-text");
  if (!box || !text) return;
  fetch("/ui/kb/suggest?case=" + encodeURIComponent(box.dataset.case), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
    .then(function (r) { return r.ok ? r.json() : { hits: [] }; })
    .then(function (found) {
      var h = document.createElement("h2"); h.textContent = box.dataset.title; box.appendChild(h);
      var hits = found.hits || [];
      if (!hits.length) { var p = document.createElement("p"); p.textContent = box.dataset.none; box.appendChild(p); }
      var ul = document.createElement("ul");
      hits.forEach(function (a) {
        var li = document.createElement("li");
        var link = document.createElement("a"); link.href = a.url; link.target = "_blank"; link.rel = "noopener"; link.textContent = a.title;
        var b = document.createElement("button"); b.type = "button"; b.textContent = box.dataset.insert;
        b.addEventListener("click", function () {
          var add = a.title + ": " + a.url;
          text.value = text.value ? text.value.replace(/\s*$/, "\n") + add : add;
          text.dispatchEvent(new Event("input")); text.focus();
        });
        li.appendChild(link); li.appendChild(document.createTextNode(" ")); li.appendChild(b); ul.appendChild(li);
      });
      box.appendChild(ul);
      box.hidden = false;
    })
    .catch(function () {});
})();
