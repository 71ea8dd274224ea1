// bontrack pages: the little htmx cannot do on its own. No framework, no build step.
(function () {
  "use strict";

  // A faint site on the body map: pick it in the "add a point" form and put the cursor on units.
  function pickGhost(ghost) {
    var form = document.getElementById("add-point");
    if (!form) return;
    form.elements.site.value = ghost.getAttribute("data-site");
    form.elements.side.value = ghost.getAttribute("data-side");
    var units = form.elements.units;
    if (units) {
      if (!units.value) units.value = units.getAttribute("data-default") || "";
      units.focus();
      units.select();
    }
    form.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  document.addEventListener("click", function (event) {
    var ghost = event.target.closest && event.target.closest(".bm-ghost");
    if (ghost && ghost.closest(".editable")) pickGhost(ghost);
    var chip = event.target.closest && event.target.closest("[data-set-units]");
    if (chip) {
      var input = document.getElementById("point-units");
      if (input) { input.value = chip.getAttribute("data-set-units"); input.focus(); }
      event.preventDefault();
    }
  });

  // The body map from the keyboard: Tab reaches each point and each empty site; Enter or Space
  // opens a point's editor (or picks a site) and Escape closes the editor. Only these keys: a
  // key filter in hx-trigger would need the eval that the Content-Security-Policy forbids.
  var lastPoint = null;
  document.addEventListener("keydown", function (event) {
    if (!event.target.closest) return;
    if (event.key === "Escape") {
      var close = document.querySelector("#point-editor [data-close-editor]");
      // An editor just swapped in may not be wired by htmx yet (it settles a moment later):
      // wire its Close button first (idempotent), so that an early Escape is never lost.
      if (close) { event.preventDefault(); htmx.process(close); close.click(); }
      return;
    }
    if (event.key !== "Enter" && event.key !== " ") return;
    var ghost = event.target.closest(".editable .bm-ghost");
    if (ghost) { event.preventDefault(); pickGhost(ghost); return; }
    var point = event.target.closest(".editable .bm-point[hx-get]");
    if (point) { event.preventDefault(); htmx.trigger(point, "click"); }
  });

  // After the editor closes (saved, removed or closed), focus goes back to the point it was
  // opened from, so that a keyboard user goes on from where they were.
  document.addEventListener("click", function (event) {
    var point = event.target.closest && event.target.closest(".editable .bm-point[data-point]");
    if (point) lastPoint = point.getAttribute("data-point");
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (lastPoint === null || document.getElementById("point-editor")) return;
    var back = document.querySelector('.editable .bm-point[data-point="' + lastPoint + '"]');
    lastPoint = null;
    if (back) back.focus();
  });

  // The Menu button of narrow screens shows and hides the main links.
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest(".menu-toggle");
    if (!toggle) return;
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (nav) nav.classList.toggle("open", open);
  });

  // Use-by countdowns of reconstituted vials: "5 h 12 min left", ticking once a minute.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-use-by]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-use-by")) - now;
      if (isNaN(left)) return;
      if (left <= 0) {
        el.textContent = "past its use-by time: do not use";
        el.classList.add("past");
        return;
      }
      var minutes = Math.floor(left / 60000);
      var hours = Math.floor(minutes / 60);
      el.textContent = (hours ? hours + " h " : "") + (minutes % 60) + " min left";
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 30000);
})();

// Rows that open a page when clicked, and the note's print button: handlers here rather than in
// onclick attributes, which the Content-Security-Policy forbids (no inline script).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;
    if (event.target.closest("[data-print]")) { window.print(); return; }
    var row = event.target.closest("tr.row-link[data-href]");
    if (row && !event.target.closest("a, button, input, select, textarea, label")) {
      window.location.href = row.getAttribute("data-href");
    }
  });
})();

// Body-map views laid side by side share one height when each grows in proportion to its width
// over height (data-aspect). The weight is set through the CSSOM, which the
// Content-Security-Policy allows, where a style="" attribute would be refused; after an htmx swap
// it is set in the same task as the swap, so the page is never painted without it.
(function () {
  "use strict";
  function weigh() {
    document.querySelectorAll(".bodymap[data-aspect]").forEach(function (view) {
      view.style.flexGrow = view.getAttribute("data-aspect");
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", weigh);
  else weigh();
  document.addEventListener("htmx:afterSwap", weigh);
})();
