// vaelab latent explorer: the latent map, live decoding, sliders, interpolation, samples and uploads.
// Plain JavaScript, no build step and nothing loaded from outside this server.
"use strict";

const $ = (id) => document.getElementById(id);
const png = (b64) => "data:image/png;base64," + b64;
const SLIDER_RANGE = 4;  // sliders span [-4, 4]: the prior N(0, 1) has almost all its mass there

const S = {
  info: null, map: null, z: [], pinned: null, selected: null, ends: { a: null, b: null }, pick: null,
  samples: [], upload: null, interpZ: null, hover: null, rtts: [], view: null, base: null, label: null,
  uploadData: null,
};
const METHOD_TEXT = {  // what each anomaly score is (higher = more anomalous for all)
  nll: "-log p(x)",
  complexity: "-log P(x) - L(x), corrected for the input's compressed length",
  typicality: "|-log p(x) - H|, the distance from the typical -log p(x) of valid data",
  ratio: "-log p(x) + log p_bg(x), against the background model",
  regret: "likelihood regret, the ELBO gain of fine-tuning the encoder on this image",
};
const LABELLED = ["api/decode", "api/encode", "api/sample"];  // what a conditional model needs the class for

// ------------------------------------------------------------------------------------------ API
async function api(path, body) {
  if (body !== undefined && S.label !== null && LABELLED.includes(path) && !("label" in body)) {
    body = Object.assign({ label: S.label }, body);  // a conditional model: the class picked
  }
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const res = await fetch(path, opts);
  let doc = null;
  try { doc = await res.json(); } catch (e) { doc = { detail: res.statusText }; }
  if (!res.ok) throw new Error((doc && doc.detail) || ("HTTP " + res.status));
  return doc;
}

function status(text, error) {
  const el = $("status");
  el.textContent = text || "";
  el.className = error ? "error" : "";
}

// A live channel: at most one request in flight; while it runs only the newest wish is kept.
function liveChannel(send) {
  let busy = false, pending = null;
  async function pump() {
    busy = true;
    while (pending !== null) {
      const job = pending; pending = null;
      try { await send(job); } catch (e) { status(e.message, true); }
    }
    busy = false;
  }
  return (job) => { pending = job; if (!busy) pump(); };
}

function recordRtt(ms) {
  S.rtts.push(ms);
  if (S.rtts.length > 200) S.rtts.shift();
  const sorted = S.rtts.slice().sort((a, b) => a - b);
  const med = sorted[Math.floor(sorted.length / 2)];
  const el = $("rtt");
  el.textContent = `decode round trip: ${ms.toFixed(1)} ms (median ${med.toFixed(1)} ms of ${S.rtts.length})`;
  el.dataset.median = med.toFixed(3);
  el.dataset.count = String(S.rtts.length);
}

const decodeMain = liveChannel(async (z) => {
  const t0 = performance.now();
  const r = await api("api/decode", { z: [z] });
  recordRtt(performance.now() - t0);
  $("decoded").src = png(r.images[0]);
  $("decoded").dataset.z = z.map((v) => v.toFixed(4)).join(",");
});

const decodeInterp = liveChannel(async (z) => {
  const t0 = performance.now();
  const r = await api("api/decode", { z: [z] });
  recordRtt(performance.now() - t0);
  $("interp-img").src = png(r.images[0]);
});

// ------------------------------------------------------------------------------ latent <-> plane
function toPlane(z) {  // (D) -> [x, y] on the map
  const p = S.map.projection;
  let x = 0, y = 0;
  for (let d = 0; d < z.length; d++) {
    const c = z[d] - p.mean[d];
    x += c * p.forward[d][0];
    y += c * p.forward[d][1];
  }
  return [x, y];
}

function fromPlane(x, y) {  // [x, y] -> z (D), the point of latent space the map shows there
  const p = S.map.projection;
  return p.mean.map((m, d) => m + x * p.inverse[0][d] + y * p.inverse[1][d]);
}

// ----------------------------------------------------------------------------------------- map
function setupView() {
  const m = S.map;
  let x0 = Math.min(...m.x), x1 = Math.max(...m.x), y0 = Math.min(...m.y), y1 = Math.max(...m.y);
  const pad = 0.06 * Math.max(x1 - x0, y1 - y0, 1e-6);
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, half = Math.max(x1 - x0, y1 - y0) / 2 + pad;
  S.view = { x0: cx - half, x1: cx + half, y0: cy - half, y1: cy + half };
}

