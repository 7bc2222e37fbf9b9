// The board's only script: refresh the live part without a full reload, and load the
// drill-down's children when a branch is opened. Every fetch goes to this server; what
// it inserts is HTML the server rendered and escaped.
(function () {
  "use strict";
  var live = document.getElementById("live");
  function refresh() {
    fetch(live.dataset.refresh, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (answer.status === 401) { window.location.reload(); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) { if (html !== null) { live.innerHTML = html; } })
      .catch(function () { /* the server is away; try again at the next tick */ })
      .finally(function () { live.dataset.refreshed = String(Date.now()); });
  }
  if (live) {
    window.setInterval(refresh, 1000 * Number(live.dataset.seconds || "5"));
  }
  document.addEventListener("toggle", function (event) {
    var branch = event.target;
    if (!branch.open || !branch.dataset || !branch.dataset.children || branch.dataset.loaded) { return; }
    branch.dataset.loaded = "1";
    fetch(branch.dataset.children, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.ok ? answer.text() : ""; })
      .then(function (html) { branch.querySelector(".children").innerHTML = html; });
  }, true);
}());
