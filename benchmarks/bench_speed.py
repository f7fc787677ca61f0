"""Speed harness: vaelab against the pytorch/examples reference loop, pythae 0.1.2 and the matmul floor,
timed interleaved (A B C A B C ...) in fresh processes, median of repeats, one command:

    pip install -r benchmarks/requirements.txt
    python benchmarks/bench_speed.py [--repeats 3] [--epochs 2] [--device cpu]

Each system trains the BENCH model (MLP 784-512-512, latent 32, ReLU, Bernoulli, batch 128, Adam 1e-3) on
binarized MNIST for ``--epochs`` epochs in its own process; the figure is the median over repeats of the
last epoch's train-loop seconds (the first epoch is reported separately: it holds warm-up and, for
vaelab-compile, the compilation). Writes docs/benchmarks/bench_speed.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import DEFAULT_DATA, REPO, write_section

HERE = Path(__file__).resolve().parent
ORDER = ["vaelab", "reference", "pythae", "vaelab-bf16", "vaelab-compile", "floor"]


def measure(system: str, args) -> dict:
    cmd = [sys.executable, str(HERE / "speed_systems.py"), system, "--epochs", str(args.epochs),
           "--data-dir", args.data_dir, "--device", args.device]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{system} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--systems", default=",".join(ORDER))
    p.add_argument("--data-dir", default=DEFAULT_DATA)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks" / "bench_speed.md"))
    args = p.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    for rep in range(args.repeats):
        for system in systems:  # interleaved: A B C A B C ...
            result = measure(system, args)
            runs[system].append(result)
            print(f"repeat {rep + 1}/{args.repeats} {system}: "
                  f"{', '.join(f'{s:.2f}' for s in result['epoch_seconds'])} s/epoch", flush=True)

    med = {s: statistics.median(r["epoch_seconds"][-1] for r in runs[s]) for s in systems}

    def paired(a: str, b: str) -> float:
        """Median over repeats of a's time / b's time in the same repeat (they ran back to back, so the
        machine's drift between repeats cancels)."""
        return statistics.median(ra["epoch_seconds"][-1] / rb["epoch_seconds"][-1]
                                 for ra, rb in zip(runs[a], runs[b]))

    first = {s: statistics.median(r["epoch_seconds"][0] for r in runs[s]) for s in systems}
    lines = [f"{args.repeats} interleaved repeats, {args.epochs} epochs per process, device {args.device}. "
             "s/epoch = median over repeats of the last epoch's train-loop seconds; the ratios are paired: the "
             "median over repeats of the two systems' times in the same repeat.", "",
             "| system | s/epoch (median) | each repeat (last epoch) | first epoch (median) | time / vaelab's (paired) |",
             "|---|---|---|---|---|"]
    for s in systems:
        each = ", ".join(f"{r['epoch_seconds'][-1]:.2f}" for r in runs[s])
        ratio = paired(s, "vaelab") if "vaelab" in runs else float("nan")
        lines.append(f"| {s} | {med[s]:.2f} | {each} | {first[s]:.2f} | {ratio:.2f}x |")
    if "floor" in runs:
        fl = runs["floor"]
        lines += ["", f"floor: BENCH epoch = {fl[0]['epoch_gflop']:.1f} GFLOP; matmul (128x784 @ 784x512) "
                      f"fp32 {statistics.median(r['gflops_fp32'] for r in fl):.1f} GFLOP/s, bf16 "
                      f"{statistics.median(r['gflops_bf16'] for r in fl):.1f} GFLOP/s; fp32 floor "
                      f"{med['floor']:.2f} s/epoch, bf16 floor "
                      f"{statistics.median(r['epoch_seconds_bf16'] for r in fl):.2f} s/epoch."]
    checks = []
    lines += ["", "Checks (paired ratios):"]
    if {"vaelab", "reference"} <= med.keys():
        checks.append(("vaelab fp32 >= 2.0x faster than the reference loop", paired("reference", "vaelab"), 2.0))
    if {"vaelab", "pythae"} <= med.keys():
        checks.append(("vaelab fp32 >= 1.5x faster than pythae", paired("pythae", "vaelab"), 1.5))
    if {"vaelab", "floor"} <= med.keys():
        checks.append(("vaelab fp32 within 1.5x of the fp32 floor (floor/vaelab >= 0.667)",
                       paired("floor", "vaelab"), 1 / 1.5))
    if {"vaelab-bf16", "reference"} <= med.keys():
        checks.append(("vaelab bf16 >= 3x faster than the reference loop",
                       paired("reference", "vaelab-bf16"), 3.0))
    if {"vaelab-compile", "vaelab"} <= med.keys():
        checks.append(("vaelab --compile vs default (informational)", paired("vaelab", "vaelab-compile"), 0.0))
    lines += ["", "| target | measured ratio | needed | holds |", "|---|---|---|---|"]
    for name, value, need in checks:
        lines.append(f"| {name} | {value:.2f} | {need:.2f} | {'yes' if value >= need else 'NO'} |")
    print("\n".join(lines))
    write_section(Path(args.out), "Speed: vaelab vs reference loop vs pythae vs the matmul floor", lines)


if __name__ == "__main__":
    main()
