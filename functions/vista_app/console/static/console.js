// Vista's web console: four pages over the REST API (under api/, with the session cookie).
// Plain DOM code, no framework and nothing fetched from elsewhere; every value from the API
// is put into the page as text, never as markup.

const API = "api/";
const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#1f5fae", "#d1495b", "#2a9d8f", "#e9a03b", "#7b5ea7", "#5c946e", "#c06c84", "#3d5a80"];
const POLL_MS = 3000;

// ------------------------------------------------------------------ small helpers
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// Replaces a node's children (nested lists flattened, empty values skipped, as h() does).
function put(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.flat().filter(Boolean));
  return node;
}

const pct = (x, digits = 1) => (x === undefined || x === null ? "–" : `${(100 * x).toFixed(digits)}%`);
const num = (x, digits = 2) => (x === undefined || x === null ? "–" : Number(x).toFixed(digits));
const money = (x) => (x === undefined || x === null ? "–" : `$${Number(x) < 0.01 && Number(x) > 0 ? Number(x).toFixed(5) : Number(x).toFixed(2)}`);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
const int = (x) => (x === undefined || x === null ? "–" : Number(x).toLocaleString());

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const response = await fetch(API + path, { redirect: "manual", credentials: "same-origin", ...options });
  // The session ended: API Gateway sends us to sign in (a redirect fetch will not follow).
  if (response.type === "opaqueredirect" || response.status === 401) {
    location.reload();
    throw new ApiError(401, "Your session has ended: signing in again…");
  }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, (body && body.message) || String(body) || response.statusText);
  return body;
}

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 4000);
}

function errorBox(error) {
  return h("p", { class: "error", role: "alert", text: error instanceof Error ? error.message : String(error) });
}

