// The front desk's day board on the admin home page: fetch the board fragment every
// data-refresh-seconds and swap it in, without reloading the page. Served from static
// files (CSP: scripts only from 'self'); no inline script, no library.
(function () {
  "use strict";

  function board() {
    return document.getElementById("desk-board");
  }

  function refresh() {
    var current = board();
    if (!current) {
      return;
    }
    fetch(current.dataset.boardUrl, {
      headers: { "X-Desk-Board": "1" },
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("board: HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();
        var fresh = holder.content.firstElementChild;
        if (fresh && fresh.id === "desk-board") {
          board().replaceWith(fresh);
        }
      })
      .catch(function () {
        // Signed out or offline: keep what is shown; the next round tries again.
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var current = board();
    if (!current) {
      return;
    }
    var seconds = parseInt(current.dataset.refreshSeconds, 10) || 30;
    window.setInterval(refresh, seconds * 1000);
  });
})();
