// The Batches page: a folder of the bucket classified as one batch (POST /batches), and one batch as
// it runs (GET /batches/{name}: images done of those sent, then its counts, cost and results file).

import { ApiError, api, models } from "./api.js";
import { badge, errorBox, h, int, money, put, when } from "./dom.js";

const INSTANCE_TYPES = ["ml.m5.xlarge", "ml.m5.2xlarge", "ml.c5.xlarge", "ml.g4dn.xlarge"];

function batchForm(all, started) {
  const folder = h("input", { id: "b-source", required: true, placeholder: "archive/2025/", title: "a folder of the data bucket, ending in /" });
  const model = h("select", { id: "b-model" }, h("option", { value: "champion", text: "the champion" }), all.map((m) => h("option", { value: m.name, text: `${m.name} (${m.state})` })));
  const instance = h("select", { id: "b-instance_type" }, INSTANCE_TYPES.map((t) => h("option", { value: t, text: t })));
  const count = h("input", { id: "b-instance_count", type: "number", min: 1, max: 10, value: 1 });
  const box = h("div");
  const submit = h("button", { type: "submit", text: "Classify the folder" });
  const form = h("form", { class: "panel", id: "batch-form" },
    h("h2", { text: "New batch" }),
    h("p", { class: "hint", text: "Every image in the folder, classified by one SageMaker Transform job: a record each, one results file. Cheaper than the inbox only for many small photos (see the README's table)." }),
    h("div", { class: "field" }, h("label", { for: "b-source", text: "Folder of the data bucket" }), folder),
    h("div", { class: "field" }, h("label", { for: "b-model", text: "Model" }), model),
    h("div", { class: "field" }, h("label", { for: "b-instance_type", text: "Instance type" }), instance),
    h("div", { class: "field" }, h("label", { for: "b-instance_count", text: "Instances" }), count),
    submit, box);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    put(box);
    try {
      const body = { source: folder.value.trim(), model: model.value, instance_type: instance.value, instance_count: Number(count.value) };
      started(await api("batches", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }));
    } catch (error) {
      put(box, errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function batchDetails(batch, box) {
  const counts = batch.counts || {};
  const progress = batch.progress;
  put(box,
    h("div", { class: "spread" }, h("h2", { id: "batch-title", text: batch.name }), h("span", { id: "batch-status" }, badge(batch.status))),
    h("p", { class: "meta", text: `${batch.request ? batch.request.source : ""} · model ${batch.model || "?"} · started ${when(batch.created_at)}${batch.cost !== undefined ? ` · cost ${money(batch.cost)}` : ""}` }),
    batch.failure_reason ? h("p", { class: "error", text: batch.failure_reason }) : null,
    progress ? h("p", { id: "batch-progress" }, h("meter", { min: 0, max: progress.total || 1, value: progress.done, "aria-label": "images answered" }), ` ${int(progress.done)} of ${int(progress.total)} images answered`) : null,
    counts.objects !== undefined ? h("p", { id: "batch-counts", text: `${int(counts.objects)} objects: ${int(counts.refused)} refused by the checks, ${int(counts.accepted)} sent${counts.answered !== undefined ? `, ${int(counts.answered)} answered, ${int(counts.failed)} refused by the model` : ""}` }) : null,
    batch.estimate && batch.estimate.max_cost !== undefined ? h("p", { class: "meta", text: `estimate ≤ ${money(batch.estimate.max_cost)} (${batch.estimate.basis})` }) : null,
    batch.results ? h("p", {}, "Results: ", h("code", { id: "batch-results", text: batch.results })) : null);
  return !["Completed", "Failed", "Stopped"].includes(batch.status);
}

export async function batchesPage(main, { every }) {
  const chosen = decodeURIComponent(location.hash.split("/")[2] || "");
  const detail = h("section", { class: "panel", id: "batch", "aria-live": "polite", hidden: !chosen });
  const all = await models().catch(() => []);
  main.append(h("h1", { text: "Batches" }), detail, batchForm(all, (batch) => { location.hash = `#/batches/${encodeURIComponent(batch.name)}`; }));
  if (!chosen) return;
  const poll = async () => {
    try {
      return batchDetails(await api(`batches/${encodeURIComponent(chosen)}`), detail);
    } catch (error) {
      // Requested: the batch function has not taken it yet.
      if (error instanceof ApiError && error.status === 404) { put(detail, h("p", { class: "muted", text: `${chosen}: requested, starting…` })); return true; }
      put(detail, errorBox(error));
      return false;
    }
  };
  if (await poll()) every(poll);
}