function confirmDialog(title, text, ok = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = ok;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

function badge(text, kind = text) {
  return h("span", { class: `badge ${kind}`, text });
}

// Models are read by several pages (classes for feedback, the model filter): fetched once a page.
let modelsCache = null;
async function board(refresh = false) {
  if (!modelsCache || refresh) modelsCache = api("models");
  return modelsCache;
}
async function models(refresh = false) {
  return (await board(refresh)).items;
}
async function classNames() {
  const all = await models();
  const champion = all.find((m) => m.state === "champion") || all[0];
  return (champion && champion.classes) || [];
}

// ------------------------------------------------------------------ charts (SVG, drawn here)
// Horizontal bars in HTML (not SVG), so labels keep their size on a phone. The widths are set
// through the CSSOM, which the Content-Security-Policy allows (inline style attributes it does not).
function barChart(rows, { max = 1, format = pct, label = "", highlight = () => false, id = null } = {}) {
  return h("div", { class: "bars", role: "img", "aria-label": label, id },
    rows.map((row) => {
      const bar = h("span", { class: `bar${highlight(row) ? " top" : ""}` });
      bar.style.width = `${Math.max(0, Math.min(100, (100 * (row.value || 0)) / max))}%`;
      return h("div", { class: "bar-row" }, h("span", { class: "bar-name", text: row.name }), h("span", { class: "track" }, bar), h("span", { class: "bar-value", text: format(row.value) }));
    }));
}

// Accuracy charts (yMax 1) run from 0 to 100%; others span their data, so a small change shows.
// Drawn at about the width it is shown at (a phone's, at most 460), so its text stays ~12px.
function lineChart(series, { title, yLabel, yMax = null, width = Math.max(300, Math.min(460, window.innerWidth - 64)), height = 240 } = {}) {
  const pad = { left: 48, right: 14, top: 26, bottom: 34 };
  const points = series.flatMap((line) => line.points);
  const xMax = Math.max(1, ...points.map((p) => p[0]));
  const values = points.map((p) => p[1]);
  const spread = Math.max(1e-6, Math.max(...values) - Math.min(...values));
  const top = yMax ?? Math.max(...values) + 0.1 * spread;
  const bottom = yMax === null ? Math.max(0, Math.min(...values) - 0.1 * spread) : 0;
  const x = (v) => pad.left + ((width - pad.left - pad.right) * (v - 1)) / Math.max(1, xMax - 1);
  const y = (v) => pad.top + (height - pad.top - pad.bottom) * (1 - (v - bottom) / (top - bottom));
  const chart = s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${yLabel} by epoch` });
  chart.append(s("text", { x: pad.left, y: 16, "font-weight": "600", text: title }));
  for (let i = 0; i <= 4; i += 1) {
    const value = bottom + ((top - bottom) * i) / 4;
    chart.append(
      s("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }),
      s("text", { x: pad.left - 6, y: y(value) + 4, "text-anchor": "end", text: yMax === 1 ? pct(value, 0) : num(value, 2) }),
    );
  }
  const step = Math.max(1, Math.ceil(xMax / 8));
  for (let e = 1; e <= xMax; e += step) {
    chart.append(s("text", { x: x(e), y: height - pad.bottom + 16, "text-anchor": "middle", text: String(e) }));
  }
  chart.append(
    s("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(bottom), y2: y(bottom) }),
    s("text", { x: (width + pad.left) / 2, y: height - 4, "text-anchor": "middle", text: "epoch" }),
  );
  series.forEach((line) => {
    if (!line.points.length) return;
    const path = line.points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    chart.append(s("path", { d: path, fill: "none", stroke: line.color, "stroke-width": 2.2, "stroke-dasharray": line.dash || "" }));
    line.points.forEach((p) => chart.append(s("circle", { cx: x(p[0]), cy: y(p[1]), r: 2.6, fill: line.color }, s("title", { text: `${line.name}, epoch ${p[0]}: ${num(p[1], 4)}` }))));
  });
  const legend = h("div", { class: "legend" }, series.map((line) => h("span", {}, legendSwatch(line.color), line.name)));
  return h("figure", { class: "panel" }, chart, legend);
}

function legendSwatch(color) {
  const swatch = s("svg", { width: 16, height: 6, "aria-hidden": "true" }, s("rect", { width: 16, height: 4, y: 1, rx: 2, fill: color }));
  return swatch;
}

function confusionMatrix(metrics) {
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

// ------------------------------------------------------------------ feedback (classify + predictions)
function feedbackControls(prediction, classes) {
  const box = h("div", { class: "feedback" });
  const show = () => {
    put(box);
    if (prediction.status !== "OK") return;
    if (prediction.feedback_label) {
      const right = prediction.feedback_label === prediction.label;
      box.append(h("span", { class: right ? "ok" : "muted", text: right ? "✓ Confirmed correct" : `Labelled ${prediction.feedback_label}` }), h("button", { class: "secondary small", type: "button", text: "Change", onclick: () => { prediction.feedback_label = null; show(); } }));
      return;
    }
    const select = h("select", { "aria-label": "The true class" }, h("option", { value: "", text: "Actually…" }), classes.filter((c) => c !== prediction.label).map((c) => h("option", { value: c, text: c })));
    const send = async (label) => {
      box.querySelectorAll("button, select").forEach((b) => { b.disabled = true; });
      try {
        const result = await api(`predictions/${encodeURIComponent(prediction.id)}/feedback`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ label }),
        });
        prediction.feedback_label = label;
        show();
        const rolling = result.rolling_accuracy !== undefined ? ` Rolling accuracy of ${result.model}: ${pct(result.rolling_accuracy)} over ${result.labelled} labelled.` : "";
        box.append(h("span", { class: "meta", text: `Feedback recorded.${rolling}` }));
        toast(`Feedback recorded: ${label}`);
      } catch (error) {
        box.append(errorBox(error));
        box.querySelectorAll("button, select").forEach((b) => { b.disabled = false; });
      }
    };
    select.addEventListener("change", () => select.value && send(select.value));
    box.append(h("button", { class: "small", type: "button", text: "✓ Correct", onclick: () => send(prediction.label) }), select);
  };
  show();
  return box;
}

function probabilityChart(prediction) {
  const rows = Object.entries(prediction.probabilities || {}).map(([name, value]) => ({ name, value })).sort((a, b) => b.value - a.value);
  return barChart(rows, { label: `class probabilities, highest ${prediction.label}`, highlight: (r) => r.name === prediction.label });
}

function predictionSummary(prediction) {
  if (prediction.status !== "OK") {
    return [badge(prediction.status || "FAILED", "FAILED"), h("p", { class: "error", text: prediction.error || "The image could not be classified." })];
  }
  return [
    h("div", { class: "spread" }, h("span", { class: "label", text: prediction.label }), h("span", { class: "mono", text: pct(prediction.confidence) })),
    prediction.review ? badge("needs review", "review") : null,
  ];
}

// A photo over this goes straight to S3 (POST /uploads, then a PUT to the URL it gives): API Gateway
// base64s a request's body into Lambda's 6 MB event. vista/client.py's SYNCHRONOUS_MAX_BYTES (a test holds them equal).
const SYNCHRONOUS_MAX_BYTES = 4 * 1024 * 1024;
const UPLOAD_WAIT_S = 180;

async function classifyFile(file, progress) {
  if (file.size <= SYNCHRONOUS_MAX_BYTES) {
    return api("predictions", { method: "POST", headers: { "Content-Type": file.type || "application/octet-stream" }, body: file });
  }
  if (!["image/jpeg", "image/png"].includes(file.type)) throw new Error(`${file.name} is ${int(file.size)} bytes: a photo this big must be a JPEG or PNG.`);
  const { id, upload } = await api("uploads", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ content_type: file.type }) });
  if (file.size > upload.max_bytes) throw new Error(`${file.name} is ${int(file.size)} bytes; the most an image may be is ${int(upload.max_bytes)}.`);
  progress(`Uploading ${(file.size / 1048576).toFixed(1)} MB…`);
  const put = await fetch(upload.url, { method: upload.method, headers: upload.headers, body: file });
  if (!put.ok) throw new Error(`The upload to S3 failed: ${put.status} ${put.statusText}`);
  progress("Uploaded; classifying…");
  for (const deadline = Date.now() + UPLOAD_WAIT_S * 1000; Date.now() < deadline;) {
    try {
      return await api(`predictions/${encodeURIComponent(id)}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error; // 404: not classified yet
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`${file.name} was uploaded but not classified within ${UPLOAD_WAIT_S} s: look for it on the Predictions page.`);
}

