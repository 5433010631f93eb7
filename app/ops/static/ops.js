/* The dashboard redraws its figures and charts (drawn on the server) every few seconds. */
(function () {
  "use strict";
  var panel = document.getElementById("ops-panel");
  if (!panel) { return; }
  var every = Math.max(5, parseInt(panel.dataset.every || "10", 10)) * 1000;
  function refresh() {
    if (document.visibilityState !== "visible") { return; }
    fetch("/console/ops/panel?window=" + encodeURIComponent(panel.dataset.window), { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401 || r.redirected) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html) { panel.innerHTML = html; } });
  }
  setInterval(refresh, every);
})();
