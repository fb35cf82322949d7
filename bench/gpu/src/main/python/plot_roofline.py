#!/usr/bin/env python3
"""Roofline plot of the GPU bench: reads bench.csv (io.mla4j.spi.BenchSchema) + ceilings.json, writes roofline.png.
Results of runs before the one schema (bench.json holding the ceilings, columns us/flops/bytes/tflops/cublas_us) are
read too.
usage: plot_roofline.py DIR"""
import csv
import json
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

d = sys.argv[1] if len(sys.argv) > 1 else "."
ceil_file = os.path.join(d, "ceilings.json")
with open(ceil_file if os.path.exists(ceil_file) else os.path.join(d, "bench.json")) as f:
    ceil = json.load(f)
bw, peak = ceil["copy_gbps"] * 1e9, ceil["gemm_tflops"] * 1e12
rows = list(csv.DictReader(open(os.path.join(d, "bench.csv"))))
if rows and "us_median" in rows[0]:  # the one schema: derive the old names the plot uses
    for r in rows:
        if r["us_median"] and r["tflop_per_s"] and r["gb_per_s"]:
            us = float(r["us_median"])
            r["us"], r["tflops"] = r["us_median"], r["tflop_per_s"]
            r["flops"], r["bytes"] = str(float(r["tflop_per_s"]) * 1e12 * us * 1e-6), str(float(r["gb_per_s"]) * 1e9 * us * 1e-6)
        else:
            r["us"] = ""
        r["cublas_us"] = r.get("baseline_us", "")
fig, ax = plt.subplots(figsize=(9, 6))
xr = [10 ** (i / 20) for i in range(-6, 73)]
ax.plot(xr, [min(peak, x * bw) / 1e12 for x in xr], "k-", lw=1.5, label=f"roofline: {bw/1e9:.0f} GB/s, {peak/1e12:.0f} TFLOP/s")
markers = {"sm80": "o", "sm90": "s"}
for kern in sorted({r["kernel"] for r in rows}):
    sel = [r for r in rows if r["kernel"] == kern and r["us"]]
    ai = [float(r["flops"]) / float(r["bytes"]) for r in sel]
    tf = [float(r["tflops"]) for r in sel]
    ax.scatter(ai, tf, marker=markers.get(kern, "x"), label=f"mla4j {kern}", alpha=0.8)
    base = [(float(r["flops"]) / float(r["bytes"]), float(r["flops"]) / (float(r["cublas_us"]) * 1e-6) / 1e12)
            for r in sel if r.get("cublas_us")]
    if base and kern == sorted({r["kernel"] for r in rows})[0]:
        ax.scatter([b[0] for b in base], [b[1] for b in base], marker="x", c="gray", label="cuBLAS unfused baseline")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("arithmetic intensity (FLOP / byte, FlashMLA counting)")
ax.set_ylabel("TFLOP/s")
ax.set_title("mla4j MLA decode, bf16")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
fig.savefig(os.path.join(d, "roofline.png"), dpi=110, bbox_inches="tight")
print("plot: wrote", os.path.join(d, "roofline.png"))