// ------------------------------------------------------------------ pages
const pages = {};

pages.classify = async (main) => {
  const input = h("input", { type: "file", id: "images", accept: "image/jpeg,image/png", multiple: true });
  const results = h("div", { class: "grid", id: "results", "aria-live": "polite" });
  const drop = h("label", { class: "drop", for: "images" }, h("strong", { text: "Drop images here, or choose them" }), h("span", { class: "hint", text: "JPEG or PNG; each is classified by the model in service." }), input);
  main.append(h("h1", { text: "Classify images" }), h("p", { class: "lede", text: "Each image goes to the champion model's serverless endpoint; the answer is recorded with the other predictions." }), drop, h("h2", { text: "Results" }), results);
  const known = classNames().catch(() => []);
  const classify = async (file) => {
    const preview = h("img", { class: "thumb", alt: file.name, src: URL.createObjectURL(file) });
    const body = h("div", { class: "body" }, h("div", { class: "meta", text: file.name }), h("p", { class: "muted", text: "Classifying…" }));
    const card = h("article", { class: "card", "aria-busy": "true" }, preview, body);
    results.prepend(card);
    try {
      const prediction = await classifyFile(file, (text) => put(body, h("div", { class: "meta", text: file.name }), h("p", { class: "muted", text })));
      put(body,
        ...predictionSummary(prediction),
        probabilityChart(prediction),
        h("div", { class: "meta", text: `${file.name} · model ${prediction.model} · ${prediction.latency_ms} ms` }),
        feedbackControls(prediction, await known),
      );
    } catch (error) {
      put(body, h("div", { class: "meta", text: file.name }), errorBox(error));
    } finally {
      card.removeAttribute("aria-busy");
    }
  };
  const take = async (files) => {
    const queue = [...files];
    const worker = async () => { while (queue.length) await classify(queue.shift()); };
    await Promise.all([worker(), worker()]);
  };
  input.addEventListener("change", () => { take(input.files); input.value = ""; });
  for (const kind of ["dragenter", "dragover"]) drop.addEventListener(kind, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const kind of ["dragleave", "drop"]) drop.addEventListener(kind, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); take(e.dataTransfer.files); });
  if (!(await known).length) results.before(h("p", { class: "muted", text: "No model has been promoted yet: train one on the Training page first." }));
};

