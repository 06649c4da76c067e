// The Models page: the leaderboard (the columns GET /models gives) and one model's details.

import { ApiError, api, board } from "./api.js";
import { badge, chart, confirmDialog, errorBox, h, int, money, num, pct, put, toast, when } from "./dom.js";

export async function modelsPage(main, { every, render }) {
  main.append(h("h1", { text: "Models" }), h("p", { class: "lede", text: "Every trained model, best test accuracy first. The champion serves every prediction." }));
  const { items: all, columns, note, chart: leaderboardChart, export_formats: formats } = await board(true);
  if (!all.length) {
    main.append(h("p", { class: "muted", text: "No model yet: submit a training request on the Training page." }));
    return;
  }
  main.append(h("section", { class: "panel", "aria-labelledby": "board" },
    h("h2", { id: "board", text: "Leaderboard (test accuracy)" }),
    chart(leaderboardChart)));
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
    h("tbody", {}, rows)), h("p", { class: "meta", id: "leaderboard-note", text: note })));
  // The model the address names, else the one serving (the best by test accuracy may be a tie or a candidate).
  const chosen = decodeURIComponent(location.hash.split("/")[2] || "");
  const model = all.find((m) => m.name === chosen) || all.find((m) => m.state === "champion") || all[0];
  main.append(...(await Promise.all([historyPanel(all, render), modelDetails(model, all, render, formats)])));
  // A promotion is done when the endpoint has switched (minutes on AWS): look again until then.
  if (all.some((m) => m.state === "promoting")) every(async () => { render(); return false; });
}

async function modelDetails(model, all, render, formats) {
  const drawn = await api(`models/${encodeURIComponent(model.name)}/charts`);
  const champion = all.find((m) => m.state === "champion");
  const section = h("section", { class: "panel", id: "model-details", "aria-labelledby": "model-title" });
  const promote = h("button", { type: "button", text: "Promote to champion", disabled: ["champion", "promoting", "failed"].includes(model.state) });
  promote.addEventListener("click", async () => {
    const replacing = champion ? ` It replaces ${champion.name} (${pct(champion.accuracy)}) on the endpoint.` : "";
    if (!(await confirmDialog(`Promote ${model.name}?`, `Every prediction will come from this model (${pct(model.accuracy)} test accuracy).${replacing}`, "Promote"))) return;
    promote.disabled = true;
    try {
      const path = `models/${encodeURIComponent(model.name)}/promote`;
      let promoted;
      try {
        promoted = await api(path, { method: "POST" });
      } catch (error) {
        // Another class set than the champion's: the API asks for force, and so does the page.
        if (!(error instanceof ApiError) || error.status !== 400 || !error.message.includes("with force")) throw error;
        if (!(await confirmDialog("Change what every answer can be?", error.message, "Promote anyway"))) { promote.disabled = false; return; }
        promoted = await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ force: true }) });
      }
      toast(promoted.state === "champion" ? `${model.name} is the champion now`
        : promoted.state === "promoting" ? `${model.name} is being promoted: it serves once the endpoint has switched to it`
        : `${model.name}: ${promoted.reason || promoted.state}`);
      render();
    } catch (error) {
      section.append(errorBox(error));
      promote.disabled = false;
    }
  });
  const perClass = Object.entries((model.metrics || {}).per_class || {});
  put(section,
    h("div", { class: "spread" }, h("h2", { id: "model-title", text: model.name }), h("div", { class: "row" }, badge(model.state), promote)),
    h("p", { class: "meta", text: `${model.architecture || "?"} · dataset ${model.dataset || "?"} · ${int(model.parameters)} parameters · trained ${model.training_seconds ?? "–"} s on ${model.instance_type || "?"} · loss ${num(model.loss, 3)}` }),
    model.reason ? h("p", { class: "error", text: model.reason }) : null,
    h("div", { class: "split" },
      h("div", {}, h("h3", { text: "Confusion matrix" }), chart(drawn.confusion_matrix) || h("p", { class: "muted", text: "No confusion matrix recorded." }),
        h("p", { class: "hint", text: "Rows: the true class. Columns: what the model said." })),
      h("div", {}, h("h3", { text: "Per class" }),
        chart(drawn.f1),
        h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, ["Class", "Precision", "Recall", "F1", "Images"].map((t, i) => h("th", { class: i ? "num" : "", text: t })))),
          h("tbody", {}, perClass.map(([name, v]) => h("tr", {}, h("td", { text: name }), h("td", { class: "num", text: pct(v.precision) }), h("td", { class: "num", text: pct(v.recall) }), h("td", { class: "num", text: pct(v.f1) }), h("td", { class: "num", text: int(v.support) })))))))),
    driftPanel(model, drawn.drift),
    exportPanel(model, formats),
    h("details", {}, h("summary", { text: "Hyperparameters" }), h("pre", { class: "mono", text: JSON.stringify(model.hyperparameters || {}, null, 2) })),
  );
  return section;
}

