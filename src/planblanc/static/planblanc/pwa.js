/* Installs the service worker (/sw.js), keeps the offline copy fresh while the network is
   there, says when a page is read offline, and empties the offline copy on logout. */
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  var loggedIn = !!document.querySelector("form[data-logout]") || !!document.querySelector(".pb-offline-age");

  function post(message) {
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage(message);
    });
  }

  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
    if (!loggedIn || !navigator.onLine) return;
    // At most every ten minutes, refresh every page kept offline.
    var last = Number(window.localStorage.getItem("pb-offline-refreshed") || 0);
    if (Date.now() - last > 10 * 60 * 1000) {
      window.localStorage.setItem("pb-offline-refreshed", String(Date.now()));
      post({ type: "refresh" });
    }
  }).catch(function () { /* no worker: the site still works online */ });

  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("form[data-logout]")) {
      window.localStorage.removeItem("pb-offline-refreshed");
      post({ type: "clear" });
      if (window.caches) window.caches.delete("pb-offline-v1");
    }
  });

  function showState() {
    var note = document.querySelector(".pb-offline-state");
    if (note) note.hidden = navigator.onLine;
  }
  window.addEventListener("online", showState);
  window.addEventListener("offline", showState);
  document.addEventListener("DOMContentLoaded", showState);
})();
