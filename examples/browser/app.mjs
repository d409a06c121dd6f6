// The page's whole logic: canvas pixels (RGBA) in, the bundle's outputs out. No preprocessing here.
import * as ort from "./node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";

// The wasm files come from this folder, never from a CDN.
ort.env.wasm.wasmPaths = new URL("./node_modules/onnxruntime-web/dist/", import.meta.url).href;
ort.env.wasm.numThreads = 1;

// The status codes of the bundle's I/O version 2, the same as version 1 (its metadata key fqe_onnx.bundle lists them too).
const STATUS = ["aligned", "as-is", "geometry", "no-face", "too-small", "flat"];
const session = await ort.InferenceSession.create("bundle.onnx", { executionProviders: ["wasm"] });
const result = document.getElementById("result");
result.textContent = "ready: pick or drop a photo";

/** Score one decoded image (an ImageBitmap or <img>): draw it, run the bundle, show and return the outputs. */
async function scoreBitmap(bitmap) {
  const canvas = document.getElementById("photo");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const image = new ort.Tensor("uint8", new Uint8Array(pixels.buffer), [canvas.height, canvas.width, 4]);
  const started = performance.now();
  const out = await session.run({ image });
  const milliseconds = performance.now() - started;
  const scored = {
    status: STATUS[out.status.data[0]], q: out.q.data[0], Q: out.Q.data[0],
    box: Array.from(out.box.data), points: Array.from(out.points.data), face_score: out.face_score.data[0],
    milliseconds,
  };
  show(scored, context, out.crop);
  return scored;
}

function show(scored, context, crop) {
  result.textContent = scored.Q >= 0
    ? `Q ${scored.Q} (q ${scored.q.toFixed(4)}), ${scored.status}, ${scored.milliseconds.toFixed(0)} ms`
    : `not scored: ${scored.status}`;
  if (scored.box.every(Number.isFinite)) {
    const [x1, y1, x2, y2] = scored.box;
    context.strokeStyle = "#0c0";
    context.lineWidth = Math.max(2, (x2 - x1) / 50);
    context.strokeRect(x1, y1, x2 - x1, y2 - y1);
    context.fillStyle = "#f0f";
    for (let k = 0; k < 10; k += 2) context.fillRect(scored.points[k] - 2, scored.points[k + 1] - 2, 4, 4);
  }
  const [height, width] = crop.dims;
  const view = document.getElementById("crop");
  view.width = width;
  view.height = height;
  const rgba = new ImageData(width, height);
  for (let i = 0; i < width * height; i++) {  // the crop is BGR, as the Python path's crops are
    rgba.data.set([crop.data[3 * i + 2], crop.data[3 * i + 1], crop.data[3 * i], 255], 4 * i);
  }
  view.getContext("2d").putImageData(rgba, 0, 0);
}

async function scoreBlob(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  return scoreBitmap(bitmap);
}

/** For tests and scripts: score the image at a URL. */
window.scoreUrl = async (url) => scoreBlob(await (await fetch(url)).blob());

document.getElementById("file").addEventListener("change", (event) => {
  if (event.target.files[0]) scoreBlob(event.target.files[0]);
});
const drop = document.getElementById("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files[0]) scoreBlob(event.dataTransfer.files[0]);
});
window.bundleReady = true;
