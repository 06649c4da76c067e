// The DOM helpers every page uses: elements built from values (never from markup but the API's
// charts), the toast,
// the confirm dialog, and how numbers, money and times are shown.

export function h(tag, props = {}, ...children) {
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
export function put(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// A chart the API drew (vista_app/charts.py, the one chart engine), as a node of this page: parsed
// as SVG, whose scripts a parsed document never runs (and the Content-Security-Policy refuses).
export function chart(markup) {
  if (!markup) return null;
  return document.importNode(new DOMParser().parseFromString(markup, "image/svg+xml").documentElement, true);
}

export const pct = (x, digits = 1) => (x === undefined || x === null ? "–" : `${(100 * x).toFixed(digits)}%`);
export const num = (x, digits = 2) => (x === undefined || x === null ? "–" : Number(x).toFixed(digits));
export const money = (x) => (x === undefined || x === null ? "–" : `$${Number(x) < 0.01 && Number(x) > 0 ? Number(x).toFixed(5) : Number(x).toFixed(2)}`);
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
export const int = (x) => (x === undefined || x === null ? "–" : Number(x).toLocaleString());

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 4000);
}

export function errorBox(error) {
  return h("p", { class: "error", role: "alert", text: error instanceof Error ? error.message : String(error) });
}

export function confirmDialog(title, text, ok = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = ok;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

export function badge(text, kind = text) {
  return h("span", { class: `badge ${kind}`, text });
}
