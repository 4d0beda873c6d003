"""A reference client of axled's gRPC API in Python, with a stock `grpcio` channel.

It generates its stubs from proto/ when it starts (grpcio-tools), dials the daemon's Unix
socket with default channel options, and calls what an editor calls: the health service,
Status, a dry-run Lock of the project, ProjectStatus, and a short Watch that sees the lock go
stale when an input is edited. It prints one JSON object with what it saw and exits non-zero
when anything was not as expected.

    python client.py --socket "$AXLE_HOME/run/axled.sock" --project DIR

Needs: grpcio, grpcio-tools (see requirements.txt here).
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import threading

import grpc
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[3]


def stubs():
    """Generates and imports the stubs for proto/axle/v1/axle.proto."""
    out = tempfile.mkdtemp(prefix="axle-stubs-")
    proto = ROOT / "proto"
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    code = protoc.main([
        "grpc_tools.protoc",
        f"-I{proto}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        str(proto / "axle" / "v1" / "axle.proto"),
    ])
    if code != 0:
        sys.exit(f"protoc failed with {code}")
    sys.path.insert(0, out)
    from axle.v1 import axle_pb2, axle_pb2_grpc  # noqa: E402

    return axle_pb2, axle_pb2_grpc


def invocation(pb, cwd):
    # What a lock reads: pip's settings, the active venv, and PATH to find python.
    env = {
        name: value
        for name, value in os.environ.items()
        if name.startswith(("PIP_", "AXLE_")) or name in ("VIRTUAL_ENV", "PATH", "HOME")
    }
    return pb.Invocation(cwd=str(cwd), env=env, argv=["client.py"])


def health(channel):
    # grpc.health.v1.HealthCheckRequest{service: "axle.v1.Axle"}, by hand: no extra package.
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    service = b"axle.v1.Axle"
    reply = check(b"\x0a" + bytes([len(service)]) + service, timeout=10)
    # HealthCheckResponse{status: SERVING (1)}
    return "SERVING" if reply == b"\x08\x01" else f"unexpected {reply!r}"


def reflection(channel):
    """The services server reflection lists (grpc.reflection.v1), by hand as well."""
    info = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
    # ServerReflectionRequest{list_services: ""}
    replies = list(info(iter([b"\x3a\x00"]), timeout=10))
    return [name for name in ("axle.v1.Axle", "grpc.health.v1.Health") if name.encode() in replies[0]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--project", required=True)
    args = parser.parse_args()
    project = pathlib.Path(args.project).resolve()
    pb, pb_grpc = stubs()

    # Default options: the :authority grpcio sends for a Unix socket is the daemon's to accept.
    channel = grpc.insecure_channel(f"unix:{args.socket}")
    axle = pb_grpc.AxleStub(channel)
    seen = {"health": health(channel), "reflection": reflection(channel)}

    status = axle.Status(pb.StatusRequest(), timeout=10)
    seen["daemon"] = {"version": status.version, "pid": status.pid}

    result = None
    for event in axle.Lock(pb.LockRequest(invocation=invocation(pb, project), dry_run=True), timeout=120):
        if event.HasField("lock_result"):
            result = event.lock_result
    seen["dry_run_lock"] = {"packages": result.packages, "written": result.written} if result else None

    reply = axle.ProjectStatus(pb.ProjectStatusRequest(invocation=invocation(pb, project), dir=str(project)), timeout=30)
    seen["project_status"] = {"lock": reply.lock.state, "venv": reply.venv.state}

    # A short watch: the first status, then an edit of the input makes the lock stale.
    events = axle.Watch(pb.WatchRequest(invocation=invocation(pb, project), dirs=[str(project)]), timeout=30)
    watched = []
    edited = threading.Event()
    for event in events:
        if event.HasField("status"):
            watched.append(event.status.status.lock.state)
            if not edited.is_set():
                edited.set()
                with open(project / "requirements.in", "a") as handle:
                    handle.write("\n# edited by the reference client\n")
            elif event.status.status.lock.state == "stale":
                seen["watch_changed_paths"] = list(event.status.changed_paths)
                events.cancel()
                break
    seen["watch"] = watched

    print(json.dumps(seen, indent=2))
    expected = (
        seen["health"] == "SERVING"
        and seen["reflection"] == ["axle.v1.Axle", "grpc.health.v1.Health"]
        and seen["dry_run_lock"] is not None
        and seen["dry_run_lock"]["written"] is False
        and seen["project_status"]["lock"] == "fresh"
        and watched[:1] == ["fresh"]
        and watched[-1:] == ["stale"]
    )
    return 0 if expected else 1


if __name__ == "__main__":
    sys.exit(main())
