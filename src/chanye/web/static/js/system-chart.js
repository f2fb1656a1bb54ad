// The 12218 overview: the whole system as a tree; clicking an industry opens its page.
"use strict";

(function () {
  const element = document.getElementById("system-chart");
  if (!element) return;

  const industryNode = (ind) => ({
    name: ind.name,
    id: ind.id,
    href: "/industries/" + ind.id,
    tip: ind.name + (ind.target ? "（目标：" + ind.target.level + "）" : "") + (ind.confirmed ? "" : "（待核实）"),
    itemStyle: ind.confirmed ? undefined : { color: "#fff", borderColor: "#d68910" },
  });

  function buildTree(data) {
    const clusterBranch = {
      name: data.clusters.length + "个战略性产业集群",
      children: data.tiers.map((tier) => ({
        name: tier.name,
        children: data.clusters.filter((c) => c.tier === tier.id).map(industryNode),
      })),
    };
    return {
      name: data.system.city + data.system.name,
      children: [
        { name: "1个总体要求", children: [{ name: data.requirement.name, tip: data.requirement.meaning }] },
        { name: data.directions.length + "个主攻方向", children: data.directions.map((d) => ({ name: d.name, tip: d.meaning })) },
        clusterBranch,
        { name: data.future_industries.length + "个未来产业", children: data.future_industries.map(industryNode) },
        { name: data.service_industries.length + "个现代服务业", children: data.service_industries.map(industryNode) },
      ],
    };
  }

  window.chanye.mountTree(element, "system", buildTree, (href) => { window.location.href = href; });
})();
