// "Mes appareils": subscribe this device to Web Push (VAPID key from the page) and
// send the subscription to the server. Uses the app's service worker (/sw.js, which
// imports push-sw.js), registering it if the app has not yet.
(function () {
  "use strict";
  var box = document.getElementById("pb-push");
  if (!box) { return; }
  var button = document.getElementById("pb-push-subscribe");
  var status = document.getElementById("pb-push-status");
  function say(key) { status.textContent = status.dataset[key] || ""; }
  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }
  function csrf() {
    // The CSRF cookie is HttpOnly: the token comes from the form field of the page.
    var input = box.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    button.disabled = true;
    say("unsupported");
    return;
  }
  function registration() {
    return navigator.serviceWorker.getRegistration().then(function (existing) {
      return existing || navigator.serviceWorker.register(box.dataset.sw);
    }).then(function () { return navigator.serviceWorker.ready; });
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { throw new Error("denied"); }
      return registration();
    }).then(function (reg) {
      return reg.pushManager.getSubscription().then(function (current) {
        return current || reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: keyBytes(box.dataset.key)});
      });
    }).then(function (subscription) {
      return fetch(box.dataset.url, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
        body: JSON.stringify(subscription.toJSON())
      });
    }).then(function (response) {
      if (!response.ok) { throw new Error("failed"); }
      say("done");
      if (window.htmx) { window.htmx.ajax("GET", window.location.pathname, {target: "#pb-devices", select: "#pb-devices > *"}); }
    }).catch(function (error) {
      say(error && error.message === "denied" ? "denied" : "failed");
    }).finally(function () { button.disabled = false; });
  });
})();
