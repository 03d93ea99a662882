// Switchboard agent UI: live updates (server-sent events), presence, composer and shortcuts.
// Plain script, no dependencies; the pages work without it (forms post and redirect).
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page;
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : "";
  var me = body.dataset.userId || "";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // ---- fetching fragments, at most one in flight, coalescing bursts ----
  function refresher(url, apply) {
    var running = false, again = false, timer = null;
    function run() {
      timer = null;
      if (running) { again = true; return; }
      running = true;
      fetch(url(), { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(apply)
        .catch(function () {})
        .then(function () {
          running = false;
          if (again) { again = false; schedule(); }
        });
    }
    function schedule() { if (!timer) timer = setTimeout(run, 100); }
    return schedule;
  }

  var conv = $(".conversation");
  var convId = conv ? conv.dataset.conversationId : null;
  var caseNo = conv ? conv.dataset.case : null;

  var refreshInbox = refresher(
    function () { return "/inbox/rows" + location.search; },
    function (html) {
      var list = $("#inbox-list");
      if (!list) return;
      var focused = document.activeElement && document.activeElement.closest("li[data-case]");
      var focusedCase = focused ? focused.dataset.case : null;
      list.innerHTML = html;
      var rows = $(".rows", list);
      if (rows) {
        [["mine", "#count-mine"], ["unassigned", "#count-unassigned"], ["all", "#count-all"], ["unread", "#count-unread"]]
          .forEach(function (p) {
            var el = $(p[1]);
            if (el) { el.textContent = rows.dataset[p[0]]; if (p[0] === "unread") el.hidden = rows.dataset.unread === "0"; }
          });
      }
      if (focusedCase) {
        var a = $('li[data-case="' + focusedCase + '"] a', list);
        if (a) a.focus();
      }
    });

  var refreshThread = refresher(
    function () { return "/c/" + caseNo + "/thread"; },
    function (html) {
      var live = $("#conv-live");
      if (!live) return;
      live.innerHTML = html;
      // Keep the action form in step with changes made by others, unless it is being edited.
      var h = $("#conv-header"), form = $("#update-form");
      if (h && form && !form.contains(document.activeElement)) {
        var set = function (name, v) { var el = form.elements[name]; if (el && v !== undefined) el.value = v; };
        set("status", h.dataset.status);
        set("priority", h.dataset.priority);
        set("assignee", h.dataset.assignee);
      }
    });

  // ---- server-sent events ----
  var live = $("#live-status");
  function setLive(on) {
    if (!live) return;
    live.textContent = on ? live.dataset.on : live.dataset.off;
    live.classList.toggle("on", on);
  }
  if (window.EventSource && (page === "inbox" || page === "conversation")) {
    var es = new EventSource("/ui/events");
    // Whatever changed between rendering the page and (re)connecting is fetched once on open.
    es.onopen = function () {
      setLive(true);
      if (page === "inbox") refreshInbox();
      if (page === "conversation") refreshThread();
      body.dataset.live = "1";
    };
    es.onerror = function () { setLive(false); };
    var onChange = function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (_) { return; }
      if (page === "inbox") refreshInbox();
      if (page === "conversation" && ev.conversation_id === convId) refreshThread();
    };
    ["conversation.created", "conversation.updated", "message.created", "message.updated"].forEach(function (t) {
      es.addEventListener(t, onChange);
    });
    es.addEventListener("lagged", function () {
      if (page === "inbox") refreshInbox();
      if (page === "conversation") refreshThread();
    });
    es.addEventListener("presence", function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (_) { return; }
      if (page === "conversation" && ev.conversation_id === convId && ev.data) onPresence(ev.data);
    });
  }

  // ---- presence: who else is here (collision detection) ----
  // No server state: each page reports every 10 s (and while typing); a person whose reports
  // stop for 30 s, or who leaves, disappears; "typing" lasts 6 s after the last report.
  var presenceEl = $("#presence");
  var seen = {};
  var lastIntro = 0;
  function onPresence(p) {
    if (p.user_id === me) return;
    if (p.state === "left") { delete seen[p.user_id]; }
    else {
      // Someone new arrived: tell them we are here too, instead of making them wait for our
      // next periodic report.
      if (!seen[p.user_id] && Date.now() - lastIntro > 3000) { lastIntro = Date.now(); report("viewing"); }
      var now = Date.now();
      var prev = seen[p.user_id];
      seen[p.user_id] = { name: p.name, at: now, typingUntil: p.state === "typing" ? now + 6000 : (prev ? prev.typingUntil : 0) };
    }
    renderPresence();
  }
  function renderPresence() {
    if (!presenceEl) return;
    var now = Date.now();
    var lines = [];
    Object.keys(seen).forEach(function (k) {
      var s = seen[k];
      if (now - s.at > 30000) { delete seen[k]; return; }
      var tpl = s.typingUntil > now ? presenceEl.dataset.typing : presenceEl.dataset.viewing;
      lines.push(tpl.replace("__NAME__", s.name));
    });
    presenceEl.textContent = lines.join(" · ");
    presenceEl.classList.toggle("active", lines.length > 0);
  }
  setInterval(renderPresence, 2000);
  function report(state, keepalive) {
    if (!caseNo) return;
    fetch("/ui/presence", {
      method: "POST",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ case: caseNo, state: state })
    }).catch(function () {});
  }
  if (page === "conversation") {
    report("viewing");
    setInterval(function () { report("viewing"); renderPresence(); }, 10000);
    window.addEventListener("pagehide", function () { report("left", true); });
  }

  // ---- X's weighted length (twitter-text v3, as crates/channels/src/x/text.rs counts) ----
  // Code points in the Latin and general-punctuation ranges weigh 1, others (CJK …) 2, an emoji
  // sequence 2, every URL 23.
  var LIGHT = [[0, 4351], [8192, 8205], [8208, 8223], [8242, 8247]];
  function isLight(u) { for (var i = 0; i < LIGHT.length; i++) { if (u >= LIGHT[i][0] && u <= LIGHT[i][1]) return true; } return false; }
  function isEmojiStart(u) { return (u >= 0x1F000 && u <= 0x1FAFF) || (u >= 0x2600 && u <= 0x27BF) || (u >= 0x2B00 && u <= 0x2BFF); }
  function isRegional(u) { return u >= 0x1F1E6 && u <= 0x1F1FF; }
  function isModifier(u) { return u === 0xFE0F || u === 0xFE0E || u === 0x20E3 || (u >= 0x1F3FB && u <= 0x1F3FF) || (u >= 0xE0020 && u <= 0xE007F); }
  function isUrl(w) {
    var l = w.toLowerCase();
    return (l.indexOf("http://") === 0 && l.length > 7) || (l.indexOf("https://") === 0 && l.length > 8) || (l.indexOf("www.") === 0 && l.length > 5);
  }
  function wordWeight(w) {
    var cps = Array.from(w).map(function (ch) { return ch.codePointAt(0); });
    var total = 0, i = 0;
    while (i < cps.length) {
      var c = cps[i++], next = cps[i];
      var keycap = ((c >= 48 && c <= 57) || c === 35 || c === 42) && (next === 0xFE0F || next === 0x20E3);
      if (isEmojiStart(c) || keycap) {
        total += 2;
        if (isRegional(c) && next !== undefined && isRegional(next)) i++;
        for (;;) {
          var m = cps[i];
          if (m !== undefined && isModifier(m)) i++;
          else if (m === 0x200D) i += 2;
          else break;
        }
      } else {
        total += isLight(c) ? 1 : 2;
      }
    }
    return total;
  }
  function xLength(s) {
    var total = 0;
    s.split(/(\s+)/).forEach(function (part) {
      if (!part) return;
      if (/^\s+$/.test(part)) Array.from(part).forEach(function (ch) { total += isLight(ch.codePointAt(0)) ? 1 : 2; });
      else total += isUrl(part) ? 23 : wordWeight(part);
    });
    return total;
  }
  window.switchboardXLength = xLength;

  // ---- composer ----
  var composer = $("#composer");
  if (composer) {
    var text = $("#composer-text");
    var vis = $("#visibility");
    var warn = $("#composer-warning");
    var count = $("#char-count");
    var limit = parseInt(composer.dataset.limit || "0", 10);
    var lastTyping = 0;
    var kind = function () { var k = $('input[name="kind"]:checked', composer); return k ? k.value : "reply"; };
    var update = function () {
      var note = kind() === "note";
      vis.disabled = note;
      composer.classList.toggle("is-note", note);
      composer.classList.toggle("is-public", !note && vis.value === "public");
      warn.textContent = note ? warn.dataset.note : (vis.value === "public" ? warn.dataset.public : warn.dataset.private);
      var n = composer.dataset.weighting === "x" ? xLength(text.value) : Array.from(text.value).length;
      if (limit > 0 && !note) {
        count.textContent = n + " / " + limit + (n > limit ? " — " + count.dataset.over : "");
        count.classList.toggle("over", n > limit);
      } else {
        count.textContent = n > 0 ? String(n) : "";
        count.classList.remove("over");
      }
    };
    $all('input[name="kind"]', composer).forEach(function (r) { r.addEventListener("change", update); });
    vis.addEventListener("change", update);
    text.addEventListener("input", function () {
      update();
      var now = Date.now();
      if (now - lastTyping > 2000) { lastTyping = now; report("typing"); }
    });
    // Canned replies: "/shortcut" offers matches rendered for this conversation.
    var list = $("#canned-list");
    var items = [], sel = 0, asked = "";
    var showCanned = function (found) {
      items = found; sel = 0;
      list.innerHTML = "";
      found.forEach(function (c, i) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.id = "canned-" + i;
        var sc = document.createElement("span"); sc.className = "shortcut"; sc.textContent = "/" + c.shortcut;
        var ti = document.createElement("span"); ti.textContent = c.title;
        var bo = document.createElement("span"); bo.className = "body"; bo.textContent = c.text;
        li.appendChild(sc); li.appendChild(ti); li.appendChild(bo);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); insertCanned(i); });
        list.appendChild(li);
      });
      list.hidden = found.length === 0;
      markCanned();
    };
    var markCanned = function () {
      $all("li", list).forEach(function (li, i) { li.setAttribute("aria-selected", i === sel ? "true" : "false"); });
      if (items.length) text.setAttribute("aria-activedescendant", "canned-" + sel); else text.removeAttribute("aria-activedescendant");
    };
    var insertCanned = function (i) {
      var c = items[i]; if (!c) return;
      text.value = c.text;
      showCanned([]);
      update();
      fetch("/ui/canned/" + c.id + "/use", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } }).catch(function () {});
    };
    var lookCanned = function () {
      var m = /^\/([\w-]*)$/.exec(text.value);
      if (!m) { if (items.length) showCanned([]); asked = ""; return; }
      if (m[1] === asked && items.length) return;
      asked = m[1];
      fetch("/ui/canned?case=" + encodeURIComponent(caseNo) + "&q=" + encodeURIComponent(m[1]), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (found) { if (text.value === "/" + m[1]) showCanned(found); })
        .catch(function () {});
    };
    text.addEventListener("input", lookCanned);
    text.addEventListener("keydown", function (e) {
      if (items.length && !list.hidden) {
        if (e.key === "ArrowDown") { e.preventDefault(); sel = (sel + 1) % items.length; markCanned(); return; }
        if (e.key === "ArrowUp") { e.preventDefault(); sel = (sel - 1 + items.length) % items.length; markCanned(); return; }
        if ((e.key === "Enter" && !e.ctrlKey && !e.metaKey) || e.key === "Tab") { e.preventDefault(); insertCanned(sel); return; }
        if (e.key === "Escape") { e.preventDefault(); showCanned([]); return; }
      }
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); composer.requestSubmit(); }
    });
    composer.addEventListener("submit", function () {
      var b = $("#send"); if (b) b.disabled = true;
    });
    update();
  }

  // ---- WhatsApp template picker: the approved body with the parameters filled in ----
  var pick = $("#template-pick"), tplParams = $("#template-params"), tplPreview = $("#template-preview");
  if (pick && tplParams && tplPreview) {
    var showTemplate = function () {
      var o = pick.options[pick.selectedIndex];
      if (!o) return;
      var vals = tplParams.value.split("\n").map(function (l) { return l.trim(); }).filter(function (l) { return l; });
      tplPreview.textContent = (o.dataset.body || "").replace(/\{\{\s*(\d+)\s*\}\}/g, function (m, n) {
        var v = vals[parseInt(n, 10) - 1]; return v === undefined ? m : v;
      });
      tplParams.rows = Math.max(1, parseInt(o.dataset.params || "0", 10));
    };
    pick.addEventListener("change", showTemplate);
    tplParams.addEventListener("input", showTemplate);
    showTemplate();
  }

  // ---- keyboard shortcuts ----
  var dialog = $("#shortcuts");
  var pendingG = false;
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  function moveInInbox(step) {
    var links = $all("#inbox-list li a");
    if (!links.length) return;
    var i = links.indexOf(document.activeElement);
    var next = links[Math.max(0, Math.min(links.length - 1, i < 0 ? 0 : i + step))];
    next.focus();
  }
  function submit(id) { var f = $(id); if (f) f.requestSubmit(); }
  function pickKind(k) {
    var r = $('input[name="kind"][value="' + k + '"]');
    if (r && !r.disabled) { r.checked = true; r.dispatchEvent(new Event("change")); }
    var t = $("#composer-text"); if (t) t.focus();
  }
  if (dialog) {
    $("[data-close]", dialog).addEventListener("click", function () { dialog.hidden = true; });
  }
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && dialog && !dialog.hidden) { dialog.hidden = true; return; }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (pendingG) {
      pendingG = false;
      if (e.key === "i") { location.href = "/inbox"; e.preventDefault(); }
      return;
    }
    switch (e.key) {
      case "?": if (dialog) { dialog.hidden = !dialog.hidden; if (!dialog.hidden) $("[data-close]", dialog).focus(); } break;
      case "g": pendingG = true; setTimeout(function () { pendingG = false; }, 1000); return;
      case "j": if (page === "inbox") moveInInbox(1); else return; break;
      case "k": if (page === "inbox") moveInInbox(-1); else return; break;
      case "/": { var s = $("#search"); if (s) s.focus(); else return; } break;
      case "r": if (page === "conversation") pickKind("reply"); else return; break;
      case "n": if (page === "conversation") pickKind("note"); else return; break;
      case "a": if (page === "conversation") submit("#assign-me-form"); else return; break;
      case "e": if (page === "conversation") submit("#resolve-form"); else return; break;
      default: return;
    }
    e.preventDefault();
  });
})();
