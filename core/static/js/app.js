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
// Global search in the top bar (helper 8): the list under the box is filled by htmx as you type; arrows move
// through it, Enter opens the chosen row or else the best match, Escape closes it. When the list is missing or
// stale (Enter pressed before it arrived), the form goes to /search/?go=1 and the server opens the best match.
(function () {
  "use strict";
  function options(list) { return Array.prototype.slice.call(list.querySelectorAll("[role=option]")); }
  function setOpen(input, list, open) {
    list.hidden = !open;
    input.setAttribute("aria-expanded", open && list.querySelector("[role=option]") ? "true" : "false");
    if (!open) { input.removeAttribute("aria-activedescendant"); }
  }
  function select(input, list, index) {
    var all = options(list);
    all.forEach(function (el, i) { el.setAttribute("aria-selected", i === index ? "true" : "false"); });
    if (index >= 0 && all[index]) {
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({block: "nearest"});
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }
  function init() {
    var input = document.getElementById("global-q");
    var list = document.getElementById("global-results");
    if (!input || !list) { return; }
    document.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target === list) { setOpen(input, list, input.value.trim() !== ""); }
    });
    input.addEventListener("keydown", function (event) {
      var all = options(list);
      var current = all.findIndex(function (el) { return el.getAttribute("aria-selected") === "true"; });
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!all.length) { return; }
        event.preventDefault();
        setOpen(input, list, true);
        var step = event.key === "ArrowDown" ? 1 : -1;
        select(input, list, current < 0 ? (step > 0 ? 0 : all.length - 1) : (current + step + all.length) % all.length);
      } else if (event.key === "Escape") {
        setOpen(input, list, false);
        select(input, list, -1);
      } else if (event.key === "Enter") {
        var box = list.querySelector(".search-suggestions");
        var fresh = box && !list.hidden && box.dataset.q === input.value.trim();
        var chosen = fresh && current >= 0 ? all[current] : fresh ? list.querySelector("[data-best]") : null;
        if (chosen) {
          event.preventDefault();
          window.location.assign(chosen.href);
        }  // otherwise the form is submitted: the server opens the best match for what is typed now
      }
    });
    input.addEventListener("focus", function () { if (input.value.trim() && list.children.length) { setOpen(input, list, true); } });
    document.addEventListener("click", function (event) {
      if (!input.closest("form").contains(event.target)) { setOpen(input, list, false); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
