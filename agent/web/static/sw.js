/* The service worker: shows the agent's Web Push messages as notifications, even with the
   ticket page closed, and opens (or focuses) the ticket page when one is tapped.
   Served at /sw.js so that its scope covers /t/. The payload is the agent's JSON (contract
   8.6): type, ticket_id, number, lang, title, body, url. */
"use strict";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function sameOrigin(url) {
  try {
    var parsed = new URL(url, self.location.origin);
    return parsed.origin === self.location.origin ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = {};
  }
  var urgent = data.type === "called" || data.type === "recalled";
  var title = typeof data.title === "string" && data.title ? data.title : String(data.number || "");
  var options = {
    body: typeof data.body === "string" ? data.body : "",
    lang: typeof data.lang === "string" ? data.lang : "",
    /* One notification per ticket: a recall replaces the call, and still rings (renotify). */
    tag: "ticket-" + (data.ticket_id || ""),
    renotify: true,
    requireInteraction: urgent,
    vibrate: urgent ? [400, 150, 400, 150, 400] : [200],
    icon: "/static/icon.svg",
    data: { url: sameOrigin(data.url || "/") || self.location.origin + "/", type: data.type }
  };
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || self.location.origin + "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
      for (var i = 0; i < windows.length; i++) {
        var client = windows[i];
        if (client.url.split("?")[0] === url.split("?")[0] && "focus" in client) {
          return client.focus();
        }
      }
      return self.clients.openWindow ? self.clients.openWindow(url) : undefined;
    })
  );
});