// What served when: every change of champion, newest first (GET models/history), each as SageMaker's
// Model Registry approved it; "Roll back" serves again the model that served before the champion.
const WHY = { gate: "good", manual: "warn", rollback: "warn", "failed deploy": "bad" };

async function historyPanel(all, render) {
  const { items, approvals } = await api("models/history?limit=10");
  const champion = all.find((m) => m.state === "champion");
  const previous = champion && items.find((c) => c.to === champion.name && c.from && c.from !== c.to);
  const back = h("button", { type: "button", id: "rollback", text: previous ? `Roll back to ${previous.from}` : "Roll back", disabled: !previous });
  const section = h("section", { class: "panel", id: "history", "aria-labelledby": "history-title" });
  back.addEventListener("click", async () => {
    if (!(await confirmDialog(`Roll back to ${previous.from}?`, `${previous.from} serves every prediction again once the endpoint has switched to it; ${champion.name} is retired.`, "Roll back"))) return;
    back.disabled = true;
    try {
      const model = await api("models/rollback", { method: "POST" });
      toast(`${model.name} is being promoted back: it serves once the endpoint has switched to it`);
      render();
    } catch (error) {
      section.append(errorBox(error));
      back.disabled = false;
    }
  });
  const entry = (c) => h("li", { class: "change" },
    h("time", { class: "meta", datetime: c.created_at, text: when(c.created_at) }),
    h("span", {}, badge(c.why, WHY[c.why] || ""), " ", c.why === "failed deploy" ? `${c.model} did not serve; ${c.to || "nothing"} stayed` : `${c.from || "nothing"} → ${c.to}`),
    approvals[c.model] ? h("span", { class: "meta", text: `registry: ${approvals[c.model]}` }) : null,
    h("span", { class: "meta", text: [c.by, c.detail].filter(Boolean).join(" · ") }));
  return put(section,
    h("div", { class: "spread" }, h("h2", { id: "history-title", text: "What served when" }), back),
    items.length ? h("ol", { class: "timeline" }, items.map(entry)) : h("p", { class: "muted", text: "No champion yet." }));
}

// Drift without labels: each closed window of the model's answers against its test split's
// (GET /models carries `drift`, the latest window, and `window`, the open one; the charts come drawn).
function driftPanel(model, charts) {
  const open = model.window ? `${int(model.window.predictions)} answers in the open window.` : "";
  if (!charts.length) return h("div", { id: "drift" }, h("h3", { text: "Drift" }), h("p", { class: "muted", text: `No window of answers has closed yet. ${open}` }));
  const latest = model.drift || {};
  return h("div", { id: "drift" },
    h("h3", { text: "Drift (no labels needed)" }),
    h("div", { class: "charts" }, charts.map((markup) => h("figure", {}, chart(markup)))),
    latest.drifted ? h("p", { class: "warn", text: `⚠ The latest window drifted: ${latest.reason}.` }) : h("p", { class: "meta", text: `The latest window of ${int(latest.predictions)} answers has not drifted. ${open}` }));
}

// A copy of the model for other runtimes (GET models/{name}/export): the first request of a format starts
// a SageMaker job (minutes on AWS), checked on the model's test split; later ones find its archive.
const EXPORT_POLL_MS = 5000;

function exportPanel(model, formats) {
  const select = h("select", { id: "export-format", "aria-label": "Format" }, formats.map((f) => h("option", { value: f, text: f })));
  const button = h("button", { type: "button", text: "Export" });
  const status = h("div", { id: "export-status", role: "status" });
  button.addEventListener("click", async () => {
    const format = select.value;
    const path = `models/${encodeURIComponent(model.name)}/export?format=${encodeURIComponent(format)}`;
    button.disabled = true;
    try {
      let answer = await api(path);
      while (answer.status !== "Completed") {
        put(status, h("p", { class: "meta", text: `Exporting ${format}: ${answer.status}… (a SageMaker job ${answer.name}; minutes the first time)` }));
        await new Promise((resolve) => setTimeout(resolve, EXPORT_POLL_MS));
        answer = await api(path);
      }
      const f = answer.figures || {};
      put(status, h("p", {},
        h("a", { id: "export-link", href: answer.url, download: "", text: `Download ${model.name}-${format}.tar.gz` }),
        h("span", { class: "meta", text: ` · answers as the served model on ${pct(f.top1_agreement)} of ${int(f.test_images)} test images · ${num((f.size_bytes || 0) / 1048576, 1)} MB · ${num(f.latency_ms, 1)} ms a photo` })));
    } catch (error) {
      put(status, errorBox(error));
    }
    button.disabled = false;
  });
  return h("div", { id: "export" },
    h("h3", { text: "Download" }),
    h("p", { class: "hint", text: "savedmodel: TensorFlow Serving · tflite: phones and edge devices · tflite-int8: 4× smaller · onnx: ONNX Runtime. Each comes with its figures, class names and a README." }),
    h("div", { class: "row" }, select, button), status);
}
