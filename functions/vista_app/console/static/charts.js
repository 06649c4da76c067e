// Charts drawn in the page: bars (HTML), line charts and the confusion matrix (SVG).

import { h, num, pct, s } from "./dom.js";

export const COLORS = ["#1f5fae", "#d1495b", "#2a9d8f", "#e9a03b", "#7b5ea7", "#5c946e", "#c06c84", "#3d5a80"];

// Horizontal bars in HTML (not SVG), so labels keep their size on a phone. The widths are set
// through the CSSOM, which the Content-Security-Policy allows (inline style attributes it does not).
export function barChart(rows, { max = 1, format = pct, label = "", highlight = () => false, id = null } = {}) {
  return h("div", { class: "bars", role: "img", "aria-label": label, id },
    rows.map((row) => {
      const bar = h("span", { class: `bar${highlight(row) ? " top" : ""}` });
      bar.style.width = `${Math.max(0, Math.min(100, (100 * (row.value || 0)) / max))}%`;
      return h("div", { class: "bar-row" }, h("span", { class: "bar-name", text: row.name }), h("span", { class: "track" }, bar), h("span", { class: "bar-value", text: format(row.value) }));
    }));
}

// Accuracy charts (yMax 1) run from 0 to 100%; others span their data, so a small change shows.
// Drawn at about the width it is shown at (a phone's, at most 460), so its text stays ~12px.
export function lineChart(series, { title, yLabel, xLabel = "epoch", yMax = null, percent = yMax === 1, width = Math.max(300, Math.min(460, window.innerWidth - 64)), height = 240 } = {}) {
  const pad = { left: 48, right: 14, top: 26, bottom: 34 };
  const points = series.flatMap((line) => line.points);
  const xMax = Math.max(1, ...points.map((p) => p[0]));
  const values = points.map((p) => p[1]);
  const spread = Math.max(1e-6, Math.max(...values) - Math.min(...values));
  const top = yMax ?? Math.max(...values) + 0.1 * spread;
  const bottom = yMax === null ? Math.max(0, Math.min(...values) - 0.1 * spread) : 0;
  const x = (v) => pad.left + ((width - pad.left - pad.right) * (v - 1)) / Math.max(1, xMax - 1);
  const y = (v) => pad.top + (height - pad.top - pad.bottom) * (1 - (v - bottom) / (top - bottom));
  const chart = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${yLabel} by ${xLabel}` });
  chart.append(s("text", { x: pad.left, y: 16, "font-weight": "600", text: title }));
  for (let i = 0; i <= 4; i += 1) {
    const value = bottom + ((top - bottom) * i) / 4;
    chart.append(
      s("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }),
      s("text", { x: pad.left - 6, y: y(value) + 4, "text-anchor": "end", text: percent ? pct(value, 0) : num(value, 2) }),
    );
  }
  const step = Math.max(1, Math.ceil(xMax / 8));
  for (let e = 1; e <= xMax; e += step) {
    chart.append(s("text", { x: x(e), y: height - pad.bottom + 16, "text-anchor": "middle", text: String(e) }));
  }
  chart.append(
    s("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(bottom), y2: y(bottom) }),
    s("text", { x: (width + pad.left) / 2, y: height - 4, "text-anchor": "middle", text: xLabel }),
  );
  series.forEach((line) => {
    if (!line.points.length) return;
    const path = line.points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    chart.append(s("path", { d: path, fill: "none", stroke: line.color, "stroke-width": 2.2, "stroke-dasharray": line.dash || "" }));
    line.points.forEach((p) => chart.append(s("circle", { cx: x(p[0]), cy: y(p[1]), r: 2.6, fill: line.color }, s("title", { text: `${line.name}, ${xLabel} ${p[0]}: ${num(p[1], 4)}` }))));
  });
  const legend = h("div", { class: "legend" }, series.map((line) => h("span", {}, legendSwatch(line.color), line.name)));
  return h("figure", { class: "panel" }, chart, legend);
}

function legendSwatch(color) {
  const swatch = s("svg", { width: 16, height: 6, "aria-hidden": "true" }, s("rect", { width: 16, height: 4, y: 1, rx: 2, fill: color }));
  return swatch;
}

export function confusionMatrix(metrics) {
  const classes = metrics.class_names || [];
  const matrix = metrics.confusion_matrix || [];
  if (!classes.length || !matrix.length) return h("p", { class: "muted", text: "No confusion matrix recorded." });
  const cell = 44;
  const left = 90;
  const top = 90;
  const size = left + cell * classes.length + 4;
  const max = Math.max(1, ...matrix.flat());
  const chart = s("svg", { class: "chart", viewBox: `0 0 ${size} ${top + cell * classes.length + 4}`, role: "img", "aria-label": "confusion matrix: rows are true classes, columns predicted" });
  classes.forEach((name, i) => {
    chart.append(
      s("text", { x: left - 6, y: top + i * cell + cell / 2 + 4, "text-anchor": "end", text: name }),
      s("text", { transform: `translate(${left + i * cell + cell / 2 + 4},${top - 6}) rotate(-60)`, text: name }),
    );
  });
  matrix.forEach((row, i) => row.forEach((count, j) => {
    const share = count / max;
    const fill = i === j ? `rgb(${Math.round(230 - 200 * share)},${Math.round(240 - 130 * share)},${Math.round(250 - 90 * share)})` : count ? `rgb(250,${Math.round(235 - 150 * share)},${Math.round(230 - 150 * share)})` : "#f7f8fa";
    chart.append(
      s("rect", { x: left + j * cell, y: top + i * cell, width: cell - 2, height: cell - 2, fill, rx: 3 }, s("title", { text: `true ${classes[i]}, predicted ${classes[j]}: ${count}` })),
      s("text", { x: left + j * cell + cell / 2 - 1, y: top + i * cell + cell / 2 + 4, "text-anchor": "middle", fill: share > 0.55 && i === j ? "#fff" : "#1b2430", text: String(count) }),
    );
  }));
  return h("figure", {}, chart, h("figcaption", { class: "hint", text: "Rows: the true class. Columns: what the model said." }));
}
