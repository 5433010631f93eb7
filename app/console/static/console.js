/* Quanzi consoles: what every page's script needs.
 *
 * Quanzi.post(url, data)    POST JSON with the session's CSRF token; resolves to the JSON answer.
 * Quanzi.live(handlers)     the app's own realtime protocol (/v1/ws, docs/protocol.md): fetches a
 *                           token for this session, authenticates with a first frame, answers
 *                           pings, reconnects with backoff; handlers.ready(send), handlers.frame(f).
 * Quanzi.text(id)           a phrase the page put in <script type="application/json" id="texts">.
 */
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRF-Token": csrf()
      },
      body: JSON.stringify(data || {})
    }).then(function (r) {
      if (r.status === 401) { window.location.assign("/console/login?next=" + encodeURIComponent(location.pathname)); }
      return r.json().then(function (body) {
        if (!r.ok) { var e = new Error((body.error && body.error.message) || r.statusText); e.body = body; throw e; }
        return body;
      });
    });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var texts = null;
  function text(id) {
    if (texts === null) {
      var el = document.getElementById("texts");
      texts = el ? JSON.parse(el.textContent) : {};
    }
    return texts[id] || id;
  }

  function live(handlers) {
    var banner = document.getElementById("live-banner");
    var delay = 1000;
    var ws = null;
    var closed = false;

    function send(frame) {
      if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
      return false;
    }

    function retry() {
      if (closed) { return; }
      if (banner) { banner.hidden = false; }
      var wait = Math.min(delay, 30000) * (0.8 + Math.random() * 0.4);
      delay = Math.min(delay * 2, 30000);
      setTimeout(open, wait);
    }

    function open() {
      post("/console/ws-token", {}).then(function (answer) {
        var scheme = location.protocol === "https:" ? "wss://" : "ws://";
        ws = new WebSocket(scheme + location.host + "/v1/ws");
        ws.onopen = function () { ws.send(JSON.stringify({ op: "auth", token: answer.token })); };
        ws.onmessage = function (event) {
          var frame;
          try { frame = JSON.parse(event.data); } catch (e) { return; }
          if (frame.op === "ping") { send({ op: "pong" }); return; }
          if (frame.op === "ready") {
            delay = 1000;
            if (banner) { banner.hidden = true; }
            document.body.dataset.live = "ready";
            if (handlers.ready) { handlers.ready(send); }
            return;
          }
          if (handlers.frame) { handlers.frame(frame, send); }
        };
        ws.onclose = function () { document.body.dataset.live = "closed"; retry(); };
      }).catch(retry);
    }

    window.addEventListener("pagehide", function () { closed = true; if (ws) { ws.close(1000); } });
    open();
    return { send: send };
  }

  /* "MM-DD HH:MM" in the bank's time zone, as the server renders times. */
  function time(iso) {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: document.body.dataset.tz || undefined, month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hour12: false
    }).formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
  }

  window.Quanzi = { csrf: csrf, post: post, live: live, uuid: uuid, text: text, time: time };
})();
