/* Window screen: refresh the QR code before its token rotates; poll the queue's summary. */
"use strict";

(function () {
  var RE = window.RE;
  var body = document.body;
  var queue = body.dataset.queue;
  var words = JSON.parse(body.dataset.strings || "{}");
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
