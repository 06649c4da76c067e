// One prediction as the Classify and Predictions pages show it, with its feedback controls.

import { API, api } from "./api.js";
import { barChart } from "./charts.js";
import { badge, errorBox, h, pct, put, toast, when } from "./dom.js";

export function feedbackControls(prediction, classes) {
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

export function probabilityChart(prediction) {
  const rows = Object.entries(prediction.probabilities || {}).map(([name, value]) => ({ name, value })).sort((a, b) => b.value - a.value);
  return barChart(rows, { label: `class probabilities, highest ${prediction.label}`, highlight: (r) => r.name === prediction.label });
}

export function predictionSummary(prediction) {
  if (prediction.status !== "OK") {
    return [badge(prediction.status || "FAILED", "FAILED"), h("p", { class: "error", text: prediction.error || "The image could not be classified." })];
  }
  return [
    h("div", { class: "spread" }, h("span", { class: "label", text: prediction.label }), h("span", { class: "mono", text: pct(prediction.confidence) })),
    prediction.review ? badge("needs review", "review") : null,
  ];
}

export function predictionCard(prediction, classes) {
  const source = prediction.source === "api" ? "uploaded" : prediction.key || prediction.source;
  return h("article", { class: "card", "data-id": prediction.id },
    h("img", { class: "thumb", loading: "lazy", alt: `image ${source}`, src: `${API}predictions/${encodeURIComponent(prediction.id)}/image` }),
    h("div", { class: "body" },
      ...predictionSummary(prediction),
      h("div", { class: "meta", text: `${when(prediction.created_at)} · ${source}` }),
      h("div", { class: "meta", text: `model ${prediction.model || "–"}` }),
      feedbackControls(prediction, classes)));
}
