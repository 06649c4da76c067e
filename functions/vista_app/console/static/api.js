// The REST API under api/ (with the session cookie): errors as ApiError, the models every page
// reads once, and a photo's way in, synchronous or through S3.

import { int } from "./dom.js";

export const API = "api/";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, options = {}) {
  const response = await fetch(API + path, { redirect: "manual", credentials: "same-origin", ...options });
  // The session ended: API Gateway sends us to sign in (a redirect fetch will not follow).
  if (response.type === "opaqueredirect" || response.status === 401) {
    location.reload();
    throw new ApiError(401, "Your session has ended: signing in again…");
  }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, (body && body.message) || String(body) || response.statusText);
  return body;
}

// Models are read by several pages (classes for feedback, the model filter): fetched once a page.
let modelsCache = null;
export function forgetModels() {
  modelsCache = null;
}
export async function board(refresh = false) {
  if (!modelsCache || refresh) modelsCache = api("models");
  return modelsCache;
}
export async function models(refresh = false) {
  return (await board(refresh)).items;
}
export async function classNames() {
  const all = await models();
  const champion = all.find((m) => m.state === "champion") || all[0];
  return (champion && champion.classes) || [];
}

// A photo over this goes straight to S3 (POST /uploads, then a PUT to the URL it gives): API Gateway
// base64s a request's body into Lambda's 6 MB event. vista/client.py's SYNCHRONOUS_MAX_BYTES (a test holds them equal).
export const SYNCHRONOUS_MAX_BYTES = 4 * 1024 * 1024;
// The photos the API takes (vista_app/image_types.py's CONTENT_TYPES, and its suffixes for a browser
// that gives a file no type, as some do for HEIC: a test holds them equal).
export const IMAGE_TYPES = { ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".heic": "image/heic", ".heif": "image/heif", ".webp": "image/webp", ".avif": "image/avif", ".gif": "image/gif", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff" };
const typeOf = (file) => file.type || IMAGE_TYPES[(file.name.match(/\.[^.]+$/) || [""])[0].toLowerCase()] || "application/octet-stream";
const UPLOAD_WAIT_S = 180;

export async function classifyFile(file, progress) {
  if (file.size <= SYNCHRONOUS_MAX_BYTES) {
    return api("predictions", { method: "POST", headers: { "Content-Type": typeOf(file) }, body: file });
  }
  if (!Object.values(IMAGE_TYPES).includes(typeOf(file))) throw new Error(`${file.name} is ${int(file.size)} bytes and not a photo of a type the API takes (${Object.keys(IMAGE_TYPES).join(" ")}).`);
  const { id, upload } = await api("uploads", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ content_type: typeOf(file), bytes: file.size }) });
  progress(`Uploading ${(file.size / 1048576).toFixed(1)} MB…`);
  const put = await fetch(upload.url, { method: upload.method, headers: upload.headers, body: file });
  if (!put.ok) throw new Error(`The upload to S3 failed: ${put.status} ${put.statusText}`);
  progress("Uploaded; classifying…");
  for (const deadline = Date.now() + UPLOAD_WAIT_S * 1000; Date.now() < deadline;) {
    try {
      const prediction = await api(`predictions/${encodeURIComponent(id)}`);
      if (prediction.status !== "CLASSIFYING") return prediction;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error; // 404: not classified yet
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`${file.name} was uploaded but not classified within ${UPLOAD_WAIT_S} s: look for it on the Predictions page.`);
}