pages.predictions = async (main) => {
  const [classes, all] = await Promise.all([classNames().catch(() => []), models().catch(() => [])]);
  const label = h("select", { id: "filter-label" }, h("option", { value: "", text: "any" }), classes.map((c) => h("option", { value: c, text: c })));
  const model = h("select", { id: "filter-model" }, h("option", { value: "", text: "any" }), all.map((m) => h("option", { value: m.name, text: `${m.name} (${m.state})` })));
  const review = h("input", { type: "checkbox", id: "filter-review" });
  const list = h("div", { class: "grid", id: "predictions" });
  const more = h("button", { class: "secondary", type: "button", text: "Load more", hidden: true });
  const status = h("p", { class: "muted", role: "status" });
  main.append(
    h("h1", { text: "Predictions" }),
    h("form", { class: "panel filters", onsubmit: (e) => e.preventDefault() },
      h("div", { class: "field" }, h("label", { for: "filter-label", text: "Predicted class" }), label),
      h("div", { class: "field" }, h("label", { for: "filter-model", text: "Model" }), model),
      h("div", { class: "field check" }, review, h("label", { for: "filter-review", text: "Needs review only" }))),
    status, list, more,
  );
  let token = null;
  let latest = 0;
  const load = async (reset) => {
    const mine = ++latest;  // a filter changed again before this page came: its answer is dropped
    const query = new URLSearchParams({ limit: "24" });
    if (token && !reset) query.set("next_token", token);
    if (label.value) query.set("label", label.value);
    if (model.value) query.set("model", model.value);
    if (review.checked) query.set("review", "true");
    status.textContent = "Loading…";
    try {
      const page = await api(`predictions?${query}`);
      if (mine !== latest) return;
      if (reset) put(list);
      token = page.next_token;
      page.items.forEach((p) => list.append(predictionCard(p, classes)));
      status.textContent = list.children.length ? "" : "No predictions match.";
      more.hidden = !token;
    } catch (error) {
      put(status, errorBox(error));
    }
  };
  for (const control of [label, model, review]) control.addEventListener("change", () => load(true));
  more.addEventListener("click", () => load(false));
  await load(true);
};

function predictionCard(prediction, classes) {
  const source = prediction.source === "api" ? "uploaded" : prediction.key || prediction.source;
  return h("article", { class: "card", "data-id": prediction.id },
    h("img", { class: "thumb", loading: "lazy", alt: `image ${source}`, src: `${API}predictions/${encodeURIComponent(prediction.id)}/image` }),
    h("div", { class: "body" },
      ...predictionSummary(prediction),
      h("div", { class: "meta", text: `${when(prediction.created_at)} · ${source}` }),
      h("div", { class: "meta", text: `model ${prediction.model || "–"}` }),
      feedbackControls(prediction, classes)));
}

pages.models = async (main) => {
  main.append(h("h1", { text: "Models" }), h("p", { class: "lede", text: "Every trained model, best test accuracy first. The champion serves every prediction." }));
  const { items: all, columns } = await board(true);
  if (!all.length) {
    main.append(h("p", { class: "muted", text: "No model yet: submit a training request on the Training page." }));
    return;
  }
  const scored = all.filter((m) => m.accuracy !== null && m.accuracy !== undefined);
  main.append(h("section", { class: "panel", "aria-labelledby": "board" },
    h("h2", { id: "board", text: "Leaderboard (test accuracy)" }),
    barChart(scored.map((m) => ({ name: m.name, value: m.accuracy, state: m.state })), { label: "test accuracy by model", highlight: (r) => r.state === "champion", id: "leaderboard-chart" })));
  // The columns GET /models gives (the report's and the command's too); a phone shows the first few.
  const narrow = new Set(["name", "state", "accuracy"]);
  const cell = (column, m) => {
    const value = m[column.key];
    if (column.key === "name") return h("td", {}, h("a", { href: `#/models/${encodeURIComponent(value)}`, text: value }));
    if (column.key === "state") return h("td", {}, badge(value));
    const text = { "%": pct, $: money, s: (x) => (x === undefined || x === null ? "–" : `${int(x)} s`), ms: (x) => (x ? `${num(x, 1)} ms` : "–") }[column.unit];
    const numeric = Boolean(text) || typeof value === "number";
    return h("td", { class: `${numeric ? "num" : ""}${narrow.has(column.key) ? "" : " hide-narrow"}`, text: text ? text(value) : Number.isInteger(value) ? int(value) : typeof value === "number" ? num(value, 4) : value || "–" });
  };
  const rows = all.map((m, i) => h("tr", { "data-model": m.name }, h("td", { class: "num", text: String(i + 1) }), columns.map((c) => cell(c, m))));
  main.append(h("div", { class: "table-wrap panel" }, h("table", { id: "leaderboard" },
    h("caption", { class: "sr-only", text: "Models" }),
    h("thead", {}, h("tr", {}, h("th", { class: "num", text: "#" }), columns.map((c) => h("th", { class: narrow.has(c.key) ? "" : "hide-narrow", text: c.title })))),
    h("tbody", {}, rows))));
  const chosen = decodeURIComponent(location.hash.split("/")[2] || "") || all[0].name;
  const model = all.find((m) => m.name === chosen) || all[0];
  main.append(modelDetails(model, all));
  // A promotion is done when the endpoint has switched (minutes on AWS): look again until then.
  if (all.some((m) => m.state === "promoting")) every(POLL_MS, async () => { render(); return false; });
};