function canvasSize() {
  const c = $("map");
  return [c.width, c.height];
}

function toPx(x, y) {
  const [w, h] = canvasSize(), v = S.view;
  return [(x - v.x0) / (v.x1 - v.x0) * w, (1 - (y - v.y0) / (v.y1 - v.y0)) * h];
}

function fromPx(px, py) {
  const [w, h] = canvasSize(), v = S.view;
  return [v.x0 + px / w * (v.x1 - v.x0), v.y0 + (1 - py / h) * (v.y1 - v.y0)];
}

function eventPx(ev) {  // mouse position in canvas pixels
  const c = $("map"), r = c.getBoundingClientRect();
  return [(ev.clientX - r.left) * c.width / r.width, (ev.clientY - r.top) * c.height / r.height];
}

function drawBase() {
  const c = $("map"), m = S.map;
  const dpr = window.devicePixelRatio || 1;
  const size = Math.round(Math.min(c.clientWidth || 480, 560) * dpr);
  c.width = size; c.height = size;
  const base = document.createElement("canvas");
  base.width = size; base.height = size;
  const g = base.getContext("2d");
  g.fillStyle = "#fff"; g.fillRect(0, 0, size, size);
  // axes through 0 when they are in view
  g.strokeStyle = "#e5e7eb"; g.lineWidth = 1;
  const [ox, oy] = toPx(0, 0);
  g.beginPath(); g.moveTo(ox, 0); g.lineTo(ox, size); g.moveTo(0, oy); g.lineTo(size, oy); g.stroke();
  const r = (m.n > 2000 ? 1.6 : 2.6) * dpr;
  for (let i = 0; i < m.n; i++) {
    const [px, py] = toPx(m.x[i], m.y[i]);
    g.fillStyle = m.colours[m.labels ? m.labels[i] : 0] || m.colours[0];
    g.globalAlpha = 0.85;
    g.beginPath(); g.arc(px, py, r, 0, 2 * Math.PI); g.fill();
  }
  g.globalAlpha = 1;
  S.base = base;
}

function marker(g, x, y, style) {
  const dpr = window.devicePixelRatio || 1;
  const [px, py] = toPx(x, y);
  g.save();
  g.lineWidth = (style.width || 2) * dpr;
  g.strokeStyle = style.stroke || "#111";
  g.fillStyle = style.fill || "transparent";
  g.beginPath(); g.arc(px, py, (style.r || 6) * dpr, 0, 2 * Math.PI);
  if (style.fill) g.fill();
  g.stroke();
  if (style.text) {
    g.font = `${12 * dpr}px system-ui, sans-serif`;
    g.fillStyle = style.stroke || "#111";
    g.fillText(style.text, px + 8 * dpr, py - 8 * dpr);
  }
  g.restore();
}

function redraw() {
  if (!S.map || !S.base) return;
  const c = $("map"), g = c.getContext("2d");
  g.drawImage(S.base, 0, 0);
  const dpr = window.devicePixelRatio || 1;
  if (S.ends.a && S.ends.b) {
    const [ax, ay] = toPx(...toPlane(S.ends.a.mu)), [bx, by] = toPx(...toPlane(S.ends.b.mu));
    g.save(); g.strokeStyle = "#111"; g.setLineDash([5 * dpr, 4 * dpr]); g.lineWidth = 1.5 * dpr;
    g.beginPath(); g.moveTo(ax, ay); g.lineTo(bx, by); g.stroke(); g.restore();
  }
  for (const s of S.samples) marker(g, ...toPlane(s), { r: 3, stroke: "#7c3aed", width: 1.5 });
  if (S.upload) marker(g, ...toPlane(S.upload.mu), { r: 7, stroke: "#dc2626", text: "upload" });
  if (S.selected) marker(g, S.selected.coords[0], S.selected.coords[1], { r: 7, stroke: "#2563eb" });
  if (S.ends.a) marker(g, ...toPlane(S.ends.a.mu), { r: 6, stroke: "#111", fill: "#fde047", text: "A" });
  if (S.ends.b) marker(g, ...toPlane(S.ends.b.mu), { r: 6, stroke: "#111", fill: "#fde047", text: "B" });
  if (S.interpZ) marker(g, ...toPlane(S.interpZ), { r: 4, stroke: "#111", fill: "#111" });
  if (S.z.length) {  // the current z: a crosshair
    const [px, py] = toPx(...toPlane(S.z));
    g.save(); g.strokeStyle = "#111"; g.lineWidth = 1.5 * dpr;
    g.beginPath(); g.moveTo(px - 9 * dpr, py); g.lineTo(px + 9 * dpr, py); g.moveTo(px, py - 9 * dpr);
    g.lineTo(px, py + 9 * dpr); g.stroke(); g.restore();
  }
}

