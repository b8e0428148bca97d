/* Staff tablet: the counter's ticket printer. Says what became of each paper ticket (the
   agent prints in the background and sends a `print` frame on the staff stream, which
   staff.js hands over as a `re-print` window event) and offers "Print again". Does nothing
   on an agent without a [printer]. */
"use strict";

(function () {
  var RE = window.RE;
  var TOKEN_KEY = "retail-edge.staff-token";
  if (document.body.dataset.page !== "staff") return;

  function token() {
    try {
      return window.localStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null;
    }
  }
  if (!token()) return;

  var bar = null;
  var hideTimer = 0;

  function ensureBar() {
    if (bar) return bar;
    bar = document.createElement("p");
    bar.id = "print-bar";
    bar.className = "print-bar";
    bar.setAttribute("role", "status");
    bar.setAttribute("aria-live", "polite");
    bar.hidden = true;
    var anchor = document.getElementById("toast");
    anchor.parentNode.insertBefore(bar, anchor.nextSibling);
    return bar;
  }

  function reprint(ticketId) {
    return RE.api("POST", "/api/v1/tickets/" + encodeURIComponent(ticketId) + "/print", undefined, {
      Authorization: "Bearer " + token(),
    });
  }

  function show(outcome) {
    var target = ensureBar();
    var key = "print_done";
    if (!outcome.printed) key = outcome.reason === "queue_full" ? "print_busy" : "print_failed";
    else if (!outcome.with_link) key = "print_no_link";
    target.textContent = "";
    var text = document.createElement("span");
    text.className = "print-text";
    text.textContent = RE.t(key, { n: outcome.number });
    target.appendChild(text);
    var again = document.createElement("button");
    again.type = "button";
    again.className = "secondary print-again";
    again.textContent = RE.t("print_again", { n: outcome.number });
    again.addEventListener("click", function () {
      again.disabled = true;
      reprint(outcome.ticket_id).then(function () { again.disabled = false; });
    });
    target.appendChild(again);
    target.classList.toggle("is-failed", !outcome.printed);
    target.hidden = false;
    window.clearTimeout(hideTimer);
    /* A failure stays until the next outcome: staff must see it; a success goes after 20 s. */
    if (outcome.printed) hideTimer = window.setTimeout(function () { target.hidden = true; }, 20000);
  }

  window.addEventListener("re-print", function (event) {
    if (event.detail && typeof event.detail.number === "number") show(event.detail);
  });
})();
