// Web Push handlers of the app's service worker: sw.js loads this file with
// importScripts("/static/planblanc/push-sw.js").
// The payload (channels/webpush.py): {title, body, url, tag, exercise, actions: [{action, title, url}]}.
/* eslint-env serviceworker */
"use strict";

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {body: event.data ? event.data.text() : ""}; }
  var actions = (data.actions || []).map(function (a) { return {action: a.action, title: a.title}; });
  event.waitUntil(self.registration.showNotification(data.title || "Plan Blanc", {
    body: data.body || "",
    tag: data.tag || undefined,
    renotify: true,
    requireInteraction: true,
    data: {url: data.url || "/", actions: data.actions || []},
    actions: actions
  }));
});

self.addEventListener("notificationclick", function (event) {
  var notification = event.notification;
  var data = notification.data || {};
  notification.close();
  var chosen = (data.actions || []).filter(function (a) { return a.action === event.action; })[0];
  if (chosen) {
    // "J'arrive" / "Je ne peux pas": answered through the signed link, app not opened.
    event.waitUntil(fetch(chosen.url, {method: "POST", credentials: "omit"}).catch(function () {
      return self.clients.openWindow(data.url);
    }));
    return;
  }
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (windows[i].url === data.url && "focus" in windows[i]) { return windows[i].focus(); }
    }
    return self.clients.openWindow(data.url);
  }));
});
