"""Which part of a 250x250 LFW deep-funneled frame should become the 112x112 input of a model?

For each centred square of side S (and a few vertical shifts), the geometry is: resize the frame to
R = round(250 * 112 / S), crop 112x112 at the centre (+ shift). Prints FNMR at FMR 1e-3 over all
pairs of ../shared/data/lfw-dev, the EDC pAUC of q, and the q distribution.

    python benchmarks/lfw_geometry.py [--model faceplugin-mobilefacenet]
"""

from __future__ import annotations

import argparse
import time


from fqe_onnx.quality import embedding_norms
from fqe_onnx.session import EmbeddingModel
from fqe_onnx.zoo import resolve_model
from verification import edc_pauc, embed_images, fnmr_at_fmr, lfw_items, load_images, pair_scores, summary
from fqe_onnx.machine import describe_line


def main() -> None:
    print(describe_line(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--sides", default="100,112,125,140,150,160,180,200,250")
    parser.add_argument("--shifts", default="0", help="vertical crop shifts in resized pixels, e.g. -8,0,8")
    args = parser.parse_args()
    items = lfw_items()
    images = load_images(items)
    labels = [identity for _, identity in items]
    print(f"{len(images)} images, {len(set(labels))} identities")
    print(f"{'side':>5} {'resize':>6} {'shift':>5} {'FNMR@1e-3':>9} {'thr':>6} {'EDC pAUC':>8}  q")
    for side in map(int, args.sides.split(",")):
        for shift in map(int, args.shifts.split(",")):
            resize = round(250 * 112 / side)
            top = (resize - 112) // 2 + shift
            left = (resize - 112) // 2
            model = EmbeddingModel(
                resolve_model(args.model),
                device="cpu",
                overrides={"resize": (resize, resize), "crop": (top, left, 112, 112)},
            )
            started = time.perf_counter()
            embeddings = embed_images(model, images)
            q = embedding_norms(embeddings)
            sims, genuine, i, j = pair_scores(embeddings, labels)
            fnmr, thr = fnmr_at_fmr(sims, genuine)
            pauc = edc_pauc(q, sims, genuine, i, j)
            print(
                f"{side:>5} {resize:>6} {shift:>5} {fnmr:>9.3f} {thr:>6.3f} {pauc:>8.3f}  {summary(q)}"
                f"  ({time.perf_counter() - started:.0f}s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
