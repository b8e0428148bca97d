/* Staff tablet: what an arrival card's suggestion says, in the tablet's language (issue 15):
   the headline sentence and the detail lines of each kind, from the suggestion's fields or
   the playbook rule's own text. Words come from agent/web/i18n_alerts.py; staff_alerts.js
   draws the card. */
"use strict";

(function () {
  var RE = window.RE;

  function lang() {
    return document.documentElement.lang === "fr" ? "fr" : "en";
  }

  function has(key) {
    return RE.t(key) !== key;
  }

  /* "1st", "2nd", "23rd" / "1re", "2e". */
  function ordinal(n) {
    if (lang() === "fr") return n === 1 ? "1re" : n + "e";
    var tens = n % 100;
    var last = n % 10;
    var suffix = "th";
    if (tens < 11 || tens > 13) suffix = last === 1 ? "st" : last === 2 ? "nd" : last === 3 ? "rd" : "th";
    return n + suffix;
  }

  function dayMonth(date) {
    return date.toLocaleDateString(lang() === "fr" ? "fr-FR" : "en-GB", { day: "numeric", month: "long" });
  }

  function whenOf(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? "" : dayMonth(date);
  }

  function birthdayWhen(mmdd) {
    var parts = String(mmdd || "").split("-");
    return parts.length === 2 ? dayMonth(new Date(2000, Number(parts[0]) - 1, Number(parts[1]))) : "";
  }

  function money(price, currency) {
    if (typeof price !== "number") return "";
    try {
      if (currency) {
        return new Intl.NumberFormat(lang() === "fr" ? "fr-FR" : "en-GB", { style: "currency", currency: currency }).format(price);
      }
    } catch (e) {
      /* an unknown currency code: the bare number below */
    }
    return price.toFixed(2);
  }

  function tierName(tier) {
    var key = "tier_" + String(tier || "").toLowerCase();
    if (has(key)) return RE.t(key);
    var text = String(tier || "");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function isExpired(suggestion) {
    if (!suggestion.until) return false;
    var until = Date.parse(suggestion.until);
    return !isNaN(until) && until <= Date.now();
  }

  /* The values a sentence may name, for the words and for a playbook's own text. */
  function valuesOf(s) {
    var values = {};
    Object.keys(s).forEach(function (key) {
      var value = s[key];
      if (value !== null && typeof value !== "object") values[key] = value;
    });
    if (s.tier) values.tier = tierName(s.tier);
    if (s.until) values.when = whenOf(s.until);
    if (s.kind === "birthday") values.when = birthdayWhen(s.date);
    if (typeof s.in_days === "number") values.n = Math.abs(s.in_days);
    if (typeof s.visits_30d === "number") values.ordinal = ordinal(s.visits_30d);
    if (typeof s.visits_90d === "number") values.here = s.visits_90d;
    if (typeof s.days_since_last === "number") values.days = s.days_since_last;
    if (typeof s.months_since_last === "number") values.months = s.months_since_last;
    if (!values.queue_label && s.queue) values.queue_label = s.queue;
    return values;
  }

  /* The main sentence of a suggestion in the tablet's language. */
  function headline(s, values) {
    var own = s.text && s.text[lang()];
    if (own) return RE.fill(own, values);
    if (s.wording && s.wording.indexOf("sugg_") !== 0 && has(s.wording)) return RE.t(s.wording, values);
    switch (s.kind) {
      case "ticket":
        return RE.t(s.state === "called" ? "sugg_ticket_called" : "sugg_ticket_waiting", values);
      case "birthday":
        if (s.in_days === 0) return RE.t("sugg_birthday_today", values);
        if (s.in_days === 1) return RE.t("sugg_birthday_soon_1", values);
        if (s.in_days === -1) return RE.t("sugg_birthday_past_1", values);
        return RE.t(s.in_days > 0 ? "sugg_birthday_soon" : "sugg_birthday_past", values);
      case "frequency":
        if (s.pattern === "back" && !values.months) return RE.t("sugg_frequency_back_short", values);
        if (s.pattern === "summary" && s.visits_90d <= 1 && s.chain_visits_90d) {
          return RE.t("sugg_frequency_chain", { n: s.chain_visits_90d });
        }
        return RE.t("sugg_frequency_" + (s.pattern || "summary"), values);
      case "note":
        if (s.notes && s.notes.length) return RE.t("sugg_note", { text: s.notes.join(" · ") });
        return RE.t("sugg_preferences", { text: (s.preferences || []).join(", ") });
      default:
        return RE.t(s.wording || "sugg_" + s.kind, values);
    }
  }

  /* Lines under the headline: basket items, an offer's date and conditions, more notes. */
  function details(s, values) {
    var lines = [];
    if (s.kind === "basket") {
      (s.items || []).forEach(function (item) {
        var parts = [item.name];
        if (item.size) parts.push(item.size);
        if (typeof item.price === "number") parts.push(money(item.price, item.currency));
        if (item.in_stock === true) parts.push(RE.t("in_stock"));
        if (item.in_stock === false) parts.push(RE.t("not_in_stock"));
        lines.push(parts.join(" · "));
      });
      if (s.more) lines.push(RE.t("basket_more", { n: s.more }));
    }
    if (s.kind === "first_visit" && s.offer_id) lines.push(RE.t("sugg_welcome_offer", values));
    if ((s.kind === "offer" || (s.kind === "first_visit" && s.offer_id)) && s.until) {
      var when = RE.t("offer_until", values);
      lines.push(s.conditions ? when + " · " + s.conditions : when);
    }
    if (s.kind === "note" && s.notes && s.notes.length && s.preferences && s.preferences.length) {
      lines.push(RE.t("sugg_preferences", { text: s.preferences.join(", ") }));
    }
    if (s.kind === "frequency" && s.visits_90d > 1 && s.chain_visits_90d > 0) {
      lines.push(RE.t("chain_visits", { n: s.chain_visits_90d }));
    }
    /* Who should act, as the playbook rule says: a queue (by its label) and/or a staff role. */
    var who = [];
    if (s.queue && s.kind !== "ticket") who.push(s.queue_label || s.queue);
    if (s.role) who.push(s.role);
    if (who.length) lines.push(RE.t("for_queue", { queue: who.join(" · ") }));
    return lines;
  }

  RE.alertWords = { valuesOf: valuesOf, headline: headline, details: details, isExpired: isExpired };
})();
