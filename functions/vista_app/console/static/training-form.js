// The training request form, built from the JSON Schema POST /training-jobs validates against
// (GET schemas/training-request): every field, its type, bounds, choices and default are the
// schema's, and the ranges it offers to tune are the hyperparameters that carry an `x-search`.
// Only values that differ from the schema's defaults are sent; the API says what is wrong.

import { api } from "./api.js";
import { errorBox, h, money, put, toast } from "./dom.js";

// The request's own fields the form lays out itself; every other property is a field of its own.
const LAID_OUT = new Set(["dataset", "architecture", "architectures", "hyperparameters", "tuning"]);

// A property's schema without the `null` an optional property may also take.
function plain(property) {
  const [own] = (property.anyOf || [property]).filter((option) => option.type !== "null");
  return { ...own, default: property.default, description: property.description ?? own.description };
}

// One input for one property: { name, node, read } where read() is the value to send, or
// undefined when it is empty or the default.
function schemaField(name, property) {
  const spec = plain(property);
  const id = `f-${name}`;
  const label = name.replaceAll("_", " ");
  const hint = spec.description ? h("small", { text: spec.description }) : null;
  if (spec.type === "boolean") {
    const input = h("input", { type: "checkbox", id, name, checked: spec.default === true });
    return { name, node: h("label", { class: "field check" }, input, ` ${label}`, hint), read: () => (input.checked === spec.default ? undefined : input.checked) };
  }
  const numeric = spec.type === "integer" || spec.type === "number";
  const input = spec.enum
    ? h("select", { id, name }, spec.enum.map((v) => h("option", { value: v, text: v, selected: v === spec.default })))
    : h("input", {
      id, name,
      type: numeric ? "number" : "text",
      step: numeric ? (spec.type === "integer" ? "1" : "any") : undefined,
      min: spec.minimum ?? spec.exclusiveMinimum,
      max: spec.maximum ?? spec.exclusiveMaximum,
      pattern: spec.pattern,
      value: spec.default ?? "",
    });
  const read = () => {
    const raw = input.value.trim();
    const value = raw === "" ? undefined : numeric ? Number(raw) : raw;
    return value === spec.default ? undefined : value;
  };
  return { name, node: h("div", { class: "field" }, h("label", { for: id, text: label }), input, hint), read };
}

function fields(properties, skip = new Set()) {
  return Object.entries(properties).filter(([name]) => !skip.has(name)).map(([name, property]) => schemaField(name, property));
}

// The values to send, by name.
function values(built) {
  return Object.fromEntries(built.map((field) => [field.name, field.read()]).filter(([, value]) => value !== undefined));
}

// A row per hyperparameter the schema suggests searching: ticked, min, max and scale.
function rangeRow(name, search, scales) {
  const input = (part, value) => h("div", { class: "field" }, h("label", { for: `r-${name}-${part}`, text: part }), h("input", { id: `r-${name}-${part}`, type: "number", step: "any", value }));
  const tuned = h("input", { type: "checkbox", id: `r-${name}`, checked: search.tuned });
  const scale = h("select", { id: `r-${name}-scale` }, scales.map((v) => h("option", { value: v, text: v, selected: v === search.scale })));
  const node = h("div", { class: "fields" },
    h("label", { class: "field check" }, tuned, `tune ${name.replaceAll("_", " ")}`),
    input("min", search.min), input("max", search.max),
    h("div", { class: "field" }, h("label", { for: `r-${name}-scale`, text: "scale" }), scale));
  const number = (part) => Number(node.querySelector(`#r-${name}-${part}`).value);
  return { name, node, read: () => (tuned.checked ? { min: number("min"), max: number("max"), scale: scale.value } : undefined) };
}

