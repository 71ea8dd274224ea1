// Photos and forms: a select that reloads its page when changed, and the ghost overlay's
// opacity slider. No library, no CDN.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var select = event.target.closest && event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.submit();
  });

  function ghost(slider) {
    var box = document.querySelector("[data-ghost]");
    var top = box && box.querySelector("img.top");
    var shown = document.getElementById("ghost-value");
    if (!top) return;
    top.style.opacity = String(slider.value / 100);
    if (shown) shown.textContent = slider.value + " %";
  }

  document.addEventListener("input", function (event) {
    var slider = event.target.closest && event.target.closest("[data-ghost-slider]");
    if (slider) ghost(slider);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-ghost-slider]").forEach(ghost);
  });
})();
