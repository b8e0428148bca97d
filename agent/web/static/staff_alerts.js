/* Staff tablet: arrival cards in the panel beside the queues (issues 14 and 15). Each card
   says who came in and how, in words ("came in by the door · phone", "by loyalty card"),
   lists the suggestions as sentences in the tablet's language, with Offered / Accepted /
   Declined on offers (-> suggestion.outcome), and a form to record a note or a preference.
   A card moves to "earlier arrivals" after [alerts] display_s. staff.js owns the stream and
   the token, and hands each frame here through RE.staffAlerts.create(...). */
"use strict";

(function () {
  var RE = window.RE;
  var words = RE.alertWords; /* staff_alert_words.js: what a suggestion says */
  var VIA = { ble: "came_in_ble", nfc: "came_in_nfc", qr: "came_in_qr", app: "came_in_app" };
  var OUTCOMES = ["offered", "accepted", "declined"];

  function node(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function button(label, className) {
    var b = node("button", className, label);
    b.type = "button";
    return b;
  }

  function create(options) {
    var staffApi = options.api;
    var panel = document.getElementById("alerts-panel");
    var list = document.getElementById("alerts");
    var earlierList = document.getElementById("earlier-list");
    var earlierToggle = document.getElementById("earlier-toggle");
    var drawerToggle = document.getElementById("alerts-toggle");
    var emptyLine = document.getElementById("alerts-empty");
    var displayMs = Number(document.body.dataset.alertDisplayS || 600) * 1000;
    var earlierMax = Number(document.body.dataset.alertEarlierMax || 20);
    var cards = {}; /* alert id -> {card, alert, timer} */
    var earlier = []; /* [{alert_id, li}] newest first */

    function refreshCounts() {
      var open = Object.keys(cards).length;
      if (emptyLine) emptyLine.hidden = open > 0;
      if (drawerToggle) RE.setText(drawerToggle, RE.t("alerts_toggle", { n: open }));
      if (earlierToggle) {
        earlierToggle.hidden = earlier.length === 0;
        var shown = earlierList && !earlierList.hidden;
        RE.setText(earlierToggle, shown ? RE.t("earlier_hide") : RE.t("earlier_show", { n: earlier.length }));
      }
    }

    function cameIn(alert) {
      var key = VIA[alert.via] || "came_in_other";
      return RE.t(key);
    }

    function outcomeButtons(alert, s, status) {
      var row = node("div", "outcome-actions");
      OUTCOMES.forEach(function (outcome) {
        var b = button(RE.t("outcome_" + outcome), outcome === "accepted" ? "primary" : "secondary");
        b.dataset.outcome = outcome;
        b.addEventListener("click", function () {
          var all = row.querySelectorAll("button");
          all.forEach(function (x) { x.disabled = true; });
          staffApi("POST", "/api/v1/alerts/" + encodeURIComponent(alert.alert_id) + "/outcome", {
            kind: s.kind,
            offer_id: s.offer_id || null,
            outcome: outcome,
          })
            .then(function (result) {
              if (result.status === 200) {
                RE.setText(status, RE.t("outcome_saved_" + outcome));
                /* Offered may still become accepted or declined; those are final. */
                if (outcome === "offered") {
                  all.forEach(function (x) { x.disabled = x.dataset.outcome === "offered"; });
                }
                return;
              }
              if (result.status === 401) return;
              RE.setText(status, RE.errorOf(result).message || RE.t("err_generic"));
              if (result.status >= 500) all.forEach(function (x) { x.disabled = false; });
            })
            .catch(function () {
              all.forEach(function (x) { x.disabled = false; });
              RE.setText(status, RE.t("err_network"));
            });
        });
        row.appendChild(b);
      });
      return row;
    }

    function suggestionItem(alert, s) {
      var values = words.valuesOf(s);
      var li = node("li", "suggestion kind-" + String(s.kind).replace(/[^a-z_]/g, ""));
      li.dataset.kind = s.kind;
      if (s.offer_id) li.dataset.offer = s.offer_id;
      li.appendChild(node("p", "suggestion-text", words.headline(s, values)));
      words.details(s, values).forEach(function (line) {
        li.appendChild(node("p", "suggestion-detail", line));
      });
      if (s.offer_id) {
        var status = node("p", "outcome-status");
        status.setAttribute("aria-live", "polite");
        li.appendChild(outcomeButtons(alert, s, status));
        li.appendChild(status);
      }
      return li;
    }

    function infoForm(alert, status) {
      var form = node("form", "info-form");
      form.hidden = true;
      var kind = node("select", "info-kind");
      ["note", "preference"].forEach(function (value) {
        var option = node("option", "", RE.t("info_kind_" + value));
        option.value = value;
        kind.appendChild(option);
      });
      kind.setAttribute("aria-label", RE.t("info_kind_note") + " / " + RE.t("info_kind_preference"));
      var text = node("input", "info-text");
      text.type = "text";
      text.maxLength = 500;
      text.required = true;
      text.setAttribute("aria-label", RE.t("info_text"));
      text.placeholder = RE.t("info_text");
      var save = button(RE.t("info_save"), "primary");
      save.type = "submit";
      var cancel = button(RE.t("info_cancel"), "secondary");
      cancel.addEventListener("click", function () { form.hidden = true; });
      form.appendChild(kind);
      form.appendChild(text);
      form.appendChild(save);
      form.appendChild(cancel);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var value = text.value.trim();
        if (!value) return;
        save.disabled = true;
        staffApi("POST", "/api/v1/alerts/" + encodeURIComponent(alert.alert_id) + "/info", {
          kind: kind.value,
          text: value,
        })
          .then(function (result) {
            save.disabled = false;
            if (result.status === 201) {
              text.value = "";
              form.hidden = true;
              RE.setText(status, RE.t("info_saved"));
            } else if (result.status !== 401) {
              RE.setText(status, RE.errorOf(result).message || RE.t("err_generic"));
            }
          })
          .catch(function () {
            save.disabled = false;
            RE.setText(status, RE.t("err_network"));
          });
      });
      return form;
    }

    function buildCard(alert) {
      var card = node("article", "alert-card");
      card.dataset.alert = alert.alert_id;
      var head = node("header", "alert-head");
      head.appendChild(node("h3", "alert-name", alert.display_name || "?"));
      head.appendChild(node("p", "alert-via", cameIn(alert)));
      card.appendChild(head);
      var suggestions = (alert.suggestions || []).filter(function (s) {
        return s && s.kind && !(s.kind === "offer" && words.isExpired(s));
      });
      if (suggestions.length) {
        var ul = node("ul", "suggestions");
        suggestions.forEach(function (s) { ul.appendChild(suggestionItem(alert, s)); });
        card.appendChild(ul);
      }
      var status = node("p", "alert-status");
      status.setAttribute("aria-live", "polite");
      var actions = node("div", "row-actions");
      var take = button(RE.t("take_it"), "primary take");
      var dismiss = button(RE.t("dismiss"), "secondary");
      actions.appendChild(take);
      actions.appendChild(dismiss);
      var form = null;
      if (alert.profile) {
        var add = button(RE.t("add_info"), "secondary");
        form = infoForm(alert, status);
        add.addEventListener("click", function () {
          form.hidden = !form.hidden;
          if (!form.hidden) form.querySelector(".info-text").focus();
        });
        actions.appendChild(add);
      }
      card.appendChild(actions);
      if (form) card.appendChild(form);
      card.appendChild(status);
      dismiss.addEventListener("click", function () { retire(alert.alert_id); });
      take.addEventListener("click", function () {
        take.disabled = true;
        staffApi("POST", "/api/v1/alerts/" + encodeURIComponent(alert.alert_id) + "/ack")
          .then(function (result) {
            if (result.status >= 200 && result.status < 300) {
              RE.setText(status, RE.t("taken"));
              window.setTimeout(function () { retire(alert.alert_id); }, 4000);
            } else if (result.status === 404) {
              RE.setText(status, RE.t("alert_gone"));
              window.setTimeout(function () { remove(alert.alert_id); }, 4000);
            } else if (result.status !== 401) {
              take.disabled = false;
              RE.setText(status, RE.errorOf(result).message || RE.t("err_generic"));
            }
          })
          .catch(function () {
            take.disabled = false;
            RE.setText(status, RE.t("err_network"));
          });
      });
      return card;
    }

    function timeText(alert) {
      var at = Date.parse(alert.at);
      if (isNaN(at)) return "";
      var minutes = Math.floor((Date.now() - at) / 60000);
      return minutes < 1 ? RE.t("just_now") : RE.t("minutes_ago", { n: minutes });
    }

    /* The card leaves the panel for the "earlier arrivals" list (it can be shown again). */
    function retire(alertId) {
      var entry = cards[alertId];
      if (!entry) return;
      window.clearTimeout(entry.timer);
      entry.card.remove();
      delete cards[alertId];
      if (earlierMax > 0 && earlierList) {
        var li = node("li", "earlier-item");
        li.dataset.alert = alertId;
        var line = node("span", "earlier-line", (entry.alert.display_name || "?") + " · " + cameIn(entry.alert));
        var when = node("span", "earlier-time", timeText(entry.alert));
        var again = button(RE.t("show_again"), "secondary");
        again.addEventListener("click", function () {
          forgetEarlier(alertId);
          show(entry.alert, true);
        });
        li.appendChild(line);
        li.appendChild(when);
        li.appendChild(again);
        earlierList.prepend(li);
        earlier.unshift({ alert_id: alertId, li: li });
        while (earlier.length > earlierMax) earlier.pop().li.remove();
      }
      refreshCounts();
    }

    function forgetEarlier(alertId) {
      earlier = earlier.filter(function (item) {
        if (item.alert_id !== alertId) return true;
        item.li.remove();
        return false;
      });
    }

    /* Withdrawn (erase, revoke): gone from the panel and from the earlier list. */
    function remove(alertId) {
      var entry = cards[alertId];
      if (entry) {
        window.clearTimeout(entry.timer);
        entry.card.remove();
        delete cards[alertId];
      }
      forgetEarlier(alertId);
      refreshCounts();
    }

    function show(alert, again) {
      if (!alert || !alert.alert_id || cards[alert.alert_id]) return;
      forgetEarlier(alert.alert_id);
      var raisedAt = Date.parse(alert.at);
      var age = again || isNaN(raisedAt) ? 0 : Math.max(0, Date.now() - raisedAt);
      var left = displayMs - age;
      var card = buildCard(alert);
      cards[alert.alert_id] = { card: card, alert: alert, timer: 0 };
      if (left <= 0 && !again) {
        /* Replayed after a reload, already past its time: straight to earlier arrivals. */
        retire(alert.alert_id);
        return;
      }
      list.prepend(card);
      cards[alert.alert_id].timer = window.setTimeout(function () { retire(alert.alert_id); }, left);
      if (panel) panel.classList.remove("is-collapsed");
      refreshCounts();
    }

    /* Another tablet took it: say who, then the card goes to earlier arrivals. */
    function taken(data) {
      var entry = data && cards[data.alert_id];
      if (!entry) return;
      entry.card.querySelectorAll("button.take").forEach(function (b) { b.disabled = true; });
      RE.setText(entry.card.querySelector(".alert-status"), RE.t("taken_by", { by: data.by || "?" }));
      window.setTimeout(function () { retire(data.alert_id); }, 4000);
    }

    if (earlierToggle && earlierList) {
      earlierToggle.addEventListener("click", function () {
        earlierList.hidden = !earlierList.hidden;
        refreshCounts();
      });
    }
    if (drawerToggle && panel) {
      drawerToggle.addEventListener("click", function () {
        panel.classList.toggle("is-collapsed");
        drawerToggle.setAttribute("aria-expanded", String(!panel.classList.contains("is-collapsed")));
      });
    }
    /* Offers can expire while a card is up: they go from the card at their time. */
    window.setInterval(function () {
      document.querySelectorAll(".alert-card .suggestion[data-offer]").forEach(function (li) {
        var id = li.closest(".alert-card").dataset.alert;
        var entry = cards[id];
        if (!entry) return;
        var s = (entry.alert.suggestions || []).filter(function (x) { return x.offer_id === li.dataset.offer; })[0];
        if (s && words.isExpired(s)) li.remove();
      });
    }, 30000);
    refreshCounts();

    return { add: function (alert) { show(alert, false); }, withdraw: function (data) { if (data) remove(data.alert_id); }, taken: taken };
  }

  RE.staffAlerts = { create: create };
})();
