// The phishing drill's look-alike page (awareness/drills/form.html). Mail gateways fetch
// every link as the message arrives, some in a real browser, so opening the page counts
// for nothing: the click is recorded once a person shows up — a touch, a key, the mouse
// moving, a scroll — by sending back the page's signed proof. No inline script (CSP).
(function () {
  "use strict";
  var form = document.getElementById("drill-seen");
  if (!form || form.dataset.counted) {
    return;
  }
  var signs = ["pointerdown", "pointermove", "touchstart", "keydown", "wheel", "scroll", "focusin"];
  var sent = false;

  function send() {
    if (sent) {
      return;
    }
    sent = true;
    var body = new FormData(form);
    body.append("via", "script");
    fetch(form.action, {method: "POST", body: body, credentials: "same-origin", keepalive: true})
      .then(function (response) {
        // Counted, or refused for good (an expired link): either way, done.
        form.dataset.counted = response.ok ? "1" : "";
        signs.forEach(function (name) {
          window.removeEventListener(name, send, true);
        });
      })
      .catch(function () {
        sent = false;  // the network: the next sign tries again
      });
  }

  signs.forEach(function (name) {
    window.addEventListener(name, send, {capture: true, passive: true});
  });
})();
