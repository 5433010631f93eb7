/* The review queue, worked with the keyboard (like Discourse's review queue):
 *   j / k   next / previous item        a   approve        r   remove
 *   e       escalate                    Enter   open the item
 * A decision uses the reason typed above the queue, or the default reason for it. Decided
 * rows stay in place, marked, and the selection moves on. New items arrive live over
 * /v1/ws as {"op":"moderation","event":"item_opened"} frames and join the end of the queue.
 */
(function () {
  "use strict";
  var table = document.getElementById("queue");
  if (!table) { return; }
  var body = table.querySelector("tbody");
  var reasonInput = document.getElementById("decision-reason");
  var index = -1;

  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr[data-item]")); }

  function select(i) {
    var all = rows();
    if (!all.length) { return; }
    index = Math.max(0, Math.min(i, all.length - 1));
    all.forEach(function (row, n) { row.classList.toggle("selected", n === index); });
    all[index].scrollIntoView({ block: "nearest" });
    all[index].focus({ preventScroll: true });
  }

  function nextOpen(from) {
    var all = rows();
    for (var i = from + 1; i < all.length; i++) { if (!all[i].dataset.decided) { return i; } }
    return from;
  }

  function bump(state, by) {
    var el = document.querySelector('[data-count="' + state + '"]');
    if (el) { el.textContent = String(Math.max(0, parseInt(el.textContent, 10) + by)); }
  }

  function decide(action) {
    var row = rows()[index];
    if (!row || row.dataset.decided) { return; }
    var reason = (reasonInput && reasonInput.value.trim()) || Quanzi.text("reason." + action);
    row.dataset.decided = "pending";
    Quanzi.post("/console/moderation/items/" + row.dataset.item + "/decision", { action: action, reason: reason })
      .then(function () {
        row.dataset.decided = action;
        row.classList.add("decided");
        row.querySelector(".outcome").textContent = Quanzi.text(action);
        row.style.opacity = "0.55";
        bump("pending", -1);
        bump(action === "remove" ? "removed" : action === "approve" ? "approved" : "escalated", 1);
        select(nextOpen(index));
      })
      .catch(function () {
        row.dataset.decided = "";
        row.querySelector(".outcome").textContent = Quanzi.text("failed");
      });
  }

  document.addEventListener("keydown", function (event) {
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.ctrlKey || event.metaKey || event.altKey) {
      if (event.key === "Escape" && event.target.blur) { event.target.blur(); }
      return;
    }
    if (event.key === "j") { select(index + 1); }
    else if (event.key === "k") { select(index - 1); }
    else if (event.key === "a") { decide("approve"); }
    else if (event.key === "r") { decide("remove"); }
    else if (event.key === "e") { decide("escalate"); }
    else if (event.key === "Enter" && index >= 0) { rows()[index].querySelector("a").click(); }
    else { return; }
    event.preventDefault();
  });

  function addRow(item) {
    if (body.querySelector('tr[data-item="' + item.id + '"]')) { return; }
    fetch("/console/moderation/items/" + encodeURIComponent(item.id) + "/row", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || body.querySelector('tr[data-item="' + item.id + '"]')) { return; }
        body.insertAdjacentHTML("beforeend", html);
        var empty = document.getElementById("queue-empty");
        if (empty) { empty.remove(); }
        bump("pending", 1);
        if (index < 0) { select(0); }
      });
  }

  if (table.dataset.live === "yes") {
    Quanzi.live({
      frame: function (f) {
        if (f.op === "moderation" && f.event === "item_opened" && f.item) { addRow(f.item); }
      }
    });
  }
  if (rows().length) { select(0); }
})();
