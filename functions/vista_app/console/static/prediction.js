// One prediction as the Classify and Predictions pages show it, with its feedback controls and,
// on demand, why the model said it (its Grad-CAM heatmap over the picture).

import { API, api } from "./api.js";
import { badge, errorBox, h, pct, put, toast, when } from "./dom.js";

export function feedbackControls(prediction, classes) {
  const box = h("div", { class: "feedback" });
  const show = () => {
    put(box);
    if (prediction.status !== "OK") return;
    if (prediction.feedback_label) {
      const right = prediction.feedback_label === prediction.label; // an unknown is never right: it named no class
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
    // An unknown answer has no class to confirm: the quick answer confirms its best guess instead.
    const guess = prediction.best_guess;
    const confirm = guess ? { text: `✓ It is ${guess.label}`, label: guess.label } : { text: "✓ Correct", label: prediction.label };
    box.append(h("button", { class: "small", type: "button", text: confirm.text, onclick: () => send(confirm.label) }), select);
  };
  show();
  return box;
}

// The picture of a prediction in a frame a heatmap can cover.
export function thumbnail(src, alt) {
  return h("div", { class: "thumb-frame" }, h("img", { class: "thumb", loading: "lazy", alt, src }));
}

// A heatmap grid (rows of values in [0, 1]) drawn at the picture's own size, so the frame's
// object-fit crops both alike: warm and opaque where the model looked, clear where it did not.
function heatmapCanvas(grid, picture) {
  const rows = grid.length;
  const columns = grid[0].length;
  const cells = h("canvas", { width: columns, height: rows });
  const pixels = cells.getContext("2d").createImageData(columns, rows);
  grid.flat().forEach((v, i) => pixels.data.set([255, Math.round(220 * (1 - v)), 0, Math.round(150 * v)], 4 * i));
  cells.getContext("2d").putImageData(pixels, 0, 0);
  const canvas = h("canvas", { class: "heatmap", width: picture.naturalWidth || columns * 16, height: picture.naturalHeight || rows * 16 });
  const context = canvas.getContext("2d");
  context.imageSmoothingQuality = "high";
  context.drawImage(cells, 0, 0, canvas.width, canvas.height);
  return canvas;
}

export function whyControl(prediction, frame) {
  if (prediction.status !== "OK") return null;
  const note = h("span", { class: "meta", role: "status" });
  const button = h("button", { class: "secondary small", type: "button", text: "Why?", "aria-pressed": "false", title: "Show what in the picture made the model say its class" });
  let overlay = null;
  const shown = (on) => { overlay.hidden = !on; button.setAttribute("aria-pressed", String(on)); };
  button.addEventListener("click", async () => {
    if (overlay) return shown(overlay.hidden);
    button.disabled = true;
    note.textContent = "Asking the model…";
    try {
      const why = await api(`predictions/${encodeURIComponent(prediction.id)}/explanation`);
      overlay = heatmapCanvas(why.heatmap, frame.querySelector("img"));
      overlay.setAttribute("role", "img");
      overlay.setAttribute("aria-label", `heatmap of what made the model say ${why.label}`);
      frame.append(overlay);
      shown(true);
      note.textContent = why.same_model
        ? `Orange to red: what made the model say ${why.label}.`
        : `Explained by ${why.model}, the model now in service, which says ${why.label} (${pct(why.probability)}).`;
    } catch (error) {
      put(note, errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "why" }, button, note);
}

// Every class's probability, most likely first, each on a <meter> (the page's own gauge, not a chart).
export function probabilityChart(prediction) {
  const rows = Object.entries(prediction.probabilities || {}).sort((a, b) => b[1] - a[1]);
  return h("div", { class: "bars", role: "list", "aria-label": `class probabilities, highest ${prediction.label}` },
    rows.map(([name, value]) => h("div", { class: `bar-row${name === prediction.label ? " top" : ""}`, role: "listitem" },
      h("span", { class: "bar-name", text: name }),
      h("meter", { min: 0, max: 1, value, "aria-label": name }),
      h("span", { class: "bar-value", text: pct(value) }))));
}

export function predictionSummary(prediction) {
  if (prediction.status !== "OK") {
    return [badge(prediction.status || "FAILED", "FAILED"), h("p", { class: prediction.status === "WAITING" ? "meta" : "error", text: prediction.error || prediction.reason || "The image could not be classified." })];
  }
  // Under its class's threshold: "unknown", with what the model would have said and how sure it was.
  const guess = prediction.best_guess;
  return [
    h("div", { class: "spread" }, h("span", { class: `label${guess ? " unknown" : ""}`, text: prediction.label }), h("span", { class: "mono", text: pct(prediction.confidence) })),
    guess ? h("p", { class: "meta best-guess", text: `Not sure enough to say: best guess ${guess.label} (${pct(guess.probability)}), under its threshold of ${pct(prediction.threshold)}.` }) : null,
    prediction.review ? badge("needs review", "review") : null,
  ];
}

export function predictionCard(prediction, classes) {
  const source = prediction.source === "api" ? "uploaded" : prediction.key || prediction.source;
  const frame = thumbnail(`${API}predictions/${encodeURIComponent(prediction.id)}/image`, `image ${source}`);
  return h("article", { class: "card", "data-id": prediction.id },
    frame,
    h("div", { class: "body" },
      ...predictionSummary(prediction),
      h("div", { class: "meta", text: `${when(prediction.created_at)} · ${source}` }),
      h("div", { class: "meta", text: `model ${prediction.model || "–"}` }),
      whyControl(prediction, frame),
      feedbackControls(prediction, classes)));
}
