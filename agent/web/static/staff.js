/* Staff tablet: pairing, one live column per queue (call next, call / move a waiting ticket,
   walk-ins, undo for 60 s after served / no-show), arrival alerts, occupancy badge. */
"use strict";

(function () {
  var RE = window.RE;
  var TOKEN_KEY = "retail-edge.staff-token";
  var COUNTER_KEY = "retail-edge.counter"; /* this tablet's counter, chosen once */
  var page = document.body.dataset.page;
  var el = function (id) { return document.getElementById(id); };

  function token() {
    try {
      return window.localStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null;
    }
  }
  function forget() {
    try {
      window.localStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      /* ignore */
    }
  }

  /* --- pairing ---------------------------------------------------------------------- */

  var source = null;

  function showPairing(message) {
    if (source) {
      source.close();
      source = null;
    }
    if (el("main") && page === "staff") el("main").hidden = true;
    el("pair-section").hidden = false;
    if (message) RE.setText(el("pair-message"), message);
    el("pair-code").focus();
  }

  el("pair-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var code = el("pair-code").value.replace(/\s/g, "");
    var device = el("pair-device").value.trim();
    RE.setText(el("pair-error"), "");
    if (!/^[0-9]{6}$/.test(code)) {
      el("pair-code").setAttribute("aria-invalid", "true");
      RE.setText(el("pair-error"), RE.t("pair_code"));
      el("pair-code").focus();
      return;
    }
    el("pair-code").removeAttribute("aria-invalid");
    RE.api("POST", "/api/v1/pair", { code: code, device_name: device || "tablet" })
      .then(function (result) {
        if (result.status === 200 && result.data && result.data.token) {
          window.localStorage.setItem(TOKEN_KEY, result.data.token);
          window.location.reload();
          return;
        }
        RE.setText(el("pair-error"), RE.errorOf(result).message || RE.t("err_generic"));
      })
      .catch(function () {
        RE.setText(el("pair-error"), RE.t("err_network"));
      });
  });

  if (page !== "staff") return;
  if (!token()) {
    showPairing(RE.t("pair_intro"));
    return;
  }

  /* --- API with the Bearer token ------------------------------------------------------- */

  function staffApi(method, url, body) {
    return RE.api(method, url, body, { Authorization: "Bearer " + token() }).then(
      function (result) {
        if (result.status === 401) {
          forget();
          showPairing(RE.t("pair_again"));
        }
        return result;
      }
    );
  }

  var toastTimer = 0;
  function toast(text) {
    RE.setText(el("toast"), text);
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () { RE.setText(el("toast"), ""); }, 6000);
  }

  function act(method, url, body) {
    return staffApi(method, url, body)
      .then(function (result) {
        if (result.status >= 400 && result.status !== 401) {
          toast(RE.errorOf(result).message || RE.t("err_generic"));
        }
        return result;
      })
      .catch(function () {
        toast(RE.t("err_network"));
      });
  }

  /* --- queue columns ------------------------------------------------------------------- */

  var columns = {};
  document.querySelectorAll(".queue-col").forEach(function (col) {
    columns[col.dataset.queue] = col;
  });
  var views = {}; /* queue -> {view, at} */

  function node(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function waitedText(ticket, at) {
    var seconds = (ticket.waited_s || 0) + (Date.now() - at) / 1000;
    return RE.t("waited", { n: Math.max(0, Math.floor(seconds / 60)) });
  }

  function button(label, action, id, kind) {
    var b = node("button", kind, label);
    b.type = "button";
    b.dataset.action = action;
    b.dataset.id = id;
    return b;
  }

  /* Priority classes (issue 14): a choice on each waiting row, by rank. */
  var PRIORITIES = JSON.parse(document.body.dataset.priorities || "[]");
  function priorityLabel(name) {
    var found = PRIORITIES.filter(function (p) { return p.name === name; })[0];
    return found ? found.label : name;
  }
  function prioritySelect(ticket) {
    var select = node("select", "priority-choice");
    select.dataset.id = ticket.id;
    select.setAttribute("aria-label", RE.t("priority_label", { n: ticket.number }));
    [{ name: "", label: RE.t("priority_none") }].concat(PRIORITIES).forEach(function (p) {
      var option = node("option", "", p.label);
      option.value = p.name;
      option.selected = (ticket.priority || "") === p.name;
      select.appendChild(option);
    });
    return select;
  }
  /* A booked time as the store's clock shows it (the tablet may be set to another zone). */
  function clock(iso) {
    var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (document.body.dataset.zone) options.timeZone = document.body.dataset.zone;
    return new Intl.DateTimeFormat("en-GB", options).format(new Date(iso));
  }

  function row(ticket, at, called) {
    var li = node("li", "ticket-row" + (ticket.late ? " is-late" : ""));
    li.dataset.id = ticket.id;
    var line = node("div", "ticket-line");
    line.appendChild(node("span", "num", String(ticket.number)));
    line.appendChild(node("span", "who", ticket.name || RE.t("no_name")));
    line.appendChild(node("span", "party", RE.t("party", { n: ticket.party_size || 1 })));
    var waited = node("span", "waited", waitedText(ticket, at));
    waited.dataset.waited = "1";
    line.appendChild(waited);
    if (called && ticket.late) line.appendChild(node("span", "flag late", RE.t("late")));
    if (ticket.at_door) line.appendChild(node("span", "flag at-door", RE.t("at_door")));
    if (ticket.counter) line.appendChild(node("span", "flag counter", RE.t("counter_flag", { c: ticket.counter })));
    if (ticket.source === "staff") line.appendChild(node("span", "flag walk-in", RE.t("walk_in_flag")));
    if (ticket.priority) {
      line.appendChild(node("span", "flag priority", RE.t("priority_flag", { p: priorityLabel(ticket.priority) })));
    }
    if (ticket.booked_at) line.appendChild(node("span", "flag booked", RE.t("booked_flag", { t: clock(ticket.booked_at) })));
    if (called && ticket.recalls) {
      line.appendChild(node("span", "flag recalls", RE.t("recalls", { n: ticket.recalls })));
    }
    li.appendChild(line);
    if (called) {
      var actions = node("div", "row-actions");
      actions.appendChild(button(RE.t("served"), "served", ticket.id, "primary"));
      actions.appendChild(button(RE.t("no_show"), "no-show", ticket.id, "secondary"));
      actions.appendChild(button(RE.t("recall"), "recall", ticket.id, "secondary"));
      li.appendChild(actions);
    } else {
      var moves = node("div", "row-actions");
      moves.appendChild(button(RE.t("call"), "call", ticket.id, "secondary"));
      if (PRIORITIES.length) moves.appendChild(prioritySelect(ticket));
      Object.keys(columns).forEach(function (queue) {
        if (queue === ticket.queue) return;
        /* The column's own heading: the other queue's view may not have arrived yet. */
        var heading = columns[queue].querySelector("h2");
        var label = heading ? heading.textContent : queue;
        var move = button(RE.t("move_to", { queue: label }), "move", ticket.id, "secondary");
        move.dataset.queue = queue;
        moves.appendChild(move);
      });
      li.appendChild(moves);
    }
    return li;
  }

  function fillList(list, tickets, at, called, emptyKey) {
    var items = tickets.map(function (ticket) { return row(ticket, at, called); });
    if (!items.length) items = [node("li", "empty", RE.t(emptyKey))];
    list.replaceChildren.apply(list, items);
  }

  function accuracyText(accuracy) {
    if (!accuracy || accuracy.mean_abs_error_s === null || accuracy.mean_abs_error_s === undefined) {
      return RE.t("accuracy_none");
    }
    return RE.t("accuracy", {
      mae: Math.round(accuracy.mean_abs_error_s / 6) / 10,
      share: Math.round((accuracy.underestimate_share || 0) * 100),
      n: accuracy.tickets,
    });
  }

  function renderQueue(view) {
    var col = columns[view.queue];
    if (!col) return;
    var at = Date.now();
    views[view.queue] = { view: view, at: at };
    fillList(col.querySelector(".waiting-list"), view.waiting || [], at, false, "nobody_waiting");
    fillList(col.querySelector(".called-list"), view.called || [], at, true, "nobody_called");
    RE.setText(col.querySelector(".waiting-count"), String((view.waiting || []).length));
    RE.setText(col.querySelector(".called-count"), String((view.called || []).length));
    RE.setText(col.querySelector(".accuracy"), accuracyText(view.accuracy));
    col.querySelector(".call-next").disabled = !(view.waiting || []).length;
    renderBooked(col, view.booked || []);
  }

  /* Today's bookings not checked in yet (issue 14): time, name, party; hidden when none. */
  function renderBooked(col, booked) {
    var box = col.querySelector(".booked-box");
    if (!box) return;
    box.hidden = !booked.length;
    RE.setText(col.querySelector(".booked-count"), String(booked.length));
    var items = booked.map(function (b) {
      var li = node("li", "booked-row");
      var line = node("div", "ticket-line");
      line.appendChild(node("span", "at", clock(b.at)));
      line.appendChild(node("span", "who", b.name || RE.t("appointment_no_name")));
      line.appendChild(node("span", "party", RE.t("party", { n: b.party_size || 1 })));
      li.appendChild(line);
      /* By hand, for a customer without a phone or whose code does not scan. */
      var actions = node("div", "row-actions");
      var check = button(RE.t("appointment_check_in"), "check-in", b.id, "secondary");
      check.setAttribute("aria-label", RE.t("appointment_check_in_label", { name: b.name || RE.t("appointment_no_name"), t: clock(b.at) }));
      actions.appendChild(check);
      li.appendChild(actions);
      return li;
    });
    col.querySelector(".booked-list").replaceChildren.apply(col.querySelector(".booked-list"), items);
  }

  /* Waited times move on between events. */
  window.setInterval(function () {
    Object.keys(views).forEach(function (queue) {
      var entry = views[queue];
      var col = columns[queue];
      var all = (entry.view.called || []).concat(entry.view.waiting || []);
      all.forEach(function (ticket) {
        var li = col.querySelector('li[data-id="' + CSS.escape(ticket.id) + '"] [data-waited]');
        if (li) RE.setText(li, waitedText(ticket, entry.at));
      });
    });
  }, 15000);

  /* The counter this tablet calls to: typed once, kept on the tablet. */
  var counterInput = el("counter");
  function counter() {
    var value = counterInput ? counterInput.value.trim() : "";
    return value ? { counter: value } : {};
  }
  if (counterInput) {
    try {
      counterInput.value = window.localStorage.getItem(COUNTER_KEY) || "";
    } catch (e) {
      /* ignore */
    }
    counterInput.addEventListener("change", function () {
      try {
        window.localStorage.setItem(COUNTER_KEY, counterInput.value.trim());
      } catch (e) {
        /* ignore */
      }
    });
  }

  /* Undo: offered for the seconds the agent still allows after served / no-show. */
  var undoTimer = 0;
  function offerUndo(ticket) {
    var bar = el("undo-bar");
    var undo = el("undo");
    if (!bar || !undo || !ticket || !(ticket.undo_s > 0)) return;
    undo.dataset.id = ticket.id;
    RE.setText(undo, RE.t("undo", { n: ticket.number }));
    bar.hidden = false;
    window.clearTimeout(undoTimer);
    undoTimer = window.setTimeout(function () { bar.hidden = true; }, ticket.undo_s * 1000);
  }
  if (el("undo")) {
    el("undo").addEventListener("click", function () {
      el("undo-bar").hidden = true;
      act("POST", "/api/v1/tickets/" + encodeURIComponent(el("undo").dataset.id) + "/undo");
    });
  }

  el("main").addEventListener("change", function (event) {
    var select = event.target.closest("select.priority-choice");
    if (!select) return;
    var url = "/api/v1/tickets/" + encodeURIComponent(select.dataset.id) + "/priority";
    select.disabled = true;
    var done = function () { select.disabled = false; };
    if (select.value) act("POST", url, { priority: select.value }).then(done);
    else act("DELETE", url).then(done);
  });

  /* A booking checked in by hand (issue 14): the ticket page's QR code, as a walk-in's
     paper carries it, for the customer's phone. Parsed as the window page parses its code:
     only an element in the SVG namespace is drawn. */
  var SVG_NS = "http://www.w3.org/2000/svg";
  function showTicketLink(data) {
    var doc = new DOMParser().parseFromString(data.qr_svg || "", "image/svg+xml");
    var svg = doc.documentElement;
    if (!svg || svg.namespaceURI !== SVG_NS || doc.getElementsByTagName("parsererror").length) return;
    el("ticket-link-qr").replaceChildren(document.importNode(svg, true));
    RE.setText(el("ticket-link-text"), RE.t("appointment_link_text", { n: data.ticket.number }));
    el("ticket-link").hidden = false;
    el("ticket-link-close").focus();
  }
  el("ticket-link-close").addEventListener("click", function () {
    el("ticket-link").hidden = true;
    el("ticket-link-qr").replaceChildren();
  });

  el("main").addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target || target.disabled) return;
    var done = function () { target.disabled = false; };
    var queueUrl = "/api/v1/queues/" + encodeURIComponent(target.dataset.queue || "");
    var ticketUrl = "/api/v1/tickets/" + encodeURIComponent(target.dataset.id || "");
    target.disabled = true;
    if (target.classList.contains("call-next")) {
      act("POST", queueUrl + "/call-next", counter()).then(done);
    } else if (target.classList.contains("walk-in")) {
      act("POST", queueUrl + "/tickets", {}).then(function (result) {
        done();
        if (result && result.status === 201) toast(RE.t("walk_in_added", { n: result.data.ticket.number }));
      });
    } else if (target.dataset.action === "call") {
      act("POST", ticketUrl + "/call", counter()).then(done);
    } else if (target.dataset.action === "check-in") {
      var bookingUrl = "/api/v1/appointments/" + encodeURIComponent(target.dataset.id) + "/check-in";
      act("POST", bookingUrl).then(function (result) {
        done();
        if (result && result.status === 200) {
          toast(RE.t("appointment_checked_in", { n: result.data.ticket.number }));
          showTicketLink(result.data);
        }
      });
    } else if (target.dataset.action === "move") {
      act("POST", ticketUrl + "/move", { queue: target.dataset.queue }).then(done);
    } else if (["served", "no-show", "recall"].indexOf(target.dataset.action) >= 0) {
      act("POST", ticketUrl + "/" + target.dataset.action).then(function (result) {
        done();
        if (result && result.status === 200) offerUndo(result.data);
      });
    } else {
      done();
    }
  });

  /* "Late" flags appear with time, not with an event: re-read every queue now and then. */
  function poll() {
    Object.keys(columns).forEach(function (queue) {
      staffApi("GET", "/api/v1/queues/" + encodeURIComponent(queue))
        .then(function (result) {
          if (result.status === 200 && result.data) renderQueue(result.data);
        })
        .catch(function () {});
    });
  }
  window.setInterval(poll, 30000);

  /* A device that cannot save (disk full, read-only card) must not go unnoticed. */
  function checkHealth() {
    RE.api("GET", "/healthz")
      .then(function (result) {
        var banner = el("storage-banner");
        if (banner && result.data) banner.hidden = result.data.status === "ok";
      })
      .catch(function () {});
  }
  checkHealth();
  window.setInterval(checkHealth, 15000);

  /* --- arrival alerts (drawn by staff_alerts.js) and occupancy ------------------------- */

  var alerts = RE.staffAlerts.create({ api: staffApi });

  function showOccupancy(data) {
    var badge = el("occupancy");
    if (!data || typeof data.occupancy !== "number") return;
    var text = typeof data.capacity === "number"
      ? RE.t("occupancy", { n: data.occupancy, cap: data.capacity })
      : RE.t("occupancy_nocap", { n: data.occupancy });
    RE.setText(badge, text);
    var level = String(data.level || "").toLowerCase().replace(/[^a-z_-]/g, "");
    badge.className = "badge" + (level ? " level-" + level : "");
    badge.hidden = false;
  }

  /* --- live stream (the staff_token cookie authenticates it) -------------------------- */

  function parsed(event, handle) {
    try {
      handle(JSON.parse(event.data));
    } catch (e) {
      /* ignore a malformed frame */
    }
  }

  function connect() {
    if (source) return;
    source = new EventSource("/api/v1/staff/stream");
    source.addEventListener("queue", function (event) { parsed(event, renderQueue); });
    source.addEventListener("arrival", function (event) { parsed(event, alerts.add); });
    source.addEventListener("alert_withdrawn", function (event) { parsed(event, alerts.withdraw); });
    source.addEventListener("alert_acked", function (event) { parsed(event, alerts.taken); });
    source.addEventListener("occupancy", function (event) { parsed(event, showOccupancy); });
    /* Paper tickets: printer.js says what became of each one. */
    source.addEventListener("print", function (event) {
      parsed(event, function (data) { window.dispatchEvent(new CustomEvent("re-print", { detail: data })); });
    });
    source.addEventListener("open", function () {
      RE.setText(el("live"), RE.t("live"));
      el("live").className = "live is-live";
    });
    source.addEventListener("error", function () {
      RE.setText(el("live"), RE.t("reconnecting"));
      el("live").className = "live";
      if (source && source.readyState === EventSource.CLOSED) {
        source.close();
        source = null;
        /* Refused (cookie gone?) or the server went away: check, then try again. */
        poll();
        window.setTimeout(function () { if (token()) connect(); }, 3000);
      }
    });
  }

  /* --- footfall and queue joins per hour (refreshed every minute) ------------------------ */

  function renderHours(data) {
    var body = el("hours-body");
    while (body.firstChild) body.removeChild(body.firstChild);
    (data.hours || []).forEach(function (row) {
      var tr = document.createElement("tr");
      var cells = [
        row.hour + ":00",
        String(row.entered),
        String(row.left),
        String(row.joins),
        row.conversion === null ? "–" : String(Math.round(row.conversion * 100)),
      ];
      cells.forEach(function (text, index) {
        var cell = document.createElement(index === 0 ? "th" : "td");
        if (index === 0) cell.scope = "row";
        cell.textContent = text;
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
    var any = (data.hours || []).length > 0;
    el("hours-table").hidden = !any;
    RE.setText(
      el("hours-summary"),
      any ? RE.t("hours_summary", { entered: data.entered, joins: data.joins }) : RE.t("hours_none")
    );
  }

  function loadHours() {
    staffApi("GET", "/api/v1/footfall/hours")
      .then(function (result) {
        if (result.status === 200) renderHours(result.data);
      })
      .catch(function () { /* the next refresh will try again */ });
  }

  loadHours();
  window.setInterval(loadHours, 60000);
  connect();
})();
