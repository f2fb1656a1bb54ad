// 调整测算: keep each slider and its number box together, and draw the before/after bar charts
// (data in the fragment's data-chart attributes) after every HTMX update. No inline script.
"use strict";

(function () {
  // Listeners on the inputs themselves run before the form's HTMX trigger sees the event.
  document.querySelectorAll("input[data-sync]").forEach((slider) => {
    const box = document.getElementById(slider.dataset.sync);
    slider.addEventListener("input", () => { box.value = slider.value; });
  });
  document.querySelectorAll("input[data-slider]").forEach((box) => {
    const slider = document.getElementById(box.dataset.slider);
    box.addEventListener("input", () => { slider.value = box.value; });
  });

  const yuan = (v) => (Math.abs(v) >= 1e8 ? (v / 1e8).toFixed(2) + "亿元"
    : Math.abs(v) >= 1e4 ? (v / 1e4).toFixed(1) + "万元" : v.toFixed(0) + "元");

  function draw(element) {
    const data = JSON.parse(element.dataset.chart);
    // SVG keeps labels in the DOM: readable by screen readers and by the browser tests.
    const chart = echarts.init(element, null, { renderer: "svg" });
    chart.setOption({
      tooltip: {
        trigger: "axis",
        formatter: (items) => {
          const i = items[0].dataIndex;
          return data.labels[i] + "<br>调整前：" + data.before[i] + " 家，" + yuan(data.before_amount[i])
            + "<br>调整后：" + data.after[i] + " 家，" + yuan(data.after_amount[i]);
        },
      },
      legend: { data: ["调整前", "调整后"], top: 0, right: 10 },
      grid: { left: 50, right: 20, top: 40, bottom: 110 },
      xAxis: { type: "category", data: data.labels, axisLabel: { rotate: 35, interval: 0, fontSize: 11 } },
      yAxis: { type: "value", name: "企业数（家）" },
      series: [
        { name: "调整前", type: "bar", data: data.before, itemStyle: { color: "#b8c4d6" } },
        { name: "调整后", type: "bar", data: data.after, itemStyle: { color: "#c0392b" } },
      ],
      animationDuration: 300,
    });
    element.dataset.rendered = "true";
    return chart;
  }

  function drawAll(root) {
    root.querySelectorAll(".sim-chart").forEach((element) => {
      try {
        draw(element);
      } catch (error) {
        element.textContent = "图表加载失败：" + error.message;
        element.classList.add("chart-error");
      }
    });
  }

  document.body.addEventListener("htmx:beforeSwap", (event) => {
    event.detail.target.querySelectorAll(".sim-chart").forEach((el) => {
      const chart = echarts.getInstanceByDom(el);
      if (chart) chart.dispose();
    });
  });
  document.body.addEventListener("htmx:afterSettle", (event) => drawAll(event.detail.target || document));
  window.addEventListener("resize", () => {
    document.querySelectorAll(".sim-chart").forEach((el) => {
      const chart = echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });
  drawAll(document);
})();
