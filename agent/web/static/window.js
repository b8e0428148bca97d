/* Window screen: pair it once (unpaired, the page is a code field); then refresh the QR code
   before its token rotates and poll the queue's summary. */
"use strict";

(function () {
  var RE = window.RE;
  var body = document.body;
  var queue = body.dataset.queue;
  var words = JSON.parse(body.dataset.strings || "{}");

  function bothWords(key) {
    var english = RE.t("en_" + key, {}, words);
    var french = RE.t("fr_" + key, {}, words);
    return english === french ? english : english + " / " + french;
  }

  /* Unpaired: one code field. The pairing answer sets the screen's HttpOnly cookie; the
     reload then shows the code. A link ending in #pair=123456 (what the demo prints) types
     the code itself: the fragment never reaches the server or its logs. */
  if (body.dataset.page === "window-pair") {
    var form = document.getElementById("window-pair-form");
    var input = document.getElementById("window-pair-code");
    var error = document.getElementById("window-pair-error");
    var pair = function (code) {
      RE.setText(error, "");
      if (!/^[0-9]{6}$/.test(code)) {
        input.setAttribute("aria-invalid", "true");
        RE.setText(error, bothWords("display_pair_code"));
        input.focus();
        return;
      }
      input.removeAttribute("aria-invalid");
      RE.api("POST", "/api/v1/pair", { code: code, device_name: body.dataset.device || "screen" })
        .then(function (result) {
          if (result.status === 200) {
            window.location.replace(window.location.pathname + window.location.search);
            return;
          }
          RE.setText(error, RE.errorOf(result).message || bothWords("display_pair_error"));
        })
        .catch(function () {
          RE.setText(error, bothWords("err_network"));
        });
    };
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      pair(input.value.replace(/\s/g, ""));
    });
    var given = /^#pair=([0-9]{6})$/.exec(window.location.hash);
    if (given) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
      input.value = given[1];
      pair(given[1]);
    } else {
      input.focus();
    }
    return;
  }
  var qrUrl = "/window/" + encodeURIComponent(queue) + "/qr.svg";
  var summaryUrl = "/api/v1/queues/" + encodeURIComponent(queue) + "/summary";
  var QR_EVERY_MS = 20000;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var SUMMARY_EVERY_MS = 10000;

  function both(key, values) {
    var english = RE.t("en_" + key, values, words);
    var french = RE.t("fr_" + key, values, words);
    return english === french ? english : english + " / " + french;
  }

  function waitBoth(eta) {
    var english = RE.waitText(eta, words, "en_");
    var french = RE.waitText(eta, words, "fr_");
    return english === french ? english : english + " / " + french;
  }

  function showState(state) {
    body.dataset.state = state;
    var status = document.getElementById("status");
    if (state === "closed") RE.setText(status, both("closed_short"));
    else if (state === "full") RE.setText(status, both("full_short"));
    else if (state === "store_full") RE.setText(status, both("store_full_short"));
    else RE.setText(status, "");
    status.hidden = state === "open";
  }

  function refreshQr() {
    fetch(qrUrl, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        // Revoked: back to the pairing form, and the code leaves the screen.
        if (response.status === 401) window.location.reload();
        if (!response.ok) throw new Error("qr " + response.status);
        return response.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "image/svg+xml");
        var svg = doc.documentElement;
        // Only an element in the SVG namespace is drawn: anything else (a parse error, an
        // XML tree without the namespace) would blank the screen, so the current code stays.
        if (!svg || svg.namespaceURI !== SVG_NS || svg.localName !== "svg") return;
        if (doc.getElementsByTagName("parsererror").length) return;
        document.getElementById("qr").replaceChildren(document.importNode(svg, true));
      })
      .catch(function () {
        /* keep the current code; the previous token stays valid for a while */
      });
  }

  function refreshSummary() {
    RE.api("GET", summaryUrl)
      .then(function (result) {
        if (result.status !== 200 || !result.data) return;
        RE.setText(document.getElementById("waiting"), String(result.data.waiting));
        RE.setText(document.getElementById("wait"), waitBoth(result.data.eta));
        showState(
          !result.data.open ? "closed"
            : result.data.full ? "full"
            : result.data.store_full ? "store_full"
            : "open"
        );
      })
      .catch(function () {});
  }

  showState(body.dataset.state || "open");
  if (body.dataset.mode === "rotating") window.setInterval(refreshQr, QR_EVERY_MS);
  window.setInterval(refreshSummary, SUMMARY_EVERY_MS);
})();
