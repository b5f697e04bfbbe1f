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
    var undo = detail.undo;  // {"url": ..., "label": "Undo", "values": {...}}: one click takes the change back
    if (undo && undo.url && window.htmx) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-light me-2 my-auto toast-undo";
      button.textContent = undo.label || "Undo";
      button.addEventListener("click", function () {
        button.disabled = true;
        window.htmx.ajax("POST", undo.url, {source: button, target: "#kanban", swap: "innerHTML",
                                            values: undo.values || {}});
        if (window.bootstrap) { window.bootstrap.Toast.getOrCreateInstance(toast).hide(); }
      });
      body.appendChild(button);
    }
    toast.appendChild(body);
    container.appendChild(toast);
    if (window.bootstrap) { new window.bootstrap.Toast(toast, {delay: undo ? 10000 : 5000}).show(); }
  });
})();
// Kanban: drag a deal card to another stage; the server answers with the redrawn board (or puts it back and
// says why in a toast). Won and lost stages are the bar at the bottom; a drop on a lost stage first asks for the
// reason in a modal (cancelling it puts the card back). Each move carries the board's filters so the redrawn board
// keeps them. Without JavaScript each deal's page has a stage menu.
(function () {
  "use strict";
  var pending = null;  // the drop on a lost stage waiting for its reason

  function filters() {
    var form = document.getElementById("board-filters");
    var values = {};
    if (!form) { return values; }
    new FormData(form).forEach(function (value, key) { if (value) { values[key] = value; } });
    return values;
  }

  function post(card, values) {
    var all = filters();
    Object.keys(values).forEach(function (key) { all[key] = values[key]; });
    window.htmx.ajax("POST", card.dataset.moveUrl, {source: card, target: "#kanban", swap: "innerHTML",
                                                     values: all});
  }

  function putBack(move) {
    var anchor = move.from.children[move.oldIndex] || null;
    move.from.insertBefore(move.card, anchor);
  }

  function askReason(move) {
    var modalElement = document.getElementById("lost-modal");
    if (!modalElement || !window.bootstrap) { post(move.card, {stage_id: move.stage}); return; }
    pending = move;
    var form = document.getElementById("lost-form");
    form.reset();
    form.classList.remove("was-validated");
    window.bootstrap.Modal.getOrCreateInstance(modalElement).show();
  }

  function initModal() {
    var modalElement = document.getElementById("lost-modal");
    var form = document.getElementById("lost-form");
    if (!modalElement || !form || form.dataset.ready) { return; }
    form.dataset.ready = "1";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var reason = (data.get("lost_reason") || "").trim();
      var error = document.getElementById("lost-error");
      if (!reason) { error.classList.add("d-block"); return; }
      error.classList.remove("d-block");
      var move = pending;
      pending = null;
      window.bootstrap.Modal.getOrCreateInstance(modalElement).hide();
      if (move) { post(move.card, {stage_id: move.stage, lost_reason: reason,
                                   lost_comment: (data.get("lost_comment") || "").trim()}); }
    });
    modalElement.addEventListener("hidden.bs.modal", function () {
      if (pending) { putBack(pending); pending = null; }  // cancelled: the deal stays where it was
    });
  }

  function initBoard(root) {
    if (!window.Sortable || !window.htmx) { return; }
    initModal();
    root.querySelectorAll(".kanban-cards").forEach(function (list) {
      if (list.dataset.sortable) { return; }
      list.dataset.sortable = "1";
      new window.Sortable(list, {
        group: {name: "deals", pull: list.dataset.kind === "open", put: true}, animation: 120,
        draggable: ".kanban-card",
        filter: "select, input, button", preventOnFilter: false,
        onStart: function () { document.body.classList.add("kanban-dragging"); },
        onEnd: function (event) {
          document.body.classList.remove("kanban-dragging");
          if (event.from === event.to) { return; }
          var move = {card: event.item, from: event.from, oldIndex: event.oldIndex, stage: event.to.dataset.stage};
          if (event.to.dataset.kind === "lost") { askReason(move); return; }
          post(event.item, {stage_id: move.stage});
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { initBoard(document); });
  document.addEventListener("htmx:afterSwap", function (event) { initBoard(event.detail.target); });
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
        if (list.hidden || !list.children.length) { return; }  // a second Escape clears the box, as browsers do
        event.preventDefault();
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
  // a background poll (data-quiet: the call toasts, a call's status) fails silently: the next poll tries again
  function quiet(event) {
    var elt = event.detail && event.detail.elt;
    return Boolean(elt && elt.closest && elt.closest("[data-quiet]"));
  }
  document.addEventListener("htmx:responseError", function (event) {
    if (quiet(event)) { return; }
    var xhr = event.detail && event.detail.xhr;
    say("requestFailed", xhr ? xhr.status : "");
  });
  document.addEventListener("htmx:sendError", function (event) { if (!quiet(event)) { say("requestUnsent"); } });
})();
// The time-zone offer (a user who has not chosen a zone yet): shown only when the browser's zone is known and
// differs from the installation's; "use mine" posts the browser's zone.
(function () {
  "use strict";
  function init() {
    var offer = document.getElementById("tz-offer");
    if (!offer) { return; }
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) { return; }
    if (!zone || zone === offer.dataset.defaultZone) { return; }
    offer.querySelectorAll("[data-tz-browser]").forEach(function (el) { el.textContent = zone; });
    var use = offer.querySelector("[data-tz-browser-value]");
    if (use) { use.value = zone; }
    offer.hidden = false;
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
// The record picker (_picker.html): typing searches (htmx), clicking or Enter on a match chooses it; typing again
// forgets the choice until another is picked, so a half-typed name never links a record by accident.
(function () {
  "use strict";
  function choose(option) {
    var picker = option.closest("[data-picker]");
    if (!picker || !option.dataset.value) { return; }
    picker.querySelector(".picker-value").value = option.dataset.value;
    var input = picker.querySelector(".picker-input");
    input.value = option.dataset.label || option.textContent.trim();
    input.dataset.chosen = input.value;
    picker.querySelector(".picker-options").innerHTML = "";
    input.focus();
  }
  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest(".picker-option");
    if (option) { choose(option); return; }
    document.querySelectorAll(".picker-options").forEach(function (list) {
      if (!list.parentElement.contains(event.target)) { list.innerHTML = ""; }
    });
  });
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("picker-input")) { return; }
    if (input.value !== input.dataset.chosen) {
      input.closest("[data-picker]").querySelector(".picker-value").value = "";
    }
  });
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!target.closest || !target.closest("[data-picker]")) { return; }
    var picker = target.closest("[data-picker]");
    var options = Array.prototype.slice.call(picker.querySelectorAll(".picker-option"));
    var index = options.indexOf(target);
    if (event.key === "ArrowDown" && options.length) {
      event.preventDefault();
      options[Math.min(index + 1, options.length - 1)].focus();
    } else if (event.key === "ArrowUp" && index >= 0) {
      event.preventDefault();
      (index === 0 ? picker.querySelector(".picker-input") : options[index - 1]).focus();
    } else if (event.key === "Enter" && index >= 0) {
      event.preventDefault();
      choose(target);
    } else if (event.key === "Escape") {
      picker.querySelector(".picker-options").innerHTML = "";
    }
  });
})();
