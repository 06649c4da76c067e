// The Training page: the jobs, one job's curves as it trains, and the request form.

import { api } from "./api.js";
import { badge, chart, errorBox, h, money, put, when } from "./dom.js";
import { trainingForm } from "./training-form.js";

// Loss and accuracy by epoch, as GET /training-jobs/{name}/metrics draws them.
function curves(drawn) {
  return h("div", { class: "charts" }, drawn.map((markup) => h("figure", { class: "panel" }, chart(markup))));
}

async function jobDetails(name, box) {
  const job = await api(`training-jobs/${encodeURIComponent(name)}`);
  // A comparison's curves are its members'; a tuning job's, its trials' (the API finds those).
  const answers = await Promise.all((job.members || [name]).map((n) => api(`training-jobs/${encodeURIComponent(n)}/metrics`).catch(() => ({ charts: {} }))));
  const trials = answers.flatMap((answer) => Object.values(answer.charts));
  put(box,
    h("div", { class: "spread" }, h("h2", { id: "job-title", text: job.name }), h("span", { id: "job-status" }, badge(job.status))),
    h("p", { class: "meta", text: `${job.kind || "training"} · ${job.architecture || ""} · started ${when(job.created_at)}${job.cost !== undefined ? ` · cost ${money(job.cost)}` : ""}${job.model ? ` · model ${job.model}` : ""}` }),
    job.request ? h("p", { class: "meta", id: "job-resources", text: `${job.request.instance_count || 1} x ${job.request.instance_type}${job.estimate && job.estimate.max_cost !== undefined ? ` · estimate ≤ ${money(job.estimate.max_cost)} (${job.estimate.basis})` : ""}` }) : null,
    job.estimate && job.estimate.warnings.length ? job.estimate.warnings.map((w) => h("p", { class: "warn", text: `⚠ ${w}` })) : null,
    job.failure_reason ? h("p", { class: "error", text: job.failure_reason }) : null,
    job.members ? h("p", { class: "meta" }, "Members: ", job.members.map((m, i) => [i ? ", " : "", h("a", { href: `#/training/${encodeURIComponent(m)}`, text: m })])) : null,
    trials.length ? trials.map(curves) : h("p", { class: "muted", text: job.status === "InProgress" ? "Waiting for the first epoch…" : "No epochs were logged." }),
    h("details", {}, h("summary", { text: "Request" }), h("pre", { class: "mono", text: JSON.stringify(job.request || {}, null, 2) })),
  );
  return job.status;
}

export async function trainingPage(main, { every }) {
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
  every(listJobs);
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
    if (await poll()) every(poll);
  }
}
