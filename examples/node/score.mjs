// Score PNG files with an fqe-onnx bundle made with `fqe-onnx bundle --pixels rgba -o bundle.onnx`.
// usage: node score.mjs bundle.onnx face1.png [face2.png ...]   (CSV rows on stdout, speed on stderr)
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import ort from "onnxruntime-node";
import { PNG } from "pngjs";

const [bundlePath, ...files] = process.argv.slice(2);
if (!bundlePath || files.length === 0) {
  console.error("usage: node score.mjs bundle.onnx image.png [image.png ...]");
  process.exit(2);
}
const session = await ort.InferenceSession.create(bundlePath, { intraOpNumThreads: 1 });
// The status codes of the bundle's I/O version 2, the same as version 1 (its metadata key fqe_onnx.bundle lists them too).
const STATUS = ["aligned", "as-is", "geometry", "no-face", "too-small", "flat"];

const decoded = files.map((file) => PNG.sync.read(readFileSync(file))); // RGBA, 8 bits per channel
const fmt = (v) => (Number.isFinite(v) ? String(v) : "");
console.log("file,status,q,Q,x1,y1,x2,y2,face_score," +
  ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"].flatMap((p) => [`${p}_x`, `${p}_y`]).join(","));
const start = process.hrtime.bigint();
for (const [k, png] of decoded.entries()) {
  const image = new ort.Tensor("uint8", png.data, [png.height, png.width, 4]);
  const out = await session.run({ image });
  const status = STATUS[out.status.data[0]];
  const q = out.q.data[0];
  const row = [basename(files[k]), status, fmt(q), out.Q.data[0] >= 0 ? String(out.Q.data[0]) : "",
    ...Array.from(out.box.data, fmt), fmt(out.face_score.data[0]), ...Array.from(out.points.data, fmt)];
  console.log(row.join(","));
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.error(`${decoded.length} images in ${seconds.toFixed(3)} s: ${(decoded.length / seconds).toFixed(1)} images/s (onnxruntime-node ${ort.env.versions?.common ?? ""}, 1 thread, decoding excluded)`);
