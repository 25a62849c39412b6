// Draws the dashboard's charts from the JSON the server embedded in the page.
(function () {
  "use strict";
  const source = document.getElementById("hx-chart-data");
  if (!source || typeof Chart === "undefined") { return; }
  const data = JSON.parse(source.textContent);
  Chart.defaults.animation = false; // draw at once: figures, not motion
  const code = data.currency || "USD";
  const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: code });
  const hours = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const money = { callbacks: { label: (c) => `${c.dataset.label || c.label}: ${usd.format(c.parsed.y ?? c.parsed.x ?? c.parsed)}` } };
  const gpuHours = { callbacks: { label: (c) => `${c.label}: ${hours.format(c.parsed)} GPU-h` } };
  const usdAxis = { ticks: { callback: (v) => usd.format(v) }, title: { display: true, text: code } };
  const configs = {
    daily_by_provider: (d) => ({
      type: "bar",
      data: { labels: d.labels, datasets: d.datasets },
      options: { scales: { x: { stacked: true }, y: { stacked: true, ...usdAxis } }, plugins: { tooltip: money } },
    }),
    spend_by_team: (d) => ({
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: "Allocated", data: d.data }] },
      options: { indexAxis: "y", scales: { x: usdAxis }, plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => usd.format(c.parsed.x) } } } },
    }),
    hours_by_gpu: (d) => ({
      type: "doughnut",
      data: { labels: d.labels, datasets: [{ label: "GPU-hours", data: d.data }] },
      options: { plugins: { tooltip: gpuHours } },
    }),
    billed_vs_estimated: (d) => ({
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: "Billed", data: d.billed }, { label: "Estimated from catalog", data: d.estimated }] },
      options: { scales: { y: usdAxis }, plugins: { tooltip: money } },
    }),
    idle_over_time: (d) => ({
      type: "line",
      data: { labels: d.labels, datasets: [{ label: "Idle", data: d.data, fill: true, tension: 0.2 }] },
      options: { scales: { y: usdAxis }, plugins: { tooltip: money } },
    }),
    team_daily: (d) => ({
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: "Allocated", data: d.data }] },
      options: { scales: { y: usdAxis }, plugins: { legend: { display: false }, tooltip: money } },
    }),
  };
  window.helioxCharts = {};
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const name = canvas.dataset.chart;
    if (data[name] && configs[name]) {
      const config = configs[name](data[name]);
      config.options = { responsive: true, maintainAspectRatio: false, ...config.options };
      window.helioxCharts[name] = new Chart(canvas, config);
    }
  });
})();
