/* Join page: party size stepper, SMS consent, join call, then the live ticket page. */
"use strict";

(function () {
  var RE = window.RE;
  var queue = document.body.dataset.queue;
  var summaryUrl = "/api/v1/queues/" + encodeURIComponent(queue) + "/summary";

  function refreshSummary() {
    RE.api("GET", summaryUrl)
      .then(function (result) {
        if (result.status !== 200 || !result.data) return;
        RE.setText(document.getElementById("waiting"), String(result.data.waiting));
        RE.setText(document.getElementById("wait"), RE.waitText(result.data.eta));
      })
      .catch(function () {});
  }
  window.setInterval(refreshSummary, 30000);

  var form = document.getElementById("join-form");
  if (!form) return;
  var token = document.getElementById("window-token");
  var name = document.getElementById("name");
  var party = document.getElementById("party");
  var consent = document.getElementById("sms-consent");
  var phone = document.getElementById("phone");
  var error = document.getElementById("join-error");
  var button = document.getElementById("join-button");

  function partySize() {
    var n = parseInt(party.value, 10);
    if (isNaN(n)) n = 1;
    return Math.min(20, Math.max(1, n));
  }
  function step(delta) {
    party.value = String(Math.min(20, Math.max(1, partySize() + delta)));
  }
  document.getElementById("party-less").addEventListener("click", function () { step(-1); });
  document.getElementById("party-more").addEventListener("click", function () { step(1); });

  consent.addEventListener("change", function () {
    phone.disabled = !consent.checked;
    if (consent.checked) {
      phone.focus();
    } else {
      phone.removeAttribute("aria-invalid");
    }
  });

  /* "06 12 34 56 78" -> "+33612345678"; "0044 ..." -> "+44..." */
  function normalisePhone(raw) {
    var p = raw.replace(/[\s.\-()]/g, "");
    if (p.indexOf("00") === 0) p = "+" + p.slice(2);
    if (/^0[1-9][0-9]{8}$/.test(p)) p = "+33" + p.slice(1);
    return p;
  }

  function showError(text) {
    error.textContent = text;
  }

  function messageFor(result) {
    var err = RE.errorOf(result);
    var known = {
      window_token_expired: "err_expired",
      closed: "err_closed",
      queue_full: "err_full",
      rate_limited: "err_rate",
    };
    if (known[err.code]) return RE.t(known[err.code]);
    if (err.code === "invalid_body" && err.message.indexOf("phone") !== -1) return RE.t("err_phone");
    return err.message || RE.t("err_generic");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    showError("");
    var body = {
      window_token: token.value,
      name: name.value.trim(),
      party_size: partySize(),
      locale: document.documentElement.lang === "fr" ? "fr" : "en",
    };
    // The brand's app opens the join link with the customer's loyalty pass in `p`.
    var loyaltyPass = new URLSearchParams(window.location.search).get("p");
    if (loyaltyPass) body.customer_pass = loyaltyPass;
    if (consent.checked) {
      var number = normalisePhone(phone.value);
      if (!/^\+[1-9][0-9]{6,14}$/.test(number)) {
        phone.setAttribute("aria-invalid", "true");
        showError(RE.t("err_phone"));
        phone.focus();
        return;
      }
      phone.removeAttribute("aria-invalid");
      body.phone = number;
    }
    var label = button.textContent;
    button.disabled = true;
    button.textContent = RE.t("joining");
    RE.api("POST", "/api/v1/queues/" + encodeURIComponent(queue) + "/tickets", body)
      .then(function (result) {
        if (result.status === 201 && result.data && result.data.ticket) {
          window.location.assign("/t/" + encodeURIComponent(result.data.ticket.id));
          return;
        }
        showError(messageFor(result));
        button.disabled = false;
        button.textContent = label;
      })
      .catch(function () {
        showError(RE.t("err_network"));
        button.disabled = false;
        button.textContent = label;
      });
  });
})();