function modelDetails(model, all) {
  const metrics = model.metrics || {};
  const champion = all.find((m) => m.state === "champion");
  const section = h("section", { class: "panel", id: "model-details", "aria-labelledby": "model-title" });
  const promote = h("button", { type: "button", text: "Promote to champion", disabled: ["champion", "promoting", "rejected", "failed"].includes(model.state) });
  promote.addEventListener("click", async () => {
    const replacing = champion ? ` It replaces ${champion.name} (${pct(champion.accuracy)}) on the endpoint.` : "";
    if (!(await confirmDialog(`Promote ${model.name}?`, `Every prediction will come from this model (${pct(model.accuracy)} test accuracy).${replacing}`, "Promote"))) return;
    promote.disabled = true;
    try {
      const promoted = await api(`models/${encodeURIComponent(model.name)}/promote`, { method: "POST" });
      toast(promoted.state === "champion" ? `${model.name} is the champion now`
        : promoted.state === "promoting" ? `${model.name} is being promoted: it serves once the endpoint has switched to it`
        : `${model.name}: ${promoted.reason || promoted.state}`);
      render();
    } catch (error) {
      section.append(errorBox(error));
      promote.disabled = false;
    }
  });
  const perClass = Object.entries(metrics.per_class || {});
  put(section,
    h("div", { class: "spread" }, h("h2", { id: "model-title", text: model.name }), h("div", { class: "row" }, badge(model.state), promote)),
    h("p", { class: "meta", text: `${model.architecture || "?"} · dataset ${model.dataset || "?"} · ${int(model.parameters)} parameters · trained ${model.training_seconds ?? "–"} s on ${model.instance_type || "?"} · loss ${num(model.loss, 3)}` }),
    model.reason ? h("p", { class: "error", text: model.reason }) : null,
    h("div", { class: "split" },
      h("div", {}, h("h3", { text: "Confusion matrix" }), confusionMatrix(metrics)),
      h("div", {}, h("h3", { text: "Per class" }),
        barChart(perClass.map(([name, v]) => ({ name, value: v.f1 })), { label: "F1 by class" }),
        h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, ["Class", "Precision", "Recall", "F1", "Images"].map((t, i) => h("th", { class: i ? "num" : "", text: t })))),
          h("tbody", {}, perClass.map(([name, v]) => h("tr", {}, h("td", { text: name }), h("td", { class: "num", text: pct(v.precision) }), h("td", { class: "num", text: pct(v.recall) }), h("td", { class: "num", text: pct(v.f1) }), h("td", { class: "num", text: int(v.support) })))))))),
    h("details", {}, h("summary", { text: "Hyperparameters" }), h("pre", { class: "mono", text: JSON.stringify(model.hyperparameters || {}, null, 2) })),
  );
  return section;
}

// ------------------------------------------------------------------ training
const TUNABLE = [["learning_rate", "log"], ["dropout", "linear"], ["l2", "log"]];

function numberField(name, spec, value, { step = "any", labelText = name } = {}) {
  const id = `f-${name}`;
  const props = { id, name, type: "number", step, value: value ?? spec.default ?? "" };
  if (spec.minimum !== undefined) props.min = spec.minimum;
  if (spec.maximum !== undefined) props.max = spec.maximum;
  return h("div", { class: "field" }, h("label", { for: id, text: labelText.replaceAll("_", " ") }), h("input", props), spec.description ? h("small", { text: spec.description }) : null);
}

