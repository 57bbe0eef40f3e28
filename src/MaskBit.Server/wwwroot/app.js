// The MaskBit page: generate (streamed step by step), edit one image (box, painted mask, bit flips) and interpolate.
// No build step and nothing from elsewhere: plain DOM, fetch and canvas.
"use strict";

const $ = id => document.getElementById(id);
let health = null;          // GET /api/health
let source = null;          // the image being edited: a PNG Blob in the model's view (S x S)
let target = null;          // the image to interpolate to (same)
let resultBlob = null;      // the last edit's result
let region = null;          // {kind: "box", box: [x0, y0, x1, y1]} or {kind: "mask"}, in model pixels
let running = null;         // AbortController of the generation in flight
const mask = document.createElement("canvas"); // the painted mask, S x S, white where to edit

function show(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// A failed response's one-line reason ({"error": "..."}), else its status line.
async function reason(response) {
  try { return (await response.json()).error; } catch { return `HTTP ${response.status}`; }
}

function blobUrl(img, blob) {
  if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
  img.dataset.url = URL.createObjectURL(blob);
  img.src = img.dataset.url;
}

async function post(path, body, statusId) {
  const response = await fetch(path, body instanceof FormData ? { method: "POST", body }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) { show(statusId, await reason(response), true); return null; }
  return response.blob();
}

// ---- set-up -------------------------------------------------------------------------------------------------------
async function init() {
  health = await (await fetch("/api/health")).json();
  const classes = await (await fetch("/api/classes")).json();
  const s = health.sampling;
  $("model").textContent = `${health.model}: ${health.classes} classes, ${health.image_size}x${health.image_size} images, ` +
    `${health.token_grid}x${health.token_grid} tokens of ${health.token_bits} bits`;
  $("steps").value = s.num_steps;
  $("guidance").value = s.guidance_scale;
  $("temperature").value = s.randomize_temperature;
  $("steps").max = health.limits.max_steps;
  $("per-class").max = health.limits.max_images;
  $("points").max = health.limits.max_interpolation_points;
  mask.width = mask.height = health.image_size;

  const box = $("classes");
  if (classes.length <= 50) {
    for (const c of classes) {
      const label = document.createElement("label");
      label.innerHTML = `<input type="checkbox" checked> `;
      label.firstChild.value = c.index;
      label.append(c.short_name);
      box.append(label);
    }
  } else {
    box.insertAdjacentHTML("beforeend", `<input type="text" id="class-list" placeholder="names or indices, comma-separated (empty: the demo's ten)">`);
  }
  for (const id of ["sample-class", "edit-class", "to-class"])
    for (const c of classes) $(id).add(new Option(`${c.index} ${c.short_name}`, c.index));
  $("edit-class").selectedIndex = Math.min(1, classes.length - 1);
  $("to-class").selectedIndex = Math.min(2, classes.length - 1);
}

function chosenClasses() {
  const list = $("class-list");
  if (list) return list.value.split(",").map(v => v.trim()).filter(v => v);
  return [...$("classes").querySelectorAll("input:checked")].map(i => i.value);
}

// ---- generate: GET /api/generate/stream, read as server-sent events -------------------------------------------------
async function generate() {
  const query = new URLSearchParams();
  const classes = chosenClasses();
  if (classes.length) query.set("classes", classes.join(","));
  for (const [field, id] of [["per_class", "per-class"], ["seed", "seed"], ["steps", "steps"], ["guidance", "guidance"], ["temperature", "temperature"]])
    if ($(id).value !== "") query.set(field, $(id).value);
  running = new AbortController();
  $("generate").disabled = true;
  $("stop").disabled = false;
  show("gen-status", "waiting for the model…");
  $("grid").dataset.query = query.toString();
  let frames = 0;
  try {
    const response = await fetch(`/api/generate/stream?${query}`, { signal: running.signal });
    if (!response.ok) { show("gen-status", await reason(response), true); return; }
    await readEvents(response, (event, data) => {
      if (event === "step") {
        frames++;
        $("grid").src = data.image;
        $("progress").max = data.steps * data.batches;
        $("progress").value = (data.batch - 1) * data.steps + data.step;
        show("gen-status", `step ${data.step}/${data.steps}` + (data.batches > 1 ? `, batch ${data.batch}/${data.batches}` : ""));
      } else if (event === "done") {
        $("grid").src = data.image;
        $("grid").dataset.frames = frames;
        show("gen-status", `done in ${data.seconds} s`);
      } else if (event === "failed") {
        show("gen-status", data.error, true);
      }
    });
  } catch (e) {
    show("gen-status", e.name === "AbortError" ? "stopped" : `connection lost: ${e.message}`, e.name !== "AbortError");
  } finally {
    running = null;
    $("generate").disabled = false;
    $("stop").disabled = true;
  }
}

// Server-sent events from a fetch response: "event: NAME\ndata: JSON\n\n" frames.
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = /^event: (.*)$/m.exec(frame)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      onEvent(name, data ? JSON.parse(data) : null);
    }
  }
}

