// The Predictions page: every recorded prediction, filtered, a page at a time.

import { api, classNames, models } from "./api.js";
import { errorBox, h, put } from "./dom.js";
import { predictionCard } from "./prediction.js";

export async function predictionsPage(main) {
  const [classes, all] = await Promise.all([classNames().catch(() => []), models().catch(() => [])]);
  const label = h("select", { id: "filter-label" }, h("option", { value: "", text: "any" }), [...classes, "unknown"].map((c) => h("option", { value: c, text: c })));
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
}
