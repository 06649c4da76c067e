// The Classify page: photos dropped or chosen, classified by the model in service.

import { classNames, classifyFile } from "./api.js";
import { errorBox, h, put } from "./dom.js";
import { feedbackControls, predictionSummary, probabilityChart, thumbnail, whyControl } from "./prediction.js";

export async function classifyPage(main) {
  const input = h("input", { type: "file", id: "images", accept: "image/*,.heic,.heif", multiple: true });
  const results = h("div", { class: "grid", id: "results", "aria-live": "polite" });
  const drop = h("label", { class: "drop", for: "images" }, h("strong", { text: "Drop images here, or choose them" }), h("span", { class: "hint", text: "JPEG, PNG, HEIC, WebP, AVIF, GIF, BMP or TIFF; each is classified by the model in service." }), input);
  main.append(h("h1", { text: "Classify images" }), h("p", { class: "lede", text: "Each image goes to the champion model's serverless endpoint; the answer is recorded with the other predictions." }), drop, h("h2", { text: "Results" }), results);
  const known = classNames().catch(() => []);
  const classify = async (file) => {
    const preview = thumbnail(URL.createObjectURL(file), file.name);
    const body = h("div", { class: "body" }, h("div", { class: "meta", text: file.name }), h("p", { class: "muted", text: "Classifying…" }));
    const card = h("article", { class: "card", "aria-busy": "true" }, preview, body);
    results.prepend(card);
    try {
      const prediction = await classifyFile(file, (text) => put(body, h("div", { class: "meta", text: file.name }), h("p", { class: "muted", text })));
      put(body,
        ...predictionSummary(prediction),
        probabilityChart(prediction),
        h("div", { class: "meta", text: `${file.name} · model ${prediction.model} · ${prediction.latency_ms} ms` }),
        whyControl(prediction, preview),
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
}
