/* Shared helpers for the retail-edge pages: words, wait ranges, JSON calls. No framework. */
"use strict";

(function () {
  var words = {};
  try {
    words = JSON.parse(document.body.dataset.strings || "{}");
  } catch (e) {
    words = {};
  }

  function fill(text, values) {
    var out = String(text);
    Object.keys(values || {}).forEach(function (key) {
      out = out.split("{" + key + "}").join(String(values[key]));
    });
    return out;
  }

  function t(key, values, table) {
    var source = table || words;
    return fill(source[key] !== undefined ? source[key] : key, values);
  }

  /* Mirrors agent/web/i18n.py wait_text: whole minutes, "12–20 min". */
  function waitText(eta, table, prefix) {
    var p = prefix || "";
    var low = Math.max(0, Math.floor((eta && eta.low_s ? eta.low_s : 0) / 60));
    var high = Math.max(0, Math.ceil((eta && eta.high_s ? eta.high_s : 0) / 60));
    if (high <= 0) return t(p + "wait_none", {}, table);
    if (low <= 0) return t(p + "wait_upto", { high: high }, table);
    if (low >= high) return t(p + "wait_about", { low: low }, table);
    return t(p + "wait_range", { low: low, high: high }, table);
  }

  /* Mirrors agent/web/i18n.py eta_clock_text: the middle of the range, rounded up to 5
     minutes, as a 24-hour clock time in the store's zone ("around 15:40"). */
  function etaClock(eta, zone) {
    var high = eta && eta.high_s ? eta.high_s : 0;
    if (high <= 0) return "";
    var low = eta && eta.low_s ? eta.low_s : 0;
    var step = 300000;
    var at = new Date(Math.ceil((Date.now() + (low + high) * 500) / step) * step);
    var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    var text;
    try {
      text = at.toLocaleTimeString("en-GB", Object.assign({ timeZone: zone }, options));
    } catch (e) {
      text = at.toLocaleTimeString("en-GB", options);
    }
    return t("eta_clock", { time: text });
  }

  function aheadText(position) {
    var ahead = Math.max(0, (position || 0) - 1);
    if (ahead === 0) return t("ahead_0");
    if (ahead === 1) return t("ahead_1");
    return t("ahead_n", { n: ahead });
  }

  /* Set text only when it changes, so aria-live regions do not repeat themselves. */
  function setText(element, text) {
    if (element && element.textContent !== text) element.textContent = text;
  }

  /* fetch() a JSON API: resolves {status, data}; rejects only when the network fails. */
  function api(method, url, body, headers) {
    var options = {
      method: method,
      headers: Object.assign({ Accept: "application/json" }, headers || {}),
      credentials: "same-origin",
      cache: "no-store",
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        return { status: response.status, data: data };
      });
    });
  }

  function errorOf(result) {
    var error = result && result.data && result.data.error;
    return error ? { code: error.code || "", message: error.message || "" } : { code: "", message: "" };
  }

  window.RE = {
    t: t,
    fill: fill,
    waitText: waitText,
    etaClock: etaClock,
    aheadText: aheadText,
    setText: setText,
    api: api,
    errorOf: errorOf,
  };
})();