// ---- images to edit -------------------------------------------------------------------------------------------------
// One sample of a class, without its row label: the model's own S x S image.
async function sample(classId, statusId) {
  return post("/api/generate", { classes: [classId], per_class: 1, seed: Number($("seed").value || 42), labels: false }, statusId);
}

// An uploaded file as the model sees it (resized and centre-cropped by the server).
async function view(file, statusId) {
  const form = new FormData();
  form.append("image", file);
  return post("/api/view", form, statusId);
}

function setSource(blob) {
  if (!blob) return;
  source = blob;
  blobUrl($("source"), blob);
  clearRegion();
  $("inpaint").disabled = false;
  $("interpolate").disabled = target === null;
}

function setTarget(blob) {
  if (!blob) return;
  target = blob;
  blobUrl($("to"), blob);
  $("interpolate").disabled = source === null;
}

// ---- regions: a box dragged, a mask painted, or a token clicked ------------------------------------------------------
function tool() { return document.querySelector("input[name=tool]:checked").value; }

// Pointer position in model pixels (0..S).
function modelPoint(event) {
  const r = $("overlay").getBoundingClientRect(), s = health.image_size;
  return [Math.min(s, Math.max(0, (event.clientX - r.left) * s / r.width)), Math.min(s, Math.max(0, (event.clientY - r.top) * s / r.height))];
}

function clearRegion() {
  region = null;
  mask.getContext("2d").clearRect(0, 0, mask.width, mask.height);
  draw();
  show("region", source ? "no region: drag a box, paint, or pick the flip tool and click a token" : "no image yet");
}

function draw() {
  const c = $("overlay"), ctx = c.getContext("2d");
  c.width = c.clientWidth; c.height = c.clientHeight;
  const k = c.width / health.image_size;
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.globalAlpha = 0.45;
  ctx.imageSmoothingEnabled = false;
  if (region?.kind === "mask") ctx.drawImage(tinted(), 0, 0, c.width, c.height);
  ctx.globalAlpha = 1;
  if (region?.kind === "box") {
    const [x0, y0, x1, y1] = region.box;
    ctx.strokeStyle = "#f33"; ctx.lineWidth = 2;
    ctx.strokeRect(x0 * k, y0 * k, (x1 - x0) * k, (y1 - y0) * k);
  }
}

function tinted() {
  const t = document.createElement("canvas");
  t.width = t.height = mask.width;
  const ctx = t.getContext("2d");
  ctx.drawImage(mask, 0, 0);
  ctx.globalCompositeOperation = "source-in";
  ctx.fillStyle = "#f33";
  ctx.fillRect(0, 0, t.width, t.height);
  return t;
}

let dragFrom = null;
function pointerDown(event) {
  if (!source) return;
  $("overlay").setPointerCapture(event.pointerId);
  const p = modelPoint(event);
  if (tool() === "flip") { flipAt(p); return; }
  dragFrom = p;
  if (tool() === "paint") { if (region?.kind !== "mask") clearRegion(); region = { kind: "mask" }; paint(p); }
}

function pointerMove(event) {
  if (!dragFrom) return;
  const p = modelPoint(event);
  if (tool() === "paint") { paint(p); return; }
  const [ax, ay] = dragFrom, [bx, by] = p;
  const box = [Math.floor(Math.min(ax, bx)), Math.floor(Math.min(ay, by)), Math.ceil(Math.max(ax, bx)), Math.ceil(Math.max(ay, by))];
  if (box[2] > box[0] && box[3] > box[1]) {
    region = { kind: "box", box };
    show("region", `box ${box.join(",")}`);
    draw();
  }
}

