/* Live ticket: Server-Sent Events, re-read on wake, leave / snooze, "it's your turn" (again
   at each recall), "almost your turn", and the offer of Web Push notifications. */
"use strict";

(function () {
  var RE = window.RE;
  var ticket = JSON.parse(document.body.dataset.ticket);
  var base = "/api/v1/tickets/" + encodeURIComponent(ticket.id);
  var FINAL = { served: "final_served", no_show: "final_no_show", left: "final_left" };
  var el = function (id) { return document.getElementById(id); };
  var source = null;
  var shown = null; /* state + called_at + recalls last rendered: alert once per call/recall */
  var sound = window.RESound;
  var zone = document.body.dataset.zone;
  var labels = JSON.parse(document.body.dataset.queues || "{}");
  var servingUrl = "";
  /* A staff move puts the ticket in another queue: its name and its "now serving" follow. */
  function showQueue() {
    servingUrl = "/api/v1/queues/" + encodeURIComponent(ticket.queue) + "/serving";
    var label = document.querySelector(".queue-label");
    if (label && labels[ticket.queue]) RE.setText(label, labels[ticket.queue]);
  }
  showQueue();
  var servingAsked = 0;
  var pushOffered = false;

  /* Once called, where to go: the counter, when the queue has counters (contract 8.7). */
  function counterText() {
    return ticket.counter ? RE.t("counter_line", { counter: ticket.counter }) : "";
  }

  function showServing(number) {
    RE.setText(el("serving"), number === null ? RE.t("serving_none") : String(number));
  }

  /* The number now being served in this queue: asked again when this ticket changes (a call
     moves everyone's place), at most once a second. */
  var servingLater = null;
  function refreshServing() {
    var wait = servingAsked + 1000 - Date.now();
    if (wait > 0) {
      /* Asked less than a second ago: ask once more after it, so the last change is read. */
      if (!servingLater) {
        servingLater = window.setTimeout(function () {
          servingLater = null;
          refreshServing();
        }, wait);
      }
      return;
    }
    servingAsked = Date.now();
    RE.api("GET", servingUrl)
      .then(function (result) {
        if (result.status !== 200 || !result.data) return;
        var first = (result.data.serving || [])[0];
        showServing(first ? first.number : null);
      })
      .catch(function () {});
  }

  function showTurn() {
    RE.setText(el("turn-number"), String(ticket.number));
    el("turn").hidden = false;
    el("turn-ok").focus();
    try {
      if (navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 400]);
    } catch (e) {
      /* ignore */
    }
    sound.beep();
  }

  el("turn-ok").addEventListener("click", function () {
    el("turn").hidden = true;
    if (!el("called-banner").hidden) el("called-banner").focus();
  });

  function render() {
    var state = ticket.state;
    RE.setText(el("number"), String(ticket.number));
    RE.setText(el("state"), RE.t("state_" + state));
    RE.setText(el("ahead"), RE.aheadText(ticket.position));
    RE.setText(el("wait"), RE.waitText(ticket.eta));
    RE.setText(el("eta-clock"), RE.etaClock(ticket.eta, zone));
    /* Kept current even while "your turn" is up: the counter may come in a later frame. */
    RE.setText(el("turn-counter"), counterText());
    el("turn-counter").hidden = !ticket.counter;
    RE.setText(el("counter-line"), counterText());
    el("counter-line").hidden = !(state === "called" && ticket.counter);
    RE.setText(el("called-banner"), ticket.counter ? counterText() : RE.t("called_banner"));
    /* With notifications offered or on, the push lines say what happens instead. */
    el("keep-open").hidden = pushOffered;
    sound.setActive(state === "waiting" || state === "called");
    el("waiting-info").hidden = state !== "waiting";
    el("called-banner").hidden = state !== "called";
    el("snooze").hidden = state !== "waiting" || ticket.snoozed;
    el("actions").hidden = !(state === "waiting" || state === "called");
    el("ticket-code").hidden = !(state === "waiting" || state === "called");
    el("approaching").hidden = !(state === "waiting" && ticket.approaching);
    if (!(state === "waiting" || state === "called")) el("push-offer").hidden = true;
    document.body.dataset.state = state;
    if (FINAL[state]) {
      el("turn").hidden = true;
      el("final").hidden = false;
      RE.setText(el("final"), RE.t(FINAL[state]));
      RE.setText(el("live"), "");
      stop();
    }
    /* A recall keeps called_at (the customer was called once) but counts up recalls. */
    var key = state + "|" + (ticket.called_at || "") + "|" + (ticket.recalls || 0);
    if (state === "called" && shown !== key) showTurn();
    shown = key;
  }

  function apply(next) {
    if (!next || next.id !== ticket.id) return;
    var moved = next.queue !== ticket.queue;
    ticket = next;
    if (moved) showQueue();
    render();
    if (active()) refreshServing();
  }

  function notMine() {
    stop();
    el("main").hidden = true;
    el("turn").hidden = true;
    el("not-mine").hidden = false;
  }

  function active() {
    return ticket.state === "waiting" || ticket.state === "called";
  }

  function refresh() {
    return RE.api("GET", base)
      .then(function (result) {
        if (result.status === 200) apply(result.data);
        else if (result.status === 401 || result.status === 403) notMine();
        return result.status;
      })
      .catch(function () {
        return 0;
      });
  }

  function stop() {
    if (source) {
      source.close();
      source = null;
    }
  }

  function connect() {
    if (source || !active()) return;
    source = new EventSource(base + "/stream");
    source.addEventListener("ticket", function (event) {
      try {
        apply(JSON.parse(event.data));
      } catch (e) {
        /* a malformed frame: the next one will do */
      }
    });
    source.addEventListener("open", function () {
      RE.setText(el("live"), "");
    });
    source.addEventListener("error", function () {
      if (!active()) return;
      RE.setText(el("live"), RE.t("reconnecting"));
      /* EventSource retries by itself unless the server refused (then it is CLOSED). */
      if (source && source.readyState === EventSource.CLOSED) {
        stop();
        refresh().then(function (status) {
          if (status !== 401 && status !== 403) window.setTimeout(connect, 3000);
        });
      }
    });
  }

  /* A phone that slept may have missed events: read the ticket again when it wakes. */
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") return;
    refresh().then(function () {
      connect();
    });
  });

  el("leave").addEventListener("click", function () {
    el("leave-confirm").hidden = false;
    el("leave").setAttribute("aria-expanded", "true");
    el("leave-no").focus();
  });
  el("leave-no").addEventListener("click", function () {
    el("leave-confirm").hidden = true;
    el("leave").setAttribute("aria-expanded", "false");
    el("leave").focus();
  });
  el("leave-yes").addEventListener("click", function () {
    el("leave-yes").disabled = true;
    RE.api("DELETE", base)
      .then(function (result) {
        el("leave-yes").disabled = false;
        el("leave-confirm").hidden = true;
        if (result.status === 200) apply(result.data);
        else if (result.status === 401 || result.status === 403) notMine();
        else RE.setText(el("notice"), RE.errorOf(result).message || RE.t("err_generic"));
      })
      .catch(function () {
        el("leave-yes").disabled = false;
        RE.setText(el("notice"), RE.t("err_network"));
      });
  });

  el("snooze").addEventListener("click", function () {
    el("snooze").disabled = true;
    RE.api("POST", base + "/snooze")
      .then(function (result) {
        el("snooze").disabled = false;
        if (result.status === 200) {
          apply(result.data);
          RE.setText(el("notice"), RE.t("snooze_done"));
        } else if (result.status === 401 || result.status === 403) {
          notMine();
        } else {
          el("snooze").hidden = RE.errorOf(result).code === "already_snoozed";
          RE.setText(el("notice"), RE.errorOf(result).message || RE.t("err_generic"));
        }
      })
      .catch(function () {
        el("snooze").disabled = false;
        RE.setText(el("notice"), RE.t("err_network"));
      });
  });

  /* Web Push: offered once the service worker is in place, only where the browser has the
     Push API; the subscription goes to the agent with this ticket (contract 8.6). */
  var registration = null;

  function keyBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function pushStatus(key) {
    RE.setText(el("push-status"), key ? RE.t(key) : "");
  }

  function sendSubscription(subscription) {
    return RE.api("PUT", base + "/push", subscription.toJSON()).then(function (result) {
      if (result.status === 204) {
        el("push-on").hidden = true;
        pushStatus("push_on");
      } else {
        pushStatus("push_failed");
      }
    });
  }

  function turnOnPush() {
    el("push-on").disabled = true;
    pushStatus("push_working");
    Notification.requestPermission()
      .then(function (permission) {
        if (permission !== "granted") {
          pushStatus("push_denied");
          return null;
        }
        return RE.api("GET", "/api/v1/push/key").then(function (result) {
          return registration.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: keyBytes(result.data.public_key)
          });
        }).then(sendSubscription);
      })
      .catch(function () {
        pushStatus("push_failed");
      })
      .then(function () {
        el("push-on").disabled = false;
      });
  }

  function offerPush() {
    var supported = "serviceWorker" in navigator && "PushManager" in window &&
      "Notification" in window;
    if (!supported || !active()) return;
    navigator.serviceWorker.register("/sw.js", { scope: "/" })
      .then(function (reg) {
        registration = reg;
        return reg.pushManager.getSubscription();
      })
      .then(function (existing) {
        if (!active()) return;
        el("push-offer").hidden = false;
        pushOffered = true;
        el("keep-open").hidden = true;
        if (Notification.permission === "denied") {
          el("push-on").hidden = true;
          pushStatus("push_denied");
        } else if (existing && Notification.permission === "granted") {
          sendSubscription(existing); /* renewed on every visit: the agent keeps the latest */
        }
      })
      .catch(function () {
        /* no service worker here (private mode, http on a phone): no offer */
      });
  }

  el("push-on").addEventListener("click", turnOnPush);

  render();
  connect();
  offerPush();
})();
