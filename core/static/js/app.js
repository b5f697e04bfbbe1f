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
