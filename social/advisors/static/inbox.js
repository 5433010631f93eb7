/* The advisor's inbox panel: redrawn from the server when a client's message arrives. */
(function () {
  "use strict";
  var panel = document.getElementById("inbox");
  if (!panel) { return; }
  var me = panel.dataset.me;
  var timer = null;

  function refresh() {
    timer = null;
    fetch("/console/advisor/inbox?panel=1", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { panel.innerHTML = html; } });
  }

  Quanzi.live({
    frame: function (f) {
      if (f.op === "message" && f.message && f.message.sender_id !== me && timer === null) {
        timer = setTimeout(refresh, 300);
      }
    }
  });
})();
