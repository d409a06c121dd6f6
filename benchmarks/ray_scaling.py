"""Single process against Ray Data on the same LFW images (fixed crop, default model), in one run.

    python benchmarks/ray_scaling.py [--images 2000]

Prints images/s and the time to the first row for the single-process Scorer (all cores) and for
Ray Data with local clusters of the machine's cores, and the rows' agreement."""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path


from fqe_onnx import Scorer
from fqe_onnx.ray import score_dataset
from fqe_onnx.sources import source_for
from verification import LFW_DEV, lfw_items
from fqe_onnx.machine import describe_line

FIXED = {"resize": (200, 200), "crop": (38, 44, 112, 112)}


def main() -> None:
    print(describe_line(), flush=True)
    import pyarrow.parquet as pq
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    items = lfw_items()[: args.images]
    names = [f"{identity}/{path.name}" for path, identity in items]
    with tempfile.TemporaryDirectory() as tmp:
        listing = f"{tmp}/list.txt"
        with open(listing, "w") as handle:
            handle.write("\n".join(names) + "\n")
        with Scorer(device="cpu", align="never", **FIXED) as scorer:
            sources = [source_for(path, name) for (path, _), name in zip(items, names)]
            started = time.perf_counter()
            first = None
            single = {}
            for record in scorer.score_sources(sources):
                first = first or time.perf_counter() - started
                single[record.path] = record.q
            rate = len(sources) / (time.perf_counter() - started)
        print(f"single process, {scorer.threads} threads: {rate:.1f} images/s, first row after {first:.2f} s")
        for actors, cpus_per_actor in ((1, 1), (2, 0.5)):
            ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
            out = f"{tmp}/ray-{actors}.parquet"
            started = time.perf_counter()
            first_file: list[float] = []

            def watch(out=out, started=started, first_file=first_file) -> None:
                while not first_file:  # the first rows are readable once the first part file is written
                    if any(Path(out).glob("*.parquet")) if Path(out).is_dir() else False:
                        first_file.append(time.perf_counter() - started)
                    time.sleep(0.01)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            score_dataset(
                str(LFW_DEV),
                out,
                from_list=listing,
                device="cpu",
                align="never",
                actors=actors,
                cpus_per_actor=cpus_per_actor,
                **FIXED,
            )
            seconds = time.perf_counter() - started
            watcher.join(5)
            rows = pq.read_table(out).to_pylist()
            worst = max(abs(r["quality_raw"] - single[r["path"]]) / single[r["path"]] for r in rows)
            print(
                f"Ray Data, local 2-CPU cluster, {actors} actor(s) of {cpus_per_actor} CPU, 1 runtime thread each: "
                f"{len(rows) / seconds:.1f} images/s including start-up, first part file after "
                f"{first_file[0] if first_file else float('nan'):.1f} s ({len(rows)} rows, q within {worst:.1e} of the "
                "single process)"
            )
            ray.shutdown()


if __name__ == "__main__":
    main()
