/* Typed text survives any failure: server unreachable, session expired, too long.
   Requests that fail leave the form as it was (HTMX does not swap an error), the reason is
   shown beside the form, and the text of every form marked data-pb-keep is also kept in
   this browser (sessionStorage) until it has been sent. No inline script: CSP strict. */
(function () {
  "use strict";
  var lang = (document.documentElement.lang || "fr").slice(0, 2);
  var T = {
    fr: {
      offline: "Pas de réseau : ce que vous avez écrit est gardé sur cette page. Renvoyez quand le réseau revient.",
      unreachable: "Le serveur ne répond pas. Votre texte est gardé : renvoyez dans un instant.",
      expired: "Votre session a expiré. Votre texte est gardé : reconnectez-vous dans un autre onglet, puis renvoyez.",
      tooLarge: "Envoi trop volumineux : raccourcissez le texte ou la pièce jointe. Votre texte est gardé.",
      tooLong: "Ce texte dépasse {max} caractères ({n} actuellement). Raccourcissez-le : il est gardé.",
      denied: "Action refusée : vos droits ne le permettent pas.",
      failed: "L'envoi a échoué (erreur {code}). Votre texte est gardé : réessayez."
    },
    en: {
      offline: "No network: what you wrote is kept on this page. Send again when the network is back.",
      unreachable: "The server does not answer. Your text is kept: send again in a moment.",
      expired: "Your session has expired. Your text is kept: log in again in another tab, then send again.",
      tooLarge: "Too large to send: shorten the text or the attachment. Your text is kept.",
      tooLong: "This text is longer than {max} characters ({n} now). Shorten it: it is kept.",
      denied: "Action refused: your rights do not allow it.",
      failed: "Sending failed (error {code}). Your text is kept: try again."
    }
  }[lang === "en" ? "en" : "fr"];

  function banner(text) {
    var el = document.getElementById("pb-network");
    if (!el) { return; }
    el.textContent = text || "";
    el.hidden = !text;
  }
  function formOf(elt) { return elt && elt.closest ? (elt.tagName === "FORM" ? elt : elt.closest("form")) : null; }
  function showError(form, text) {
    if (!form) { banner(text); return; }
    var box = form.querySelector(".pb-send-error");
    if (!box) {
      box = document.createElement("div");
      box.className = "pb-send-error alert alert-danger mt-2 mb-0";
      box.setAttribute("role", "alert");
      var button = form.querySelector("[type=submit]");
      (button && button.parentNode === form ? form : (button ? button.parentNode : form)).appendChild(box);
    }
    box.textContent = text;
  }
  function clearError(form) {
    var box = form && form.querySelector(".pb-send-error");
    if (box) { box.remove(); }
  }
  function key(field) { return "pb-draft:" + location.pathname + ":" + (field.form.id || "") + ":" + field.name; }

  // Drafts: kept while typing, restored into an empty field, dropped once sent.
  function restore(root) {
    root.querySelectorAll("form[data-pb-keep] textarea, form[data-pb-keep] input[type=text]").forEach(function (field) {
      try {
        var saved = sessionStorage.getItem(key(field));
        if (saved && !field.value) { field.value = saved; }
      } catch (e) { /* storage refused: the page still keeps the text */ }
    });
  }
  document.addEventListener("input", function (evt) {
    var field = evt.target;
    if (!field.form || !field.form.hasAttribute("data-pb-keep") || !field.name) { return; }
    try { sessionStorage.setItem(key(field), field.value); } catch (e) { /* quota: ignore */ }
  });
  function forget(form) {
    form.querySelectorAll("textarea, input[type=text]").forEach(function (field) {
      try { sessionStorage.removeItem(key(field)); } catch (e) { /* ignore */ }
    });
  }

  // Too long: said beside the field before anything is sent.
  function tooLong(form) {
    var problem = null;
    form.querySelectorAll("[data-pb-max]").forEach(function (field) {
      var max = parseInt(field.getAttribute("data-pb-max"), 10);
      var holder = field.parentNode;
      var note = holder.querySelector(".pb-too-long");
      if (field.value.length > max) {
        if (!note) {
          note = document.createElement("div");
          note.className = "pb-too-long invalid-feedback d-block";
          note.setAttribute("role", "alert");
          field.insertAdjacentElement("afterend", note);
        }
        note.textContent = T.tooLong.replace("{max}", max.toLocaleString(lang)).replace("{n}", field.value.length.toLocaleString(lang));
        field.classList.add("is-invalid");
        problem = problem || field;
      } else if (note) {
        note.remove();
        field.classList.remove("is-invalid");
      }
    });
    return problem;
  }

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var field = tooLong(form);
    if (field) { evt.preventDefault(); evt.stopImmediatePropagation(); field.focus(); }
  }, true);
  document.addEventListener("htmx:confirm", function (evt) {
    var form = formOf(evt.detail.elt);
    if (form && tooLong(form)) { evt.preventDefault(); }
  });

  document.addEventListener("htmx:beforeRequest", function (evt) {
    clearError(formOf(evt.detail.elt));
  });
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    // A form with its errors beside the fields comes back as 422: show it.
    if (xhr.status === 422) { evt.detail.shouldSwap = true; evt.detail.isError = false; return; }
    var sent = formOf(evt.detail.requestConfig && evt.detail.requestConfig.elt || evt.detail.elt);
    if (xhr.status === 200 && sent && sent.hasAttribute("data-pb-keep") && !(xhr.responseURL || "").match(/\/compte\/connexion\//)) {
      forget(sent);  // sent and accepted: the draft is no longer needed
    }
    // A login page instead of the answer: the session has expired; swap nothing.
    if (xhr.status === 200 && xhr.responseURL && xhr.responseURL.indexOf("/compte/connexion/") !== -1) {
      evt.detail.shouldSwap = false;
      showError(formOf(evt.detail.elt), T.expired);
    }
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = formOf(evt.detail.elt);
    if (evt.detail.successful && form && form.hasAttribute("data-pb-keep") && evt.detail.xhr.status === 200) {
      forget(form);
    }
    if (evt.detail.successful || evt.detail.xhr && evt.detail.xhr.status) { banner(navigator.onLine ? "" : T.offline); }
  });
  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr.status;
    var csrf = evt.detail.xhr.getResponseHeader("X-PB-Reason") === "csrf";
    var text = status === 401 || csrf ? T.expired : status === 413 ? T.tooLarge : status === 403 ? T.denied
      : T.failed.replace("{code}", status);
    if (evt.detail.elt && evt.detail.elt.id === "crisis-live") { return; }
    showError(formOf(evt.detail.elt), text);
  });
  document.addEventListener("htmx:sendError", function (evt) {
    var poller = evt.detail.elt && evt.detail.elt.id === "crisis-live";
    banner(navigator.onLine ? T.unreachable : T.offline);
    if (!poller) { showError(formOf(evt.detail.elt), navigator.onLine ? T.unreachable : T.offline); }
  });
  window.addEventListener("offline", function () { banner(T.offline); });
  window.addEventListener("online", function () { banner(""); });

  // The confirmation fades after a few seconds.
  var timer = null;
  document.addEventListener("htmx:oobAfterSwap", function (evt) {
    var target = evt.detail.target;
    if (!target || target.id !== "pb-toast") { return; }
    clearTimeout(timer);
    timer = setTimeout(function () { var t = document.getElementById("pb-toast"); if (t) { t.textContent = ""; } }, 6000);
  });
  document.addEventListener("click", function (evt) {
    var back = evt.target.closest && evt.target.closest("[data-pb-back]");
    if (back && history.length > 1) { evt.preventDefault(); history.back(); }
  });
  document.addEventListener("htmx:afterSettle", function (evt) { restore(evt.detail.elt || document); });
  document.addEventListener("DOMContentLoaded", function () {
    restore(document);
    if (!navigator.onLine) { banner(T.offline); }
  });
})();