export function trainingForm(schema, onStarted) {
  const defs = schema.$defs;
  const top = schema.properties;
  const architectures = top.architecture.enum;
  const hyperparameters = fields(defs.Hyperparameters.properties);
  const compute = fields(top, LAID_OUT);
  const tuning = fields(defs.Tuning.properties, new Set(["ranges"]));
  const scales = defs.ContinuousRange.properties.scale.enum;
  const ranges = Object.entries(defs.Hyperparameters.properties)
    .filter(([, property]) => property["x-search"])
    .map(([name, property]) => rangeRow(name, property["x-search"], scales));

  const problem = h("div", { "aria-live": "assertive" });
  const cost = h("div", { class: "estimate", id: "f-estimate", "aria-live": "polite" });
  const preview = h("pre", { class: "mono" });
  const dataset = schemaField("dataset", top.dataset);
  dataset.node.querySelector("input").required = true;
  dataset.node.querySelector("input").placeholder = "datasets/intel";
  const archSelect = h("select", { id: "f-architecture", name: "architecture" }, architectures.map((a) => h("option", { value: a, text: a, selected: a === top.architecture.default })));
  const compare = h("div", { class: "fields", id: "f-compare", hidden: true }, architectures.map((a) => h("label", { class: "field check" }, h("input", { type: "checkbox", name: "compare", value: a }), a)));
  const mode = h("select", { id: "f-mode" }, h("option", { value: "one", text: "one architecture" }), h("option", { value: "compare", text: "compare architectures" }));
  const tune = h("input", { type: "checkbox", id: "f-tune" });
  const tuneBox = h("div", { hidden: true },
    h("div", { class: "fields" }, tuning.map((f) => f.node)),
    h("p", { class: "hint", text: "Ranges to search (leave a row unticked to keep its value fixed):" }),
    ranges.map((r) => r.node));
  const form = h("form", { class: "panel", id: "training-form", novalidate: true },
    h("h2", { text: "New training request" }),
    h("div", { class: "fields" },
      dataset.node,
      h("div", { class: "field" }, h("label", { for: "f-mode", text: "what to train" }), mode),
      h("div", { class: "field", id: "f-one" }, h("label", { for: "f-architecture", text: "architecture" }), archSelect)),
    compare,
    h("fieldset", {}, h("legend", { text: "Hyperparameters" }), h("div", { class: "fields" }, hyperparameters.map((f) => f.node))),
    h("fieldset", {}, h("legend", { text: "Job" }), h("div", { class: "fields" }, compute.map((f) => f.node))),
    h("fieldset", {}, h("legend", {}, h("label", { class: "check" }, tune, " Tune hyperparameters")), tuneBox),
    h("details", {}, h("summary", { text: "The request as JSON" }), preview),
    cost,
    problem,
    h("button", { type: "submit", id: "f-submit", text: "Start training" }));

  const request = () => {
    const body = { dataset: dataset.node.querySelector("input").value.trim() };
    if (mode.value === "compare") body.architectures = [...compare.querySelectorAll("input:checked")].map((c) => c.value);
    else body.architecture = archSelect.value;
    const hyper = values(hyperparameters);
    if (Object.keys(hyper).length) body.hyperparameters = hyper;
    Object.assign(body, values(compute));
    if (tune.checked) body.tuning = { ...values(tuning), ranges: values(ranges) };
    return body;
  };
  // The cost of what the form says, as it is edited: the API's dry run (nothing starts), the
  // newest answer only, asked once the editing pauses.
  let asked = 0;
  let pause = null;
  const estimate = async () => {
    const mine = ++asked;
    const body = request();
    if (!body.dataset) return put(cost, h("p", { class: "muted", text: "The estimate appears once a dataset is named." }));
    try {
      const answer = await api("training-jobs?dry_run=true", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (mine !== asked) return;
      const e = answer.estimate;
      const figure = e.max_cost === undefined
        ? `No estimate: ${e.cost_note}.`
        : `Estimate: at most ${money(e.max_cost)} (${e.basis})${e.spot ? `; typically ${money(e.typical_cost)} with spot` : ""}.`;
      const today = answer.budget ? ` Today ${money(answer.budget.reserved)} of the ${money(answer.budget.cap)} daily budget is reserved.` : "";
      put(cost,
        h("p", { text: `${figure} ${e.cap ? `The cap is ${money(e.cap)} a request.` : "No cost cap."}${today}` }),
        e.warnings.map((w) => h("p", { class: "warn", text: `⚠ ${w}` })),
        answer.accepted ? null : h("p", { class: "error", text: `Would be refused: ${answer.reason}` }));
    } catch (error) {
      if (mine === asked) put(cost, h("p", { class: "muted", text: `No estimate yet: ${error.message}` }));
    }
  };
  const refresh = () => {
    archSelect.closest(".field").hidden = mode.value === "compare";
    compare.hidden = mode.value !== "compare";
    tuneBox.hidden = !tune.checked;
    preview.textContent = JSON.stringify(request(), null, 2);
    clearTimeout(pause);
    pause = setTimeout(estimate, 500);
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    put(problem);
    const submit = form.querySelector("#f-submit");
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