function nearestPoint(px, py) {  // index and pixel distance of the map point nearest to canvas pixel (px, py)
  const m = S.map;
  let best = -1, bestD = Infinity;
  for (let i = 0; i < m.n; i++) {
    const [qx, qy] = toPx(m.x[i], m.y[i]);
    const d = (qx - px) ** 2 + (qy - py) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  }
  return [best, Math.sqrt(bestD)];
}

function legend() {
  const m = S.map, el = $("legend");
  el.innerHTML = "";
  if (!m.labels) {
    el.textContent = "no labels: one colour for all points";
    return;
  }
  const present = [...new Set(m.labels)].sort((a, b) => a - b);
  for (const lab of present) {
    const span = document.createElement("span");
    span.style.setProperty("--c", m.colours[lab] || m.colours[0]);
    span.textContent = m.class_names && m.class_names[lab] !== undefined ? m.class_names[lab] : String(lab);
    el.appendChild(span);
  }
}

// ------------------------------------------------------------------------------------- sliders
function buildSliders() {
  const box = $("sliders"), D = S.info.latent_dim;
  box.innerHTML = "";
  for (let d = 0; d < D; d++) {
    const row = document.createElement("div");
    row.className = "slider";
    row.innerHTML = `<label for="z${d}" class="mono">z${d}</label>` +
      `<input type="range" id="z${d}" min="${-SLIDER_RANGE}" max="${SLIDER_RANGE}" step="0.01" value="0">` +
      `<span class="mono" id="z${d}-val">0.00</span>`;
    box.appendChild(row);
    row.querySelector("input").addEventListener("input", (ev) => {
      const z = S.z.slice();
      z[d] = parseFloat(ev.target.value);
      setZ(z, "sliders", true);
    });
  }
}

function showZ() {
  S.z.forEach((v, d) => {
    const input = $(`z${d}`);
    if (input && document.activeElement !== input) input.value = Math.max(-SLIDER_RANGE, Math.min(SLIDER_RANGE, v));
    const val = $(`z${d}-val`);
    if (val) val.textContent = v.toFixed(2);
  });
  const shown = S.z.slice(0, 8).map((v) => v.toFixed(2)).join(", ") + (S.z.length > 8 ? ", ..." : "");
  $("z-text").textContent = `z = [${shown}]`;
}

function setZ(z, source, pin) {
  S.z = z;
  if (pin) S.pinned = z.slice();
  $("z-source").textContent = source ? `(${source})` : "";
  showZ();
  redraw();
  decodeMain(z.slice());
}

// ------------------------------------------------------------------------------- interpolation
async function pickPoint(i) {
  const p = await api(`api/latent-map/points/${i}`);
  return p;
}

function endName(p) {
  if (p.kind === "upload") return `your image ${p.name ? "(" + p.name + ")" : ""}`;
  return `test example ${p.test_index}` + (p.class_name !== null ? ` (${p.class_name})` : "");
}

function setEnd(which, p) {
  S.ends[which] = p;
  $(`${which}-img`).src = png(p.image);
  $(`${which}-name`).textContent = endName(p);
  updateInterp(true);
}

function interpZ(t) {
  const a = S.ends.a.mu, b = S.ends.b.mu;
  return a.map((v, d) => (1 - t) * v + t * b[d]);
}

async function updateInterp(strip) {
  const ready = S.ends.a && S.ends.b;
  $("interp-t").disabled = !ready;
  if (!ready) { redraw(); return; }
  const t = parseFloat($("interp-t").value);
  $("interp-t-val").textContent = t.toFixed(2);
  S.interpZ = interpZ(t);
  redraw();
  decodeInterp(S.interpZ);
  if (strip) {
    const ts = Array.from({ length: 9 }, (_, i) => i / 8);
    try {
      const r = await api("api/decode", { z: ts.map(interpZ) });
      const box = $("interp-strip");
      box.innerHTML = "";
      r.images.forEach((im, i) => {
        const img = document.createElement("img");
        img.className = "pix"; img.src = png(im); img.title = `t = ${ts[i].toFixed(3)}`;
        img.addEventListener("click", () => { $("interp-t").value = ts[i]; updateInterp(false); });
        box.appendChild(img);
      });
    } catch (e) { status(e.message, true); }
  }
}

