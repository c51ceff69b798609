/* The two toggles of the menu bar (the phone menu button and the account dropdown),
   with the classes and attributes Bootstrap's stylesheet expects ("show",
   aria-expanded, data-bs-popper="static" as in a navbar). Bootstrap's own script
   (80 kB) is not loaded for these two: on a slow phone network the console is usable
   sooner without it. */
(function () {
  "use strict";

  function closeMenus(except) {
    document.querySelectorAll(".dropdown-menu.show").forEach(function (menu) {
      if (menu === except) return;
      menu.classList.remove("show");
      var toggle = menu.parentElement && menu.parentElement.querySelector("[data-bs-toggle=dropdown]");
      if (toggle) toggle.setAttribute("aria-expanded", "false");
    });
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-bs-toggle]");
    if (!toggle) {
      if (!(event.target.closest && event.target.closest(".dropdown-menu"))) closeMenus(null);
      return;
    }
    var kind = toggle.getAttribute("data-bs-toggle");
    var target = null;
    if (kind === "collapse") {
      target = document.querySelector(toggle.getAttribute("data-bs-target"));
    } else if (kind === "dropdown") {
      target = toggle.parentElement.querySelector(".dropdown-menu");
      if (target) target.setAttribute("data-bs-popper", "static");
      closeMenus(target);
    }
    if (!target) return;
    event.preventDefault();
    var open = target.classList.toggle("show");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeMenus(null);
  });
})();