function pointerUp() { dragFrom = null; }

function paint([x, y]) {
  const ctx = mask.getContext("2d"), radius = Math.max(1, health.image_size / health.token_grid / 2);
  ctx.fillStyle = "#fff";
  ctx.beginPath(); ctx.arc(x, y, radius, 0, 2 * Math.PI); ctx.fill();
  show("region", "painted mask");
  draw();
}

// Flips the chosen bits of the clicked token (its f x f box).
async function flipAt([x, y]) {
  const f = health.image_size / health.token_grid;
  const row = Math.min(health.token_grid - 1, Math.floor(y / f)), col = Math.min(health.token_grid - 1, Math.floor(x / f));
  const box = [col * f, row * f, (col + 1) * f, (row + 1) * f];
  region = { kind: "box", box };
  show("region", `token (${row}, ${col}): box ${box.join(",")}`);
  draw();
  const form = new FormData();
  form.append("image", source, "source.png");
  form.append("box", box.join(","));
  if ($("bits").value.trim()) form.append("bits", $("bits").value.trim());
  await runEdit("/api/bitflip", form, `flipped bit(s) ${$("bits").value || "each in turn"} of token (${row}, ${col})`);
}

async function inpaint() {
  if (!region) { show("edit-status", "draw a box or paint a mask first", true); return; }
  const form = new FormData();
  form.append("image", source, "source.png");
  if (region.kind === "box") form.append("box", region.box.join(","));
  else form.append("mask", await new Promise(r => mask.toBlob(r, "image/png")), "mask.png");
  form.append("class", $("edit-class").value);
  form.append("seed", $("seed").value || "42");
  if ($("steps").value) form.append("steps", $("steps").value);
  if ($("blend").checked) form.append("blend", "true");
  await runEdit("/api/inpaint", form, `inpainted as ${$("edit-class").selectedOptions[0].text}`);
}

async function runEdit(path, form, done) {
  show("edit-status", "working…");
  const blob = await post(path, form, "edit-status");
  if (!blob) return;
  resultBlob = blob;
  blobUrl($("result"), blob);
  $("use-result").disabled = false;
  show("edit-status", done);
}

async function interpolate() {
  const form = new FormData();
  form.append("from", source, "from.png");
  form.append("to", target, "to.png");
  form.append("steps", $("points").value || "8");
  show("path-status", "working…");
  const blob = await post("/api/interpolate", form, "path-status");
  if (!blob) return;
  blobUrl($("path"), blob);
  show("path-status", `${$("points").value} images along the path`);
}

// ---- wiring ---------------------------------------------------------------------------------------------------------
window.addEventListener("DOMContentLoaded", async () => {
  try { await init(); } catch (e) { show("model", `cannot reach the server: ${e.message}`, true); return; }
  $("generate").onclick = generate;
  $("stop").onclick = () => running?.abort();
  $("dice").onclick = () => { $("seed").value = Math.floor(Math.random() * 1e9); };
  $("sample").onclick = async () => setSource(await sample($("sample-class").value, "edit-status"));
  $("upload").onchange = async e => { if (e.target.files[0]) setSource(await view(e.target.files[0], "edit-status")); };
  $("sample-to").onclick = async () => setTarget(await sample($("to-class").value, "path-status"));
  $("upload-to").onchange = async e => { if (e.target.files[0]) setTarget(await view(e.target.files[0], "path-status")); };
  $("use-result").onclick = () => setSource(resultBlob);
  $("clear").onclick = clearRegion;
  $("inpaint").onclick = inpaint;
  $("interpolate").onclick = interpolate;
  const overlay = $("overlay");
  overlay.addEventListener("pointerdown", pointerDown);
  overlay.addEventListener("pointermove", pointerMove);
  overlay.addEventListener("pointerup", pointerUp);
  overlay.addEventListener("pointercancel", pointerUp);
  window.addEventListener("resize", () => health && draw());
});
