// Switchboard website chat widget. Embedded with
//   <script src="https://desk.example/widget.js" data-key="PUBLIC_KEY" async></script>
// Messages go out as POSTs carrying a client message id (a retry is the same message) and come
// back on a server-sent event stream read from the last sequence number seen, so a dropped
// connection loses and doubles nothing. Text is only ever set with textContent.
(function () {
  "use strict";
  var me = document.currentScript || document.querySelector("script[data-key][src*='widget.js']");
  if (!me || window.__switchboardWidget) return;
  window.__switchboardWidget = true;
  var KEY = me.getAttribute("data-key") || "";
  var BASE = new URL(me.src, location.href).origin;
  var API = BASE + "/widget/v1/";
  var SKEY = "switchboard-widget:" + KEY;
  var ident = { user_id: me.dataset.userId, user_hash: me.dataset.userHash, name: me.dataset.name, email: me.dataset.email };

  var saved = {};
  try { saved = JSON.parse(localStorage.getItem(SKEY) || "{}") || {}; } catch (_) { saved = {}; }
  var S = { token: saved.token || null, pending: saved.pending || [], open: !!saved.open, name: saved.name || "", email: saved.email || "" };
  function save() {
    try {
      localStorage.setItem(SKEY, JSON.stringify({ token: S.token, pending: S.pending, open: S.open, name: S.name, email: S.email }));
    } catch (_) { /* private mode: the chat still works until the page closes */ }
  }

  var cfg = null, T = {}, lastSeq = 0, shown = {}, es = null, backoff = 500, retryTimer = null;
  function t(k, args) {
    var s = T[k] || k;
    if (args) Object.keys(args).forEach(function (a) { s = s.split("{" + a + "}").join(args[a]); });
    return s;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  // Icons are drawn, not emoji: every system has the glyphs.
  function icon(d) {
    var NS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", "24"); svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    var p = document.createElementNS(NS, "path");
    p.setAttribute("d", d); p.setAttribute("fill", "none"); p.setAttribute("stroke", "currentColor");
    p.setAttribute("stroke-width", "2"); p.setAttribute("stroke-linecap", "round"); p.setAttribute("stroke-linejoin", "round");
    svg.appendChild(p);
    return svg;
  }
  function rid() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function post(path, body) {
    return fetch(API + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), credentials: "omit" })
      .then(function (r) {
        return r.text().then(function (txt) {
          var j = null;
          try { j = txt ? JSON.parse(txt) : null; } catch (_) { j = null; }
          if (!r.ok) { var e = new Error((j && j.error && j.error.message) || ("HTTP " + r.status)); e.status = r.status; throw e; }
          return j;
        });
      });
  }

  // ---- DOM (in a shadow root, so the site's styles and ours never meet) ----
  var host = el("div");
  host.id = "switchboard-widget";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = el("link");
  css.rel = "stylesheet";
  css.href = BASE + "/widget.css";
  root.appendChild(css);
  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("part", "launcher");
  var panel = el("section", "panel");
  panel.hidden = true;
  var head = el("header", "head");
  var title = el("strong", "title");
  var status = el("div", "status");
  var close = el("button", "close", "\u00d7");
  close.type = "button";
  head.appendChild(title); head.appendChild(status); head.appendChild(close);
  var banner = el("div", "banner");
  banner.hidden = true;
  var pre = el("form", "prechat");
  var intro = el("p", "intro");
  var nameIn = el("input"); nameIn.name = "name"; nameIn.autocomplete = "name"; nameIn.maxLength = 100;
  var emailIn = el("input"); emailIn.name = "email"; emailIn.type = "email"; emailIn.autocomplete = "email";
  var offlineMsg = el("textarea"); offlineMsg.name = "message"; offlineMsg.rows = 3; offlineMsg.hidden = true;
  var nameL = el("label"), emailL = el("label");
  var startB = el("button", "primary"); startB.type = "submit";
  var preErr = el("p", "error");
  [intro, nameL, nameIn, emailL, emailIn, offlineMsg, startB, preErr].forEach(function (n) { pre.appendChild(n); });
  var chat = el("div", "chat"); chat.hidden = true;
  var list = el("ol", "messages"); list.setAttribute("aria-live", "polite");
  var typingEl = el("div", "typing");
  var comp = el("form", "composer");
  var fileIn = el("input"); fileIn.type = "file"; fileIn.hidden = true;
  var attach = el("button", "attach"); attach.type = "button";
  attach.appendChild(icon("M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7"));
  var text = el("textarea"); text.rows = 1; text.name = "text";
  var send = el("button", "send primary"); send.type = "submit";
  var compErr = el("p", "error");
  [fileIn, attach, text, send].forEach(function (n) { comp.appendChild(n); });
  chat.appendChild(list); chat.appendChild(typingEl); chat.appendChild(comp); chat.appendChild(compErr);
  panel.appendChild(head); panel.appendChild(banner); panel.appendChild(pre); panel.appendChild(chat);
  root.appendChild(launcher); root.appendChild(panel);

  function offline() { return cfg && cfg.hours && cfg.hours.open === false; }
  function replyBy() {
    var at = cfg.hours.next_open ? new Date(cfg.hours.next_open) : null;
    if (!at) return t("widget-offline-title");
    var opts = { hour: "2-digit", minute: "2-digit" };
    if (at.toDateString() !== new Date().toDateString()) opts.weekday = "short";
    return t("widget-reply-by", { time: at.toLocaleTimeString(cfg.locale, opts) });
  }
  function applyTexts() {
    launcher.setAttribute("aria-label", t("widget-open"));
    launcher.textContent = "";
    launcher.appendChild(icon("M21 12a8 8 0 0 1-11.6 7.1L4 21l1.9-5.4A8 8 0 1 1 21 12z"));
    close.setAttribute("aria-label", t("widget-close"));
    title.textContent = cfg.title || t("widget-title");
    status.textContent = offline() ? replyBy() : t("widget-online");
    intro.textContent = offline() ? t("widget-offline-intro") : t("widget-intro");
    nameL.textContent = t("widget-name") + " (" + t("widget-optional") + ")";
    emailL.textContent = t("widget-email") + (offline() ? "" : " (" + t("widget-optional") + ")");
    emailIn.required = offline();
    offlineMsg.hidden = !offline();
    offlineMsg.placeholder = t("widget-placeholder");
    startB.textContent = offline() ? t("widget-offline-send") : t("widget-start");
    text.placeholder = t("widget-placeholder");
    text.maxLength = cfg.limits.max_text;
    send.textContent = t("widget-send");
    attach.setAttribute("aria-label", t("widget-attach"));
    attach.hidden = !cfg.limits.max_upload_bytes;
    fileIn.accept = (cfg.limits.upload_types || []).join(",");
    banner.textContent = t("widget-reconnecting");
    nameIn.value = S.name || ident.name || "";
    emailIn.value = S.email || ident.email || "";
  }
  function view() {
    panel.hidden = !S.open;
    launcher.setAttribute("aria-expanded", S.open ? "true" : "false");
    pre.hidden = !!S.token;
    chat.hidden = !S.token;
  }
  launcher.addEventListener("click", function () { S.open = !S.open; save(); view(); if (S.open && S.token) text.focus(); });
  close.addEventListener("click", function () { S.open = false; save(); view(); });

  // ---- the thread ----
  function initials(n) {
    return (n || "?").split(/\s+/).filter(Boolean).slice(0, 2).map(function (w) { return w.charAt(0).toUpperCase(); }).join("") || "?";
  }
  function fileUrl(id) { return API + "uploads/" + encodeURIComponent(id) + "?key=" + encodeURIComponent(KEY) + "&token=" + encodeURIComponent(S.token); }
  function render(m, pending) {
    var li = el("li", "msg " + (m.direction === "agent" ? "agent" : "visitor") + (pending ? " pending" : ""));
    if (m.seq) li.dataset.seq = m.seq;
    if (m.client_id) li.dataset.client = m.client_id;
    if (m.direction === "agent") {
      var who = el("div", "who");
      var name = (m.author && m.author.name) || t("widget-agent");
      var av = el("span", "avatar", initials(name));
      av.setAttribute("aria-hidden", "true");
      who.appendChild(av); who.appendChild(el("span", "name", name));
      li.appendChild(who);
    }
    if (m.text) li.appendChild(el("div", "text", m.text));
    (m.attachments || []).forEach(function (a) {
      var link = el("a", "file", a.name || "file");
      if (S.token && a.id) {
        link.href = fileUrl(a.id); link.target = "_blank"; link.rel = "noopener";
        // An agent's image shows inline; any file opens with this visitor's token only.
        if (/^image\//.test(a.mime_type || "")) { var img = el("img", "thumb"); img.src = fileUrl(a.id); img.alt = a.name || ""; link.insertBefore(img, link.firstChild); }
      }
      li.appendChild(link);
    });
    if (m.buttons && m.buttons.length) {
      var row = el("div", "buttons");
      m.buttons.forEach(function (b) {
        var btn = el("button", "choice", b.text);
        btn.type = "button";
        btn.addEventListener("click", function () {
          Array.prototype.forEach.call(row.querySelectorAll("button"), function (x) { x.disabled = true; });
          btn.classList.add("chosen");
          queue({ text: b.text, button_data: b.data });
        });
        row.appendChild(btn);
      });
      li.appendChild(row);
    }
    if (pending) li.appendChild(el("div", "state", m.failed ? m.failed : t("widget-sending")));
    return li;
  }
  function onItem(m) {
    if (m.seq <= lastSeq || shown[m.seq]) return;
    shown[m.seq] = true;
    lastSeq = m.seq;
    if (m.client_id) {
      S.pending = S.pending.filter(function (p) { return p.client_id !== m.client_id; });
      save();
      var old = list.querySelector("li.pending[data-client='" + m.client_id + "']");
      if (old) old.remove();
    }
    if (m.direction === "agent") showTyping(null);
    var li = render(m, false);
    var firstPending = list.querySelector("li.pending");
    list.insertBefore(li, firstPending);
    list.scrollTop = list.scrollHeight;
  }
  function renderPending() {
    Array.prototype.forEach.call(list.querySelectorAll("li.pending"), function (n) { n.remove(); });
    S.pending.forEach(function (p) { list.appendChild(render({ direction: "visitor", text: p.text, client_id: p.client_id, attachments: p.files }, true)); });
    list.scrollTop = list.scrollHeight;
  }
  var typingTimer = null;
  function showTyping(d) {
    clearTimeout(typingTimer);
    typingEl.textContent = d && d.typing ? t("widget-typing", { name: d.name || t("widget-agent") }) : "";
    if (d && d.typing) typingTimer = setTimeout(function () { typingEl.textContent = ""; }, 6000);
  }

  // ---- the live stream, resumed from the last sequence number ----
  function connect() {
    if (!S.token || es) return;
    es = new EventSource(API + "stream?key=" + encodeURIComponent(KEY) + "&token=" + encodeURIComponent(S.token) + "&after=" + lastSeq);
    es.addEventListener("open", function () { backoff = 500; banner.hidden = true; host.dataset.live = "1"; flush(); });
    es.addEventListener("message", function (e) { var m; try { m = JSON.parse(e.data); } catch (_) { return; } onItem(m); });
    es.addEventListener("typing", function (e) { try { showTyping(JSON.parse(e.data)); } catch (_) { /* ignore */ } });
    es.addEventListener("error", function () {
      // Our own reconnect, so that it always resumes from the cursor we hold.
      es.close(); es = null; host.dataset.live = "0"; banner.hidden = false;
      setTimeout(function () { resume(); }, backoff);
      backoff = Math.min(backoff * 2, 10000);
    });
  }
  function resume() {
    // The token may be gone (server data reset): start over with a new session when asked.
    post("session", { key: KEY, token: S.token, user_id: ident.user_id, user_hash: ident.user_hash })
      .then(function (s) { if (s.token !== S.token) { S.token = s.token; lastSeq = 0; shown = {}; list.textContent = ""; save(); renderPending(); } connect(); })
      .catch(function (e) { if (e.status === 401) { S.token = null; save(); view(); } else { setTimeout(resume, backoff); backoff = Math.min(backoff * 2, 10000); } });
  }

  // ---- sending: every message keeps its client id until the stream shows it ----
  function queue(p) {
    p.client_id = p.client_id || rid();
    S.pending.push(p);
    save();
    renderPending();
    flush();
  }
  var flushing = false;
  function flush() {
    if (flushing || !S.token) return;
    var p = S.pending.filter(function (x) { return !x.sent && !x.failed; })[0];
    if (!p) return;
    flushing = true;
    post("messages", { key: KEY, token: S.token, client_id: p.client_id, text: p.text || "", attachments: (p.files || []).map(function (f) { return f.id; }), button_data: p.button_data, page: location.href.slice(0, 2048) })
      .then(function () { p.sent = true; save(); flushing = false; flush(); })
      .catch(function (e) {
        flushing = false;
        if (e.status && e.status >= 400 && e.status < 500 && e.status !== 429 && e.status !== 408) {
          p.failed = e.message; save(); renderPending();
          S.pending = S.pending.filter(function (x) { return x !== p; }); save();
          flush();
        } else {
          clearTimeout(retryTimer);
          retryTimer = setTimeout(flush, Math.min(backoff * 2, 10000));
        }
      });
  }

  function start(ev) {
    ev.preventDefault();
    preErr.textContent = "";
    if (offline() && !emailIn.value.trim()) { preErr.textContent = t("widget-email-required"); return; }
    S.name = nameIn.value.trim(); S.email = emailIn.value.trim();
    post("session", { key: KEY, token: S.token, name: S.name || null, email: S.email || null, user_id: ident.user_id, user_hash: ident.user_hash })
      .then(function (s) {
        S.token = s.token; save(); view(); connect();
        if (offline() && offlineMsg.value.trim()) { queue({ text: offlineMsg.value.trim() }); offlineMsg.value = ""; list.appendChild(el("li", "note", t("widget-offline-sent"))); }
        text.focus();
      })
      .catch(function (e) { preErr.textContent = e.message || t("widget-error"); });
  }
  pre.addEventListener("submit", start);
  comp.addEventListener("submit", function (ev) {
    ev.preventDefault();
    compErr.textContent = "";
    var v = text.value;
    if (!v.trim()) return;
    if (v.length > cfg.limits.max_text) { compErr.textContent = t("widget-too-long", { max: cfg.limits.max_text }); return; }
    text.value = "";
    typed(false);
    queue({ text: v });
  });
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); comp.requestSubmit ? comp.requestSubmit() : comp.dispatchEvent(new Event("submit")); }
  });
  var lastTyping = 0, idle = null;
  function typed(on) {
    if (!S.token) return;
    if (!on) { lastTyping = 0; clearTimeout(idle); }
    post("typing", { key: KEY, token: S.token, typing: on }).catch(function () { /* best effort */ });
  }
  text.addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTyping > 3000) { lastTyping = now; typed(true); }
    clearTimeout(idle);
    idle = setTimeout(function () { lastTyping = 0; typed(false); }, 4000);
  });
  attach.addEventListener("click", function () { fileIn.click(); });
  fileIn.addEventListener("change", function () {
    var f = fileIn.files && fileIn.files[0];
    fileIn.value = "";
    compErr.textContent = "";
    if (!f) return;
    if (f.size > cfg.limits.max_upload_bytes) { compErr.textContent = t("widget-upload-too-big", { max: Math.round(cfg.limits.max_upload_bytes / 1048576) + " MB" }); return; }
    if ((cfg.limits.upload_types || []).indexOf(f.type) < 0) { compErr.textContent = t("widget-upload-type"); return; }
    fetch(API + "uploads?key=" + encodeURIComponent(KEY) + "&token=" + encodeURIComponent(S.token) + "&name=" + encodeURIComponent(f.name), { method: "POST", headers: { "content-type": f.type }, body: f, credentials: "omit" })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error((j.error && j.error.message) || "upload failed"); return j; }); })
      .then(function (u) { queue({ text: "", files: [u] }); })
      .catch(function (e) { compErr.textContent = e.message; });
  });

  function boot() {
    fetch(API + "config?key=" + encodeURIComponent(KEY) + "&locale=" + encodeURIComponent((navigator.languages && navigator.languages[0]) || navigator.language || "en"), { credentials: "omit" })
      .then(function (r) { if (!r.ok) throw new Error("config " + r.status); return r.json(); })
      .then(function (c) {
        cfg = c; T = c.texts || {};
        applyTexts(); view(); renderPending();
        (document.body || document.documentElement).appendChild(host);
        if (S.token) resume();
      })
      .catch(function () { setTimeout(boot, Math.min(backoff *= 2, 30000)); });
  }
  window.SwitchboardWidget = {
    // Signing in later (a single-page site): the anonymous chat so far joins the signed-in one.
    identify: function (o) { ident = o || {}; if (S.token && cfg) { if (es) { es.close(); es = null; } resume(); } },
    open: function () { S.open = true; save(); view(); }
  };
  boot();
})();
