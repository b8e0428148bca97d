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

  var partyError = document.getElementById("party-error");
  var PARTY_MIN = 1;
  var PARTY_MAX = 20; /* as the API: 1 to 20 */

  /* The party size typed, or null when it is not a whole number from 1 to 20: refused on the
     page with a message, never silently changed into another number. */
  function partySize() {
    var text = party.value.trim();
    if (!/^[0-9]{1,4}$/.test(text)) return null;
    var n = parseInt(text, 10);
    return n >= PARTY_MIN && n <= PARTY_MAX ? n : null;
  }
  function checkParty(onSubmit) {
    var ok = partySize() !== null;
    var blank = party.value.trim() === "";
    if (ok || (blank && !onSubmit)) {
      party.removeAttribute("aria-invalid");
      partyError.textContent = "";
    } else {
      party.setAttribute("aria-invalid", "true");
      partyError.textContent = RE.t("party_error");
    }
    return ok;
  }
  function step(delta) {
    var n = partySize();
    /* From a refused value, the buttons go to the nearest allowed one (visibly). */
    if (n === null) n = parseInt(party.value, 10) > PARTY_MAX ? PARTY_MAX : PARTY_MIN;
    else n += delta;
    party.value = String(Math.min(PARTY_MAX, Math.max(PARTY_MIN, n)));
    checkParty(false);
  }
  /* A tap into the field selects its number, so typing "3" gives 3, not 13. */
  var selectOnClick = false;
  party.addEventListener("focus", function () {
    party.select();
    selectOnClick = true;
  });
  party.addEventListener("click", function () {
    if (selectOnClick) party.select();
    selectOnClick = false;
  });
  party.addEventListener("input", function () { checkParty(false); });
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

  /* Sound is allowed only after a gesture: this tap is one. A silent sound played now lets
     Chrome play the "your turn" beep on the ticket page it opens; the hint tells that page a
     tap already happened here (Safari still asks for one there, and the page says so). */
  function unlockSound() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return;
      var context = new Context();
      var silent = context.createBufferSource();
      silent.buffer = context.createBuffer(1, 1, 22050);
      silent.connect(context.destination);
      silent.start(0);
      if (context.state === "suspended") context.resume().catch(function () {});
      window.sessionStorage.setItem("re_sound_unlocked", "1");
    } catch (e) {
      /* no audio here: the ticket page says so */
    }
  }
  button.addEventListener("click", unlockSound);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    showError("");
    if (!checkParty(true)) {
      party.focus();
      return;
    }
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
