// Vista's web console: five pages over the REST API (under api/, with the session cookie).
// Plain DOM code in ES modules, no framework, no build step and nothing fetched from elsewhere;
// every value from the API is put into the page as text, never as markup.

import { api, forgetModels } from "./api.js";
import { batchesPage } from "./batches.js";
import { classifyPage } from "./classify.js";
import { errorBox, h, put } from "./dom.js";
import { modelsPage } from "./models.js";
import { predictionsPage } from "./predictions.js";
import { trainingPage } from "./training.js";

const POLL_MS = 3000;
const pages = { classify: classifyPage, predictions: predictionsPage, models: modelsPage, training: trainingPage, batches: batchesPage };

let timers = [];
function stopTimers() {
  timers.forEach(clearTimeout);
  timers = [];
}

// Repeats `task` every `ms` while it answers true (something is still running) and its page is shown.
function every(task, ms = POLL_MS) {
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
    await pages[page](main, { every, render });
  } catch (error) {
    main.append(errorBox(error));
  }
}

async function showUser() {
  try {
    const session = await api("../session");
    const box = document.getElementById("user");
    put(box, h("span", { text: session.user }), session.can_sign_out ? h("form", { method: "post", action: "signout", class: "inline" }, h("button", { type: "submit", class: "link", text: "Sign out" })) : h("span", { class: "badge", text: "local" }));
  } catch {
    // the pages still work without the user's name
  }
}

window.addEventListener("hashchange", () => { forgetModels(); render(); });
render();
showUser();