function startPick(which) {
  S.pick = S.pick === which ? null : which;
  $("pick-a").classList.toggle("active", S.pick === "a");
  $("pick-b").classList.toggle("active", S.pick === "b");
  status(S.pick ? `click the map to pick ${S.pick.toUpperCase()} (the nearest test example)` : "");
}

// ----------------------------------------------------------------------------------- uploads
function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

async function encodeFile(file) {
  const data = await readFile(file);
  const body = { images: [data], resize: true, binarize: S.info.binary_input, return_inputs: true };
  const r = await api("api/encode", body);
  return { data, mu: r.mu[0], logvar: r.logvar ? r.logvar[0] : null, input: r.inputs[0] };
}

async function onUpload(ev) {
  const file = ev.target.files[0];
  if (!file) return;
  status(`encoding ${file.name}...`);
  $("upload-score").textContent = "";
  try {
    const e = await encodeFile(file);
    S.upload = { mu: e.mu, name: file.name };
    $("upload-input").src = png(e.input);
    const rec = await api("api/decode", { z: [e.mu] });
    $("upload-recon").src = png(rec.images[0]);
    setZ(e.mu.slice(), "your image: posterior mean", true);
    S.uploadData = e.data;
    await scoreUpload();
    status(`${file.name}: encoded`);
  } catch (err) {
    status(`${file.name}: ${err.message}`, true);
  }
}

async function scoreUpload() {  // the uploaded image's anomaly score by the method picked
  if (S.info.model !== "vae") {
    $("upload-score").textContent = "an autoencoder defines no p(x): no anomaly score";
    return;
  }
  if (!S.uploadData) return;
  const method = $("score-method").value || S.info.default_score_method;
  const k = S.info.score_k;
  $("upload-score").textContent = `scoring (${method})...`;
  const sc = await api("api/score", { images: [S.uploadData], resize: true, binarize: S.info.binary_input, k, method });
  const value = sc.scores[0] === null ? "not finite" : sc.scores[0].toFixed(1);
  const elbo = S.info.results && S.info.results.elbo;
  const ref = (method === "nll" && typeof elbo === "number") ?
    ` The run's test set has a mean -ELBO of ${(-elbo).toFixed(1)} nats.` : "";
  const how = method === "regret" ? "" : ` (importance sampling, k = ${sc.k})`;
  $("upload-score").innerHTML = `anomaly score (${method}: ${METHOD_TEXT[method] || method}) &asymp; ` +
    `<b id="upload-score-value">${value}</b> nats${how}; higher = more anomalous.${ref}`;
  $("upload-score").dataset.method = sc.method;
}

async function onUploadEnd(which, ev) {
  const file = ev.target.files[0];
  if (!file) return;
  try {
    const e = await encodeFile(file);
    setEnd(which, { kind: "upload", name: file.name, mu: e.mu, image: e.input });
  } catch (err) {
    status(`${file.name}: ${err.message}`, true);
  }
}

// ----------------------------------------------------------------------------------- samples
async function onSample() {
  const temperature = parseFloat($("temperature").value);
  const seed = Math.floor(Math.random() * 2147483647);
  try {
    const r = await api("api/sample", { n: 16, seed, temperature });
    S.samples = r.z;
    const box = $("samples");
    box.innerHTML = "";
    r.images.forEach((im, i) => {
      const img = document.createElement("img");
      img.className = "pix thumb"; img.src = png(im); img.alt = `sample ${i}`;
      img.addEventListener("click", () => setZ(r.z[i].slice(), `sample ${i}`, true));
      box.appendChild(img);
    });
    box.dataset.seed = String(r.seed);
    redraw();
    status(`16 samples, seed ${r.seed}, temperature ${r.temperature}`);
  } catch (e) { status(e.message, true); }
}

