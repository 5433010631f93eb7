/* The advisor's live chat with a client, over the app's own protocol (docs/protocol.md).
 *
 * Messages are keyed by seq: one that is already shown is never drawn twice, and each is
 * placed in seq order whatever order frames arrive in. After every (re)connect the page
 * syncs from the highest seq it holds contiguously; a gap triggers a sync too. Messages
 * from the client are marked read while the page is visible.
 */
(function () {
  "use strict";
  var panel = document.getElementById("chat-panel");
  if (!panel) { return; }
  var conversation = panel.dataset.conversation;
  var me = panel.dataset.me;
  var clientRead = parseInt(panel.dataset.clientRead || "0", 10);
  var log = panel.querySelector(".chat-log");
  var form = document.getElementById("chat-send");
  var input = form.querySelector("input[name=text]");
  var shown = {};
  var held = 0;       // the highest seq held with no gap below it
  var readSent = 0;
  var live = null;

  Array.prototype.forEach.call(log.querySelectorAll(".msg[data-seq]"), function (el) {
    shown[el.dataset.seq] = el;
  });
  advance();

  function advance() {
    while (shown[held + 1]) { held += 1; }
  }

  function fen(v) { return "¥" + (v / 100).toFixed(2); }

  function describe(m) {
    var b = m.body || {};
    var span = document.createElement("span");
    if (m.kind === "text") { span.className = "text"; span.textContent = b.text || ""; }
    else if (m.kind === "product") {
      span.className = "product";
      var strong = document.createElement("strong");
      strong.textContent = Quanzi.text("product");
      var a = document.createElement("a");
      a.href = b.link || "#"; a.rel = "noopener"; a.target = "_blank"; a.textContent = b.title || "";
      span.appendChild(strong); span.appendChild(document.createTextNode(" · ")); span.appendChild(a);
    }
    else if (m.kind === "transfer") { span.textContent = Quanzi.text("transfer") + " " + fen(b.amount_fen || 0) + " · " + (b.status || ""); }
    else if (m.kind === "red_packet") { span.textContent = Quanzi.text("red_packet") + " " + fen(b.total_fen || 0) + " × " + (b.count || ""); }
    else if (m.kind === "image") { span.textContent = Quanzi.text("image"); }
    else { span.textContent = Quanzi.text("system") + ": " + (b.event || ""); }
    return span;
  }

  function draw(seq, m) {
    if (shown[seq]) { return; }
    var el = document.createElement("div");
    var mine = m.sender_id === me;
    el.className = "msg " + (mine ? "mine" : (m.sender_id === null ? "system" : "theirs"));
    el.dataset.seq = String(seq);
    el.dataset.kind = m.kind;
    el.appendChild(describe(m));
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = "#" + seq + " · " + Quanzi.time(m.created_at);
    if (mine) {
      var mark = document.createElement("span");
      mark.className = "read-mark";
      mark.textContent = " · " + (seq <= clientRead ? Quanzi.text("read") : Quanzi.text("unread"));
      meta.appendChild(mark);
    }
    el.appendChild(meta);
    var after = null;
    Array.prototype.some.call(log.querySelectorAll(".msg[data-seq]"), function (other) {
      if (parseInt(other.dataset.seq, 10) > seq) { after = other; return true; }
      return false;
    });
    log.insertBefore(el, after || log.querySelector(".msg.pending"));
    shown[seq] = el;
    advance();
    log.scrollTop = log.scrollHeight;
  }

  function markRead(send) {
    if (document.visibilityState !== "visible" || held <= readSent) { return; }
    readSent = held;
    send({ op: "read", conversation_id: conversation, seq: held });
  }

  live = Quanzi.live({
    ready: function (send) {
      send({ op: "sync", conversation_id: conversation, after_seq: held });
    },
    frame: function (f, send) {
      if (f.conversation_id !== conversation) { return; }
      if (f.op === "message") {
        draw(f.seq, f.message);
        if (f.seq > held + 1) {  // a gap: fetch what is missing
          send({ op: "sync", conversation_id: conversation, after_seq: held });
        }
        markRead(send);
      } else if (f.op === "synced") {
        if (f.more) { send({ op: "sync", conversation_id: conversation, after_seq: f.seq }); }
        markRead(send);
      } else if (f.op === "ack") {
        var pending = log.querySelector('.msg.pending[data-cid="' + f.cid + '"]');
        if (pending) { pending.remove(); }
        if (!shown[f.seq]) {  // the push of our own message is late: fetch it
          setTimeout(function () {
            if (!shown[f.seq]) { send({ op: "sync", conversation_id: conversation, after_seq: held }); }
          }, 1000);
        }
      } else if (f.op === "error" && f.cid) {
        var failed = log.querySelector('.msg.pending[data-cid="' + f.cid + '"]');
        if (failed) { failed.classList.add("failed"); failed.querySelector(".meta").textContent = Quanzi.text("failed"); }
      }
    }
  });

  document.addEventListener("visibilitychange", function () { if (live) { markRead(live.send); } });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    var cid = Quanzi.uuid();
    var frame = { op: "send", cid: cid, conversation_id: conversation, body: { kind: "text", text: text } };
    if (!live.send(frame)) { return; }
    var pending = document.createElement("div");
    pending.className = "msg mine pending";
    pending.dataset.cid = cid;
    var body = document.createElement("span");
    body.textContent = text;
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = Quanzi.text("sending");
    pending.appendChild(body); pending.appendChild(meta);
    log.appendChild(pending);
    log.scrollTop = log.scrollHeight;
    input.value = "";
  });
})();
