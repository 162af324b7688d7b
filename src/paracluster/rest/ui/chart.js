// The dashboard's node-count chart: compute instances over time (running per queue, pending in all), as an SVG
// step chart drawn from /paracluster/v1/clusters/{name}/nodecounts. No library: a few lines of SVG.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const WIDTH = 640, HEIGHT = 180, LEFT = 36, RIGHT = 12, TOP = 12, BOTTOM = 24;
  const COLORS = ["#2b6cb0", "#2f855a", "#b7791f", "#805ad5", "#c53030", "#319795"];

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Series of [time, value] steps, one per queue (running) and one for pending instances of every queue.
  function series(samples) {
    const queues = [...new Set(samples.flatMap((s) => Object.keys(s.queues)))].sort();
    const lines = queues.map((queue) => ({
      label: `${queue || "compute"} running`,
      points: samples.map((s) => [Date.parse(s.time), (s.queues[queue] || {}).running || 0]),
    }));
    lines.push({
      label: "pending", dashed: true,
      points: samples.map((s) => [Date.parse(s.time),
        Object.values(s.queues).reduce((sum, q) => sum + (q.pending || 0), 0)]),
    });
    return lines;
  }

  window.nodeChart = function nodeChart(samples) {
    const box = document.createElement("div");
    box.className = "chart";
    if (!samples.length) {
      box.textContent = "No samples yet.";
      return box;
    }
    const now = Date.now();
    const start = Date.parse(samples[0].time);
    const end = Math.max(now, start + 1000);
    const lines = series(samples);
    const top = Math.max(1, ...lines.flatMap((line) => line.points.map((p) => p[1])));
    const x = (t) => LEFT + ((t - start) / (end - start)) * (WIDTH - LEFT - RIGHT);
    const y = (v) => HEIGHT - BOTTOM - (v / top) * (HEIGHT - TOP - BOTTOM);
    const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": "compute nodes over time" });
    chart.append(svg("line", { x1: LEFT, y1: y(0), x2: WIDTH - RIGHT, y2: y(0), class: "axis" }));
    chart.append(svg("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: y(0), class: "axis" }));
    chart.append(svg("text", { x: LEFT - 6, y: y(top) + 4, "text-anchor": "end" }, String(top)));
    chart.append(svg("text", { x: LEFT - 6, y: y(0) + 4, "text-anchor": "end" }, "0"));
    chart.append(svg("text", { x: LEFT, y: HEIGHT - 6 }, new Date(start).toLocaleTimeString()));
    chart.append(svg("text", { x: WIDTH - RIGHT, y: HEIGHT - 6, "text-anchor": "end" }, "now"));
    lines.forEach((line, i) => {
      // A step line: each value holds until the next sample, the last one until now.
      let path = "";
      line.points.forEach(([t, v], j) => {
        path += j === 0 ? `M${x(t)},${y(v)}` : `H${x(t)}V${y(v)}`;
      });
      path += `H${x(end)}`;
      chart.append(svg("path", { d: path, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2,
        "stroke-dasharray": line.dashed ? "4 3" : "none", "data-series": line.label }));
    });
    box.append(chart);
    const legend = document.createElement("div");
    legend.className = "legend";
    lines.forEach((line, i) => {
      const item = document.createElement("span");
      item.style.color = COLORS[i % COLORS.length];
      const last = line.points[line.points.length - 1][1];
      item.textContent = `${line.label}: ${last}`;
      legend.append(item);
    });
    box.append(legend);
    return box;
  };
})();
