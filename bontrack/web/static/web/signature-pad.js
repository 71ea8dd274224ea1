// The signature pad: draw on a canvas with a finger, a stylus or the mouse (pointer events);
// on submit the drawing goes with the form as a PNG data URL. No library, no CDN.
(function () {
  "use strict";

  function setUp(canvas) {
    var name = canvas.getAttribute("data-pad");
    var form = canvas.closest("form");
    var field = form.querySelector('[data-pad-value="' + name + '"]');
    var context = canvas.getContext("2d");
    var drawing = false;
    var strokes = 0;
    var last = null;

    // Draw at the screen's resolution: the canvas keeps its CSS size, its pixels follow the DPR.
    function fit() {
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var box = canvas.getBoundingClientRect();
      if (!box.width) return;
      var keep = strokes ? canvas.toDataURL("image/png") : null;
      canvas.width = Math.round(box.width * ratio);
      canvas.height = Math.round(box.height * ratio);
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      context.lineCap = "round";
      context.lineJoin = "round";
      context.strokeStyle = "#101828";
      context.lineWidth = 2.6;
      if (keep) {
        var image = new Image();
        image.onload = function () { context.drawImage(image, 0, 0, box.width, box.height); };
        image.src = keep;
      }
    }

    function point(event) {
      var box = canvas.getBoundingClientRect();
      return { x: event.clientX - box.left, y: event.clientY - box.top };
    }

    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      drawing = true;
      last = point(event);
      context.beginPath();
      context.arc(last.x, last.y, context.lineWidth / 2, 0, Math.PI * 2);
      context.fillStyle = context.strokeStyle;
      context.fill();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      event.preventDefault();
      var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      events.forEach(function (e) {
        var here = point(e);
        context.beginPath();
        context.moveTo(last.x, last.y);
        context.lineTo(here.x, here.y);
        context.stroke();
        last = here;
      });
    });
    function end() {
      if (!drawing) return;
      drawing = false;
      strokes += 1;
      field.value = canvas.toDataURL("image/png");
      canvas.classList.add("signed");
      var error = form.querySelector("[data-pad-error]");
      if (error) error.hidden = true;
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("pointerleave", end);

    var clear = form.querySelector('[data-pad-clear="' + name + '"]');
    if (clear) {
      clear.addEventListener("click", function () {
        context.clearRect(0, 0, canvas.width, canvas.height);
        strokes = 0;
        field.value = "";
        canvas.classList.remove("signed");
      });
    }
    fit();
    window.addEventListener("resize", fit);
    return function signed() { return strokes > 0; };
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-signature-form]").forEach(function (form) {
      var pads = Array.prototype.map.call(form.querySelectorAll("canvas[data-pad]"), setUp);
      form.addEventListener("submit", function (event) {
        var missing = pads.some(function (signed) { return !signed(); });
        var error = form.querySelector("[data-pad-error]");
        if (missing) {
          event.preventDefault();
          if (error) error.hidden = false;
        } else if (error) {
          error.hidden = true;
        }
      });
    });
  });
})();
