// Mayak shell behaviour. No inline scripts: the CSP forbids them. htmx is configured by the meta tag.
(function () {
  "use strict";
  // Toasts asked for by the server through HX-Trigger: {"mayak:toast": {"message": "...", "level": "success"}}
  document.addEventListener("mayak:toast", function (event) {
    var detail = event.detail || {};
    var container = document.getElementById("toasts");
    if (!container || !detail.message) { return; }
    var toast = document.createElement("div");
    toast.className = "toast align-items-center text-bg-" + (detail.level || "secondary") + " border-0";
    toast.setAttribute("role", "status");
    var body = document.createElement("div");
    body.className = "d-flex";
    var text = document.createElement("div");
    text.className = "toast-body";
    text.textContent = detail.message;
    body.appendChild(text);
    toast.appendChild(body);
    container.appendChild(toast);
    if (window.bootstrap) { new window.bootstrap.Toast(toast).show(); }
  });
})();
// Kanban: drag a deal card to another stage; the server answers with the redrawn board (or puts it back and
// says why in a toast). Without JavaScript each card has a stage menu.
(function () {
  "use strict";
  function initBoard(root) {
    if (!window.Sortable || !window.htmx) { return; }
    root.querySelectorAll(".kanban-cards").forEach(function (list) {
      if (list.dataset.sortable) { return; }
      list.dataset.sortable = "1";
      new window.Sortable(list, {
        group: "deals", animation: 120, filter: "select, input, button", preventOnFilter: false,
        onEnd: function (event) {
          var card = event.item;
          var stage = event.to.dataset.stage;
          if (event.from === event.to) { return; }
          window.htmx.ajax("POST", card.dataset.moveUrl, {source: card, target: "#kanban", swap: "innerHTML",
                                                           values: {stage_id: stage}});
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { initBoard(document); });
  document.addEventListener("htmx:afterSwap", function (event) { initBoard(event.detail.target); });
})();
// A request htmx made failed (an error status or no network): say so in a toast instead of leaving the page
// silently as it was. The texts come translated from the page (data-* attributes of the toast container).
(function () {
  "use strict";
  function say(key, code) {
    var container = document.getElementById("toasts");
    var text = container && container.dataset[key];
    if (!text) { return; }
    document.dispatchEvent(new CustomEvent("mayak:toast", {detail: {
      message: text.replace("{code}", String(code || "")), level: "danger"}}));
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail && event.detail.xhr;
    say("requestFailed", xhr ? xhr.status : "");
  });
  document.addEventListener("htmx:sendError", function () { say("requestUnsent"); });
})();
