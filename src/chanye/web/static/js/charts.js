// Shared helpers for chanye's ECharts pages. No inline script anywhere: pages load these files.
"use strict";

window.chanye = window.chanye || { charts: {} };

window.chanye.loadJson = async function (url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(url + " → HTTP " + response.status);
  return response.json();
};

window.chanye.treeChart = function (element, root, onLeafClick) {
  // SVG keeps every label in the DOM: readable by screen readers and by the browser tests.
  const chart = echarts.init(element, null, { renderer: "svg" });
  chart.setOption({
    tooltip: { trigger: "item", triggerOn: "mousemove", formatter: (p) => p.data.tip || p.name },
    series: [{
      type: "tree",
      data: [root],
      orient: "LR",
      top: 20, bottom: 20, left: 110, right: 260,
      initialTreeDepth: -1,
      expandAndCollapse: true,
      symbolSize: 9,
      label: { position: "left", verticalAlign: "middle", align: "right", fontSize: 13 },
      leaves: { label: { position: "right", verticalAlign: "middle", align: "left" } },
      lineStyle: { color: "#b8c4d6", width: 1.2 },
      itemStyle: { color: "#c0392b", borderColor: "#c0392b" },
      emphasis: { focus: "descendant" },
      animationDuration: 400,
    }],
  });
  chart.on("click", (params) => {
    if (params.data && params.data.href && onLeafClick) onLeafClick(params.data.href);
  });
  window.addEventListener("resize", () => chart.resize());
  return chart;
};

window.chanye.showError = function (element, error) {
  element.textContent = "图表加载失败：" + error.message;
  element.classList.add("chart-error");
};

// Fetch the element's data-src, build the tree with buildRoot, draw it, and mark it rendered.
window.chanye.mountTree = function (element, key, buildRoot, onLeafClick) {
  return window.chanye.loadJson(element.dataset.src)
    .then((data) => {
      window.chanye.charts[key] = window.chanye.treeChart(element, buildRoot(data), onLeafClick);
      element.dataset.rendered = "true";
    })
    .catch((error) => window.chanye.showError(element, error));
};
