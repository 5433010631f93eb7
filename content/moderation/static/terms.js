/* The term-list editor: add a category, and "test this text" against the lists as they
 * stand in the form (unsaved), showing the verdict, what matched and where. */
(function () {
  "use strict";
  var form = document.getElementById("terms-form");
  if (!form) { return; }
  var holder = document.getElementById("categories");
  var template = document.getElementById("new-category");

  document.getElementById("add-category").addEventListener("click", function () {
    holder.appendChild(template.content.cloneNode(true));
  });

  function lists() {
    var out = {};
    Array.prototype.forEach.call(holder.querySelectorAll("fieldset.term-cat"), function (set) {
      var name = set.querySelector('input[name="name"]').value.trim();
      if (!name) { return; }
      out[name] = {
        action: set.querySelector('select[name="action"]').value,
        terms: set.querySelector('textarea[name="terms"]').value.split("\n").map(function (t) { return t.trim(); })
          .filter(function (t) { return t.length > 0; })
      };
    });
    return out;
  }

  function show(text, answer) {
    var marked = document.getElementById("preview-marked");
    var hits = document.getElementById("preview-hits");
    var verdict = document.getElementById("preview-action");
    verdict.textContent = Quanzi.text("result").replace("{action}", Quanzi.text(answer.action));
    verdict.dataset.action = answer.action;
    marked.textContent = "";
    var at = 0;
    answer.spans.forEach(function (s) {
      if (s.start > at) { marked.appendChild(document.createTextNode(text.slice(at, s.start))); }
      var mark = document.createElement("mark");
      mark.dataset.category = s.category;
      mark.title = s.category + ": " + s.match;
      mark.textContent = text.slice(s.start, s.end);
      marked.appendChild(mark);
      at = s.end;
    });
    marked.appendChild(document.createTextNode(text.slice(at)));
    hits.textContent = "";
    Object.keys(answer.hits).forEach(function (category) {
      var li = document.createElement("li");
      li.dataset.category = category;
      li.textContent = category + ": " + answer.hits[category].join("、");
      hits.appendChild(li);
    });
  }

  document.getElementById("preview-run").addEventListener("click", function () {
    var text = document.getElementById("preview-text").value;
    if (!text.trim()) { return; }
    Quanzi.post("/console/moderation/terms/preview", { text: text, categories: lists() })
      .then(function (answer) { show(text, answer); })
      .catch(function () { document.getElementById("preview-action").textContent = Quanzi.text("failed"); });
  });
})();
