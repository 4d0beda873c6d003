"""Describe this interpreter to axle as one JSON object on stdout.

axled runs this once per interpreter file and caches the answer, so it may be
thorough. It must run on every CPython and PyPy that axle supports (3.8+) and
must not import anything from the environment's site-packages except pip's
default index (read, never used).
"""
import json
import os
import platform
import struct
import sys
import sysconfig


def venv_paths():
    placeholder = "@BASE@"
    variables = {
        "base": placeholder,
        "platbase": placeholder,
        "installed_base": placeholder,
        "installed_platbase": placeholder,
    }
    schemes = sysconfig.get_scheme_names()
    if "venv" in schemes:
        scheme = "venv"
    elif os.name == "nt":
        scheme = "nt"
    else:
        scheme = "posix_prefix"
    return {name: path for name, path in sysconfig.get_paths(scheme, vars=variables).items()}


def libc():
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, OSError, ValueError):
        version = None
    if version:
        name, _, number = version.partition(" ")
        if name == "glibc":
            return {"family": "glibc", "version": number}
    if sys.platform.startswith("linux"):
        import glob
        import subprocess

        for loader in sorted(glob.glob("/lib/ld-musl-*.so.1")):
            try:
                out = subprocess.run([loader], capture_output=True, text=True).stderr
            except OSError:
                continue
            for line in out.splitlines():
                if line.startswith("Version "):
                    return {"family": "musl", "version": line.split()[1]}
    return None


def pip_default_index():
    # A virtual environment made without pip: its base interpreter's pip
    # names the default, and asking here saves running that one too.
    if sys.prefix != sys.base_prefix:
        base_paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
        for key in ("purelib", "platlib"):
            path = base_paths.get(key)
            if path and path not in sys.path:
                sys.path.append(path)
    # Reading pip's own definition is much cheaper than importing pip.
    import importlib.util
    import re

    try:
        spec = importlib.util.find_spec("pip")
    except Exception:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    source = os.path.join(list(spec.submodule_search_locations)[0], "_internal", "models", "index.py")
    try:
        with open(source, encoding="utf-8") as file:
            match = re.search(r"""^PyPI\s*=\s*PackageIndex\(\s*["']([^"']+)["']""", file.read(), re.M)
    except OSError:
        match = None
    if match:
        base = match.group(1)
        return base.rstrip("/") + "/simple"
    try:
        from pip._internal.models.index import PyPI
    except Exception:
        return None
    return PyPI.simple_url


def markers():
    implementation_version = "{0.major}.{0.minor}.{0.micro}".format(sys.implementation.version)
    kind = sys.implementation.version.releaselevel
    if kind != "final":
        implementation_version += kind[0] + str(sys.implementation.version.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": implementation_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def main():
    config = sysconfig.get_config_vars()
    base_executable = getattr(sys, "_base_executable", None) or sys.executable
    info = {
        "executable": sys.executable,
        "base_executable": base_executable,
        "real_executable": os.path.realpath(base_executable),
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "base_exec_prefix": sys.base_exec_prefix,
        "version": platform.python_version(),
        "version_info": list(sys.version_info[:3]) + [sys.version_info[3], sys.version_info[4]],
        "implementation": sys.implementation.name,
        "venv_paths": venv_paths(),
        "sysconfig_platform": sysconfig.get_platform(),
        "pointer_bits": struct.calcsize("P") * 8,
        "soabi": config.get("SOABI"),
        "ext_suffix": config.get("EXT_SUFFIX"),
        "abiflags": getattr(sys, "abiflags", ""),
        "gil_disabled": bool(config.get("Py_GIL_DISABLED")),
        "debug_build": hasattr(sys, "gettotalrefcount"),
        "libc": libc(),
        "markers": markers(),
        "pip_default_index": pip_default_index(),
        "pip_version": None,
    }
    json.dump(info, sys.stdout)


if __name__ == "__main__":
    main()
