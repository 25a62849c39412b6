// The import record's page follows a queued or running import without a reload: it polls the
// record's status URL (data-status-url) every second and updates the status panel (status, rows
// read of the file's rows, percent, summary or error) until the import has finished.
(function () {
  "use strict";
  var panel = document.getElementById("import-status");
  if (!panel) {
    return;
  }
  var url = panel.getAttribute("data-status-url");
  var field = function (name) {
    return panel.querySelector('[data-field="' + name + '"]');
  };
  var number = function (value) {
    return Number(value).toLocaleString("en-US");
  };

  function show(status) {
    field("status_display").textContent = status.status_display;
    var rows = number(status.rows_read) + " row(s) read";
    if (status.rows_total) {
      rows += " of about " + number(status.rows_total);
    }
    if (status.percent !== null) {
      rows += " (" + status.percent + " %)";
      field("percent").value = status.percent;
    }
    field("rows").textContent = rows;
    field("summary").textContent = status.summary;
    field("error").textContent = status.error;
    field("error").hidden = !status.error;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (status) {
        show(status);
        if (!status.finished) {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000); // the server is restarting, or the network is away: try again later
      });
  }

  poll();
})();