// --------------------------------------------------------------------------------------- init
function bindMap() {
  const c = $("map");
  c.addEventListener("mousemove", (ev) => {
    if (!S.map) return;
    const [px, py] = eventPx(ev);
    const [x, y] = fromPx(px, py);
    setZ(fromPlane(x, y), "map", false);
  });
  c.addEventListener("mouseleave", () => {
    if (S.pinned) setZ(S.pinned.slice(), "pinned", false);
  });
  c.addEventListener("click", async (ev) => {
    if (!S.map) return;
    const [px, py] = eventPx(ev);
    const [i, dist] = nearestPoint(px, py);
    if (S.pick) {
      const which = S.pick;
      startPick(which);  // toggles pick mode off
      try { const p = await pickPoint(i); setEnd(which, { kind: "test", ...p }); } catch (e) { status(e.message, true); }
      return;
    }
    const [x, y] = fromPx(px, py);
    setZ(fromPlane(x, y), "pinned", true);
    const dpr = window.devicePixelRatio || 1;
    if (i >= 0 && dist < 10 * dpr) {
      try {
        const p = await pickPoint(i);
        S.selected = { kind: "test", ...p };
        $("selected").hidden = false;
        $("selected-img").src = png(p.image);
        $("selected-caption").textContent = `test example ${p.test_index}` +
          (p.class_name !== null ? `, label ${p.class_name}` : "");
        redraw();
      } catch (e) { status(e.message, true); }
    }
  });
}

async function init() {
  try {
    S.info = await api("api/info");
  } catch (e) {
    status(`cannot reach the model server: ${e.message}`, true);
    return;
  }
  const I = S.info, [C, H, W] = I.image_shape;
  $("run-info").textContent = `${I.run}: ${I.dataset}, ${I.model.toUpperCase()}, latent dimension ${I.latent_dim}, ` +
    `${H}x${W}${C === 1 ? "" : "x" + C} images, ${I.likelihood} likelihood`;
  document.documentElement.style.setProperty("--aspect", `${W} / ${H}`);
  buildSliders();
  bindMap();
  if (I.n_classes) {  // a conditional model: p(x|z, y) for the class picked here
    const pick = $("class-picker");
    (I.class_names || [...Array(I.n_classes).keys()].map(String)).forEach((name, i) => {
      const opt = document.createElement("option");
      opt.value = String(i);
      opt.textContent = name;
      pick.appendChild(opt);
    });
    S.label = 0;
    $("class-box").hidden = false;
    pick.addEventListener("change", () => { S.label = parseInt(pick.value, 10); decodeMain(S.z.slice()); });
  }
  $("zero").addEventListener("click", () => setZ(new Array(I.latent_dim).fill(0), "all 0", true));
  $("sample-btn").addEventListener("click", onSample);
  $("temperature").addEventListener("input", (ev) => { $("temperature-val").textContent = parseFloat(ev.target.value).toFixed(2); });
  $("upload").addEventListener("change", onUpload);
  $("upload-a").addEventListener("change", (ev) => onUploadEnd("a", ev));
  $("upload-b").addEventListener("change", (ev) => onUploadEnd("b", ev));
  $("pick-a").addEventListener("click", () => startPick("a"));
  $("pick-b").addEventListener("click", () => startPick("b"));
  $("set-a").addEventListener("click", () => S.selected && setEnd("a", S.selected));
  $("set-b").addEventListener("click", () => S.selected && setEnd("b", S.selected));
  $("interp-t").addEventListener("input", () => updateInterp(false));
  if (I.model !== "vae") $("upload-score").textContent = "an autoencoder defines no p(x): no anomaly score";
  if (I.model === "vae" && I.score_methods && I.score_methods.length) {  // the anomaly scores offered
    const pick = $("score-method");
    I.score_methods.forEach((m) => {
      const opt = document.createElement("option");
      opt.value = m;
      opt.textContent = m + (m === I.default_score_method ? " (default)" : "");
      opt.title = METHOD_TEXT[m] || m;
      pick.appendChild(opt);
    });
    pick.value = I.default_score_method;
    $("method-box").hidden = false;
    pick.addEventListener("change", async () => {
      try { await scoreUpload(); } catch (e) { status(e.message, true); }
    });
  }
  try {
    S.map = await api("api/latent-map");
    $("map-method").textContent = S.map.method === "z" ? "(posterior means)" : `(posterior means, ${S.map.method} to 2-D)`;
    $("map-axes").textContent = `${S.map.n} test examples of ${S.map.dataset}; x: ${S.map.axis_labels[0]}, y: ${S.map.axis_labels[1]}`;
    setupView();
    drawBase();
    legend();
    window.addEventListener("resize", () => { drawBase(); redraw(); });
  } catch (e) {
    S.map = null;  // the sliders, samples and uploads still work
    status(`${e.message}`, true);
  }
  setZ(new Array(I.latent_dim).fill(0), "all 0", true);
  document.body.dataset.ready = "1";
}

init();
