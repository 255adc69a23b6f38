// The progress bar of an import that is still running (templates/admin/import/batch.html): polls its status
// and reloads the page once it has finished.
(function () {
  var box = document.getElementById("import-progress");
  var bar = box.querySelector(".progress-bar");
  var phase = document.getElementById("import-phase");
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (state) {
        bar.style.width = state.percent + "%";
        bar.setAttribute("aria-valuenow", state.percent);
        bar.textContent = state.percent + "%";
        phase.textContent = state.error || (state.label + (state.total ? " (" + state.done + " / " + state.total + ")" : "") + "…");
        if (state.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
