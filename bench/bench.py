#!/usr/bin/env python3
"""Times axle beside its peers on the same inputs, in one run, and prints ratios.

Usage: python3 bench/bench.py [venv] [--runs N]

Whole processes are timed, as a user or a script sees them. axle runs with a
warm daemon (started before timing) unless a case says otherwise. Peers are
looked up on PATH (uv, pip-compile, pip-sync) or given by AXLE_BENCH_UV,
AXLE_BENCH_PIP_TOOLS_BIN; a missing peer is reported and skipped.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def find_axle():
    for profile in ("release", "debug"):
        candidate = ROOT / "target" / profile / "axle"
        if candidate.exists():
            return candidate
    sys.exit("build axle first: cargo build --release")


def find_peer(name, env_var=None):
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    found = shutil.which(name)
    if found:
        return found
    # A virtual environment holding the peers, as the README suggests.
    candidate = Path("/opt/peers/bin") / name
    return str(candidate) if candidate.exists() else None


def time_runs(command, runs, env, cwd, before=None):
    """Median and all timings (seconds) of `runs` executions of `command`."""
    timings = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        result = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, command))} failed:\n{result.stderr.decode()}")
        timings.append(elapsed)
    return statistics.median(timings), timings


def report(title, rows, baseline):
    print(f"\n## {title}")
    print(f"{'tool':<38} {'median':>10} {'min':>10}   ratio to {baseline}")
    base = dict((name, median) for name, median, _ in rows).get(baseline)
    for name, median, timings in rows:
        ratio = f"{median / base:.3f}" if base else "-"
        print(f"{name:<38} {median * 1000:>8.2f}ms {min(timings) * 1000:>8.2f}ms   {ratio}")


def bench_venv(axle, python, runs, env, workdir):
    target = workdir / "venv-target"

    def clean():
        shutil.rmtree(target, ignore_errors=True)

    rows = []
    subprocess.run([axle, "daemon", "start"], env=env, check=True, stdout=subprocess.DEVNULL)
    # One untimed call so the daemon has met the interpreter.
    clean()
    subprocess.run([axle, "venv", str(target), "--python", python], env=env, check=True, stdout=subprocess.DEVNULL)
    median, timings = time_runs([axle, "-q", "venv", str(target), "--python", python], runs, env, workdir, clean)
    rows.append(("axle venv (warm daemon)", median, timings))
    median, timings = time_runs([axle, "--version"], runs, env, workdir)
    rows.append(("axle --version (client start-up)", median, timings))
    median, timings = time_runs([axle, "-q", "daemon", "status"], runs, env, workdir)
    rows.append(("axle daemon status (round trip)", median, timings))
    uv = find_peer("uv", "AXLE_BENCH_UV")
    if uv:
        median, timings = time_runs([uv, "venv", "-q", str(target), "--python", python], runs, env, workdir, clean)
        rows.append(("uv venv", median, timings))
    else:
        print("uv not found: skipped")
    median, timings = time_runs(
        [python, "-m", "venv", "--without-pip", str(target)], max(3, runs // 5), env, workdir, clean
    )
    rows.append(("python -m venv --without-pip", median, timings))
    report("venv: create an environment", rows, "uv venv" if uv else "python -m venv --without-pip")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=["venv"])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--python", default=None, help="interpreter for the environments (default: python3's base)")
    args = parser.parse_args()

    axle = str(find_axle())
    python = args.python or subprocess.run(
        ["python3", "-c", "import sys; print(getattr(sys, '_base_executable', sys.executable))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="axle-bench") as tmp:
        workdir = Path(tmp)
        env = dict(os.environ)
        env["AXLE_HOME"] = str(workdir / "axle-home")
        env.pop("XDG_RUNTIME_DIR", None)
        print(f"axle: {axle}\npython: {python}\nruns: {args.runs}")
        try:
            for case in args.cases:
                {"venv": bench_venv}[case](axle, python, args.runs, env, workdir)
        finally:
            subprocess.run([axle, "daemon", "stop"], env=env, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
