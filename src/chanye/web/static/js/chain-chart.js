// One industry's chain: upstream, midstream and downstream links as a tree.
"use strict";

(function () {
  const element = document.getElementById("chain-chart");
  if (!element) return;
  const stageLabels = { upstream: "上游", midstream: "中游", downstream: "下游" };

  function buildTree(ind) {
    return {
      name: ind.short_name || ind.name,
      children: Object.keys(stageLabels).map((stage) => ({
        name: stageLabels[stage],
        children: ind.chain[stage].map((link) => ({
          name: link.name,
          href: "#link-" + link.id,
          tip: link.name + "<br>" + link.keywords.slice(0, 6).join("、"),
        })),
      })),
    };
  }

  window.chanye.mountTree(element, "chain", buildTree, (href) => { window.location.hash = href; });
})();
