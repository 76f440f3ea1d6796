/* Applies the saved theme before the page paints (no flash); dashboard.js owns the toggle. */
(function () {
  "use strict";
  try {
    var saved = window.localStorage.getItem("devora-theme");
    if (saved === "dark" || saved === "light") {
      document.documentElement.setAttribute("data-theme", saved);
    }
  } catch (ignored) {
    /* storage blocked: follow prefers-color-scheme */
  }
})();