function trainingForm(schema, onStarted) {
  const defs = schema.$defs || {};
  const hp = defs.Hyperparameters.properties;
  const top = schema.properties;
  const architectures = top.architecture.enum;
  const tuning = defs.Tuning.properties;
  const problem = h("div", { "aria-live": "assertive" });
  const preview = h("pre", { class: "mono" });
  const archSelect = h("select", { id: "f-architecture", name: "architecture" }, architectures.map((a) => h("option", { value: a, text: a, selected: a === top.architecture.default })));
  const compare = h("div", { class: "fields", id: "f-compare", hidden: true }, architectures.map((a) => h("label", { class: "field check" }, h("input", { type: "checkbox", name: "compare", value: a }), a)));
  const mode = h("select", { id: "f-mode" }, h("option", { value: "one", text: "one architecture" }), h("option", { value: "compare", text: "compare architectures" }));
  const tune = h("input", { type: "checkbox", id: "f-tune" });
  const tuneBox = h("div", { hidden: true },
    h("div", { class: "fields" },
      numberField("max_jobs", tuning.max_jobs, 6, { step: "1" }),
      numberField("max_parallel_jobs", tuning.max_parallel_jobs, 2, { step: "1" }),
      h("div", { class: "field" }, h("label", { for: "f-strategy", text: "strategy" }), h("select", { id: "f-strategy" }, tuning.strategy.enum.map((v) => h("option", { value: v, text: v, selected: v === tuning.strategy.default })))),
      h("div", { class: "field" }, h("label", { for: "f-objective", text: "objective" }), h("select", { id: "f-objective" }, tuning.objective.enum.map((v) => h("option", { value: v, text: v }))))),
    h("p", { class: "hint", text: "Ranges to search (leave a row unticked to keep its value fixed):" }),
    TUNABLE.map(([name, scale]) => h("div", { class: "fields" },
      h("label", { class: "field check" }, h("input", { type: "checkbox", id: `r-${name}`, checked: name !== "l2" }), `tune ${name.replace("_", " ")}`),
      h("div", { class: "field" }, h("label", { for: `r-${name}-min`, text: "min" }), h("input", { id: `r-${name}-min`, type: "number", step: "any", value: name === "dropout" ? 0.1 : name === "l2" ? 1e-6 : 1e-4 })),
      h("div", { class: "field" }, h("label", { for: `r-${name}-max`, text: "max" }), h("input", { id: `r-${name}-max`, type: "number", step: "any", value: name === "dropout" ? 0.5 : name === "l2" ? 1e-3 : 1e-2 })),
      h("div", { class: "field" }, h("label", { for: `r-${name}-scale`, text: "scale" }), h("select", { id: `r-${name}-scale` }, ["auto", "linear", "log"].map((v) => h("option", { value: v, text: v, selected: v === scale })))))));
  const form = h("form", { class: "panel", id: "training-form", novalidate: true },
    h("h2", { text: "New training request" }),
    h("div", { class: "fields" },
      h("div", { class: "field" }, h("label", { for: "f-dataset", text: "dataset" }), h("input", { id: "f-dataset", name: "dataset", required: true, placeholder: "datasets/intel", pattern: top.dataset.pattern }), h("small", { text: "datasets/<name> in the data bucket" })),
      h("div", { class: "field" }, h("label", { for: "f-mode", text: "what to train" }), mode),
      h("div", { class: "field", id: "f-one" }, h("label", { for: "f-architecture", text: "architecture" }), archSelect)),
    compare,
    h("fieldset", {}, h("legend", { text: "Hyperparameters" }),
      h("div", { class: "fields" },
        numberField("epochs", hp.epochs, null, { step: "1" }),
        numberField("batch_size", hp.batch_size, null, { step: "1" }),
        numberField("learning_rate", hp.learning_rate),
        numberField("dropout", hp.dropout),
        numberField("l2", hp.l2),
        numberField("image_size", hp.image_size, null, { step: "1" }),
        numberField("fine_tune_epochs", hp.fine_tune_epochs, null, { step: "1" }),
        h("div", { class: "field" }, h("label", { for: "f-weights", text: "weights" }), h("select", { id: "f-weights" }, hp.weights.enum.map((v) => h("option", { value: v, text: v })))),
        h("label", { class: "field check" }, h("input", { type: "checkbox", id: "f-augment", checked: hp.augment.default }), "augment"))),
    h("fieldset", {}, h("legend", { text: "Compute" }),
      h("div", { class: "fields" },
        h("div", { class: "field" }, h("label", { for: "f-instance_type", text: "instance type" }), h("input", { id: "f-instance_type", value: top.instance_type.default })),
        h("label", { class: "field check" }, h("input", { type: "checkbox", id: "f-spot", checked: top.spot.default }), "spot (cheaper, may restart)"),
        numberField("max_runtime_s", top.max_runtime_s, null, { step: "1", labelText: "max runtime (s)" }))),
    h("fieldset", {}, h("legend", {}, h("label", { class: "check" }, tune, " Tune hyperparameters")), tuneBox),
    h("details", {}, h("summary", { text: "The request as JSON" }), preview),
    problem,
    h("button", { type: "submit", id: "f-submit", text: "Start training" }));

  const value = (id) => form.querySelector(`#${id}`);
  const number = (id) => (value(id).value === "" ? undefined : Number(value(id).value));
  const request = () => {
    const body = { dataset: value("f-dataset").value.trim() };
    if (mode.value === "compare") body.architectures = [...compare.querySelectorAll("input:checked")].map((c) => c.value);
    else body.architecture = archSelect.value;
    const hyper = {};
    for (const name of ["epochs", "batch_size", "learning_rate", "dropout", "l2", "image_size", "fine_tune_epochs"]) {
      const v = number(`f-${name}`);
      if (v !== undefined && v !== hp[name].default) hyper[name] = v;
    }
    if (value("f-weights").value !== hp.weights.default) hyper.weights = value("f-weights").value;
    if (value("f-augment").checked !== hp.augment.default) hyper.augment = value("f-augment").checked;
    if (Object.keys(hyper).length) body.hyperparameters = hyper;
    if (value("f-instance_type").value !== top.instance_type.default) body.instance_type = value("f-instance_type").value.trim();
    if (value("f-spot").checked !== top.spot.default) body.spot = value("f-spot").checked;
    if (number("f-max_runtime_s") !== top.max_runtime_s.default) body.max_runtime_s = number("f-max_runtime_s");
    if (tune.checked) {
      const ranges = {};
      for (const [name] of TUNABLE) {
        if (value(`r-${name}`).checked) ranges[name] = { min: number(`r-${name}-min`), max: number(`r-${name}-max`), scale: value(`r-${name}-scale`).value };
      }
      body.tuning = { max_jobs: number("f-max_jobs"), max_parallel_jobs: number("f-max_parallel_jobs"), strategy: value("f-strategy").value, objective: value("f-objective").value, ranges };
    }
    return body;
  };
  const refresh = () => {
    archSelect.closest(".field").hidden = mode.value === "compare";
    compare.hidden = mode.value !== "compare";
    tuneBox.hidden = !tune.checked;
    preview.textContent = JSON.stringify(request(), null, 2);
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    put(problem);
    const submit = value("f-submit");
    submit.disabled = true;
    try {
      // The API validates: its answer, word for word, is what the form shows.
      const job = await api("training-jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request()) });
      toast(`Started ${job.name}`);
      onStarted(job);
    } catch (error) {
      problem.append(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  refresh();
  return form;
}

function curves(name, epochs) {
  const series = (key, label, color, dash) => ({ name: label, color, dash, points: epochs.filter((e) => e[key] !== undefined).map((e) => [e.epoch, e[key]]) });
  return h("div", { class: "charts" },
    lineChart([series("train_loss", "training loss", COLORS[0]), series("val_loss", "validation loss", COLORS[1], "5 3")], { title: `${name}: loss`, yLabel: "loss" }),
    lineChart([series("train_accuracy", "training accuracy", COLORS[0]), series("val_accuracy", "validation accuracy", COLORS[1], "5 3")], { title: `${name}: accuracy`, yLabel: "accuracy", yMax: 1 }));
}

async function jobDetails(name, box) {
  const job = await api(`training-jobs/${encodeURIComponent(name)}`);
  // A comparison's curves are its members'; a tuning job's, its trials' (the API finds those).
  const answers = await Promise.all((job.members || [name]).map((n) => api(`training-jobs/${encodeURIComponent(n)}/metrics`).catch(() => ({ jobs: {} }))));
  const trials = answers.flatMap((answer) => Object.entries(answer.jobs));
  put(box,
    h("div", { class: "spread" }, h("h2", { id: "job-title", text: job.name }), h("span", { id: "job-status" }, badge(job.status))),
    h("p", { class: "meta", text: `${job.kind || "training"} · ${job.architecture || ""} · started ${when(job.created_at)}${job.cost !== undefined ? ` · cost ${money(job.cost)}` : ""}${job.model ? ` · model ${job.model}` : ""}` }),
    job.failure_reason ? h("p", { class: "error", text: job.failure_reason }) : null,
    job.members ? h("p", { class: "meta" }, "Members: ", job.members.map((m, i) => [i ? ", " : "", h("a", { href: `#/training/${encodeURIComponent(m)}`, text: m })])) : null,
    trials.length ? trials.map(([trial, epochs]) => curves(trial === name ? "this job" : trial, epochs)) : h("p", { class: "muted", text: job.status === "InProgress" ? "Waiting for the first epoch…" : "No epochs were logged." }),
    h("details", {}, h("summary", { text: "Request" }), h("pre", { class: "mono", text: JSON.stringify(job.request || {}, null, 2) })),
  );
  return job.status;
}

pages.training = async (main, { every }) => {
  const chosen = decodeURIComponent(location.hash.split("/")[2] || "");
  const jobsBox = h("div", { class: "table-wrap panel", id: "jobs" });
  const detail = h("section", { class: "panel", id: "job", "aria-live": "polite", hidden: !chosen });
  const schema = await api("schemas/training-request");
  main.append(h("h1", { text: "Training" }), detail, h("div", { class: "split" }, trainingForm(schema, (job) => { location.hash = `#/training/${encodeURIComponent(job.name)}`; }), h("div", { class: "first-on-phone" }, h("h2", { text: "Jobs" }), jobsBox)));
  const listJobs = async () => {
    const page = await api("training-jobs?limit=25");
    put(jobsBox, page.items.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["Job", "Kind", "Status", "Started", "Cost"].map((t, i) => h("th", { class: i === 4 ? "num" : "", text: t })))),
      h("tbody", {}, page.items.map((job) => {
        const row = h("tr", { class: `clickable${job.name === chosen ? " selected" : ""}`, "data-job": job.name, onclick: () => { location.hash = `#/training/${encodeURIComponent(job.name)}`; } },
          h("td", {}, h("a", { href: `#/training/${encodeURIComponent(job.name)}`, text: job.name })),
          h("td", { text: `${job.kind || "training"}${job.architecture ? ` · ${job.architecture}` : ""}` }),
          h("td", {}, badge(job.status)),
          h("td", { text: when(job.created_at) }),
          h("td", { class: "num", text: money(job.cost) }));
        return row;
      }))) : h("p", { class: "muted", text: "No training jobs yet." }));
    return page.items.some((job) => job.status === "InProgress");
  };
  await listJobs();
  every(POLL_MS, listJobs);
  if (chosen) {
    put(detail, h("p", { class: "muted", text: "Loading…" }));
    const poll = async () => {
      try {
        return (await jobDetails(chosen, detail)) === "InProgress";
      } catch (error) {
        put(detail, errorBox(error));
        return error.status !== 404;  // no such job: nothing to wait for
      }
    };
    if (await poll()) every(POLL_MS, poll);
  }
};

// ------------------------------------------------------------------ the shell
let timers = [];
function stopTimers() {
  timers.forEach(clearTimeout);
  timers = [];
}

// Repeats `task` every `ms` while it answers true (something is still running) and its page is shown.
function every(ms, task) {
  const generation = render.generation;
  const tick = async () => {
    if (generation !== render.generation) return;
    let again = false;
    try { again = await task(); } catch { again = true; }
    if (again && generation === render.generation) timers.push(setTimeout(tick, ms));
  };
  timers.push(setTimeout(tick, ms));
}

async function render() {
  stopTimers();
  render.generation = (render.generation || 0) + 1;
  const name = (location.hash.split("/")[1] || "classify").replace(/[^a-z]/g, "");
  const page = pages[name] ? name : "classify";
  document.querySelectorAll("nav a").forEach((a) => {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  document.title = `${page[0].toUpperCase()}${page.slice(1)} · Vista console`;
  const main = document.getElementById("main");
  put(main);
  try {
    await pages[page](main, { every });
  } catch (error) {
    main.append(errorBox(error));
  }
}

async function showUser() {
  try {
    const session = await api("../session");
    const box = document.getElementById("user");
    put(box, h("span", { text: session.user }), session.can_sign_out ? h("a", { href: "signout", text: "Sign out" }) : h("span", { class: "badge", text: "local" }));
  } catch {
    // the pages still work without the user's name
  }
}

window.addEventListener("hashchange", () => { modelsCache = null; render(); });
render();
showUser();
