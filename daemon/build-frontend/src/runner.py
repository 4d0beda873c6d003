"""Runs one PEP 517/660 hook of a build backend, for axle.

Usage: python -c <this> HOOK INPUT.json OUTPUT.json

INPUT holds {"backend": "module:object", "backend_path": [...], "kwargs": {...}}.
OUTPUT receives {"return": value}, {"unsupported": true} when the backend lacks an
optional hook, or {"error": kind, "message": text}. The backend's own output goes to
stdout/stderr, which axle writes to the build's log.
"""
import importlib
import json
import os
import sys
import traceback


def write(path, document):
    with open(path, "w", encoding="utf-8") as out:
        json.dump(document, out)


def load_backend(spec):
    # Run with -c, the working directory (the source tree) is sys.path[0]; PEP 517 keeps
    # the tree off the path except through backend-path.
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    backend_path = [os.path.abspath(entry) for entry in spec.get("backend_path") or []]
    sys.path[:0] = backend_path
    module_name, _, object_path = spec["backend"].partition(":")
    module = importlib.import_module(module_name.strip())
    if backend_path:
        location = os.path.abspath(getattr(module, "__file__", "") or "")
        if not any(location.startswith(entry + os.sep) or location == entry for entry in backend_path):
            raise BackendInvalid(
                "the backend %s was loaded from %s, not from its backend-path %s"
                % (spec["backend"], location, backend_path)
            )
    backend = module
    for attribute in filter(None, object_path.strip().split(".")):
        backend = getattr(backend, attribute)
    return backend


class BackendInvalid(Exception):
    pass


def main():
    hook_name, input_path, output_path = sys.argv[1:4]
    with open(input_path, encoding="utf-8") as source:
        spec = json.load(source)
    try:
        backend = load_backend(spec)
    except BackendInvalid as error:
        write(output_path, {"error": "backend-invalid", "message": str(error)})
        return 1
    except Exception as error:
        traceback.print_exc()
        message = "%s: %s" % (type(error).__name__, error)
        write(output_path, {"error": "backend-unavailable", "message": message})
        return 1
    hook = getattr(backend, hook_name, None)
    if hook is None:
        write(output_path, {"unsupported": True})
        return 0
    try:
        result = hook(**spec["kwargs"])
    except SystemExit as error:
        message = "the hook exited (%s)" % (error.code,)
        traceback.print_exc()
        write(output_path, {"error": "hook-failed", "message": message})
        return 1
    except BaseException as error:
        traceback.print_exc()
        message = "%s: %s" % (type(error).__name__, error)
        write(output_path, {"error": "hook-failed", "message": message})
        return 1
    write(output_path, {"return": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
