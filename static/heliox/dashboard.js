// Draws the dashboard's charts from the JSON the server embedded in the page, or from a chart-data URL
// (`data-chart-url` on an element; the member UI's pages answer `?format=json` with the same series).
// A series with `links` opens the next level of the drill-down when one of its bars or slices is clicked.
// Unknown figures arrive as null: a gap in a line, a hatched "no bill yet" bar, never a 0. A team or provider
// with no GPU-hour priced has no bar: its label says "(unpriced)".
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  const source = document.getElementById("hx-chart-data");
  const remote = document.querySelector("[data-chart-url]");
  if (source) {
    draw(JSON.parse(source.textContent));
  } else if (remote) {
    fetch(remote.dataset.chartUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => response.json()).then(draw);
  }

  function draw(data) {
  Chart.defaults.animation = false; // draw at once: figures, not motion
  const code = data.currency || "USD";
  const money = new Intl.NumberFormat("en-US", { style: "currency", currency: code });
  // Axis ticks: whole units, compact past ten thousand ("$120K"), so that labels never run together.
  const tick = new Intl.NumberFormat("en-US", { style: "currency", currency: code, notation: "compact", maximumFractionDigits: 1 });
  const hours = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  // One colour per series or bar, told apart in both themes (Okabe-Ito, colour-blind safe).
  const palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#7f7f7f", "#000000", "#8c564b"];
  const colour = (i) => palette[i % palette.length];
  const shown = (v) => (v === null || v === undefined ? "no bill yet" : money.format(v));
  const value = (c) => (c.chart.options.indexAxis === "y" ? c.parsed.x : c.parsed.y ?? c.parsed);
  const moneyTooltip = { callbacks: { label: (c) => `${c.dataset.label || c.label}: ${shown(value(c))}` } };
  const gpuHours = { callbacks: { label: (c) => `${c.label}: ${hours.format(c.parsed)} GPU-h` } };
  const moneyAxis = { ticks: { callback: (v) => tick.format(v), maxTicksLimit: 6 }, title: { display: true, text: code } };
  function unpricedLabels(labels, amounts) {
    return labels.map((label, i) => (amounts[i] === null ? [label, "(unpriced)"] : label));
  }
  function hatch(color) {
    // A striped fill for bars whose figure is unknown.
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 8;
    const ctx = canvas.getContext("2d");
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(0, 8); ctx.lineTo(8, 0); ctx.stroke();
    return ctx.createPattern(canvas, "repeat");
  }
  const configs = {
    daily_by_provider: (d) => ({
      type: "bar",
      data: { labels: d.labels, datasets: d.datasets.map((s, i) => ({ ...s, backgroundColor: colour(i) })) },
      options: {
        scales: { x: { stacked: true }, y: { stacked: true, ...moneyAxis } },
        interaction: { mode: "index", intersect: false },
        plugins: { tooltip: { ...moneyTooltip, callbacks: { ...moneyTooltip.callbacks,
          footer: (items) => `Total: ${money.format(items.reduce((sum, c) => sum + (c.parsed.y || 0), 0))}` } } },
      },
    }),
    spend_by_team: (d) => ({
      type: "bar",
      data: { labels: unpricedLabels(d.labels, d.data), datasets: [{ label: "Spend", data: d.data, backgroundColor: d.data.map((_, i) => colour(i)) }] },
      options: { indexAxis: "y", scales: { x: moneyAxis }, plugins: { legend: { display: false }, tooltip: moneyTooltip } },
    }),
    hours_by_gpu: (d) => ({
      type: "doughnut",
      data: { labels: d.labels, datasets: [{ label: "GPU-hours", data: d.data, backgroundColor: d.data.map((_, i) => colour(i)) }] },
      options: { plugins: { tooltip: gpuHours } },
    }),
    billed_vs_estimated: (d) => ({
      type: "bar",
      data: {
        labels: unpricedLabels(d.labels, d.estimated)
          .map((label, i) => (d.no_bill && d.no_bill[i] ? [label, "(no bill yet)"].flat() : label)),
        datasets: [
          { label: "Billed", data: d.billed, backgroundColor: colour(0) },
          { label: "Estimated from catalog", data: d.estimated, backgroundColor: colour(1) },
          // Where no bill is known, a hatched bar at the estimate's height says so.
          { label: "No bill yet", data: d.estimated.map((v, i) => (d.no_bill && d.no_bill[i] ? v : null)),
            backgroundColor: hatch("#7f7f7f"), borderColor: "#7f7f7f", borderWidth: 1, hxUnknown: true },
        ],
      },
      options: { scales: { y: moneyAxis }, plugins: { tooltip: { callbacks: {
        label: (c) => (c.dataset.hxUnknown ? "Billed: no bill yet" : `${c.dataset.label}: ${shown(c.parsed.y)}`) } } } },
    }),
    idle_over_time: (d) => ({
      type: "line",
      data: { labels: d.labels, datasets: [{ label: "Idle", data: d.data, fill: true, tension: 0.2, spanGaps: false,
                                             borderColor: colour(5), backgroundColor: "rgba(213, 94, 0, 0.2)" }] },
      options: { scales: { y: moneyAxis }, plugins: { tooltip: moneyTooltip } },
    }),
    spend_by_model: (d) => ({
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: "Allocated", data: d.data }] },
      options: { indexAxis: "y", scales: { x: moneyAxis }, plugins: { legend: { display: false }, tooltip: moneyTooltip } },
    }),
    spend_by_job: (d) => configs.spend_by_model(d),  // a label value's jobs: the same horizontal bars
    team_daily: (d) => ({
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: "Allocated", data: d.data, backgroundColor: colour(0) }] },
      options: { scales: { y: moneyAxis }, plugins: { legend: { display: false }, tooltip: moneyTooltip } },
    }),
    job_utilisation: (d) => ({
      type: "line",
      data: { labels: d.labels, datasets: [{ label: "GPU utilisation", data: d.data, spanGaps: false, pointRadius: 0,
                                             borderColor: colour(2), backgroundColor: "rgba(0, 158, 115, 0.2)", fill: true }] },
      options: { scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } },
                 plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => `${c.parsed.y} %` } } } },
    }),
  };
  window.helioxCharts = {};
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const name = canvas.dataset.chart;
    if (data[name] && configs[name]) {
      const config = configs[name](data[name]);
      config.options = { responsive: true, maintainAspectRatio: false, ...config.options };
      const links = data[name].links;
      if (links) {
        config.options.onClick = (event, elements) => {
          if (elements.length && links[elements[0].index]) { window.location.assign(links[elements[0].index]); }
        };
        config.options.onHover = (event, elements) => {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        };
      }
      window.helioxCharts[name] = new Chart(canvas, config);
    }
  });
  }
})();

// The filter bar sends only the filters in use, so that the address stays the view's one URL.
document.querySelectorAll("form.hx-filters").forEach((form) => {
  form.addEventListener("submit", () => {
    form.querySelectorAll("input:not([type=hidden]), select").forEach((field) => {
      if (!field.value.trim()) field.disabled = true;
    });
  });
});
