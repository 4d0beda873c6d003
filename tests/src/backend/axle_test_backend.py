"""A tiny PEP 517/660 build backend for axle's tests: standard library only, so builds need
no downloads. It reads `axle_test_backend.json` beside `pyproject.toml`:

    {"name": "app", "version": "1.0",          # or "version_from": "app/__init__.py"
     "requires": ["dep>=1"], "extras": {"x": ["other"]}, "requires_python": ">=3.8",
     "build_requires": ["helper"],              # answered by get_requires_for_build_*
     "packages": ["app"],                       # directories copied into the wheel
     "no_prepare": true,                        # lack prepare_metadata_for_build_*
     "no_editable": true,                       # lack build_editable
     "fail": "build_wheel",                     # this hook raises
     "hang": "build_wheel",                     # this hook never returns
     "counter": "/tmp/builds.txt",              # a line per hook call
     "sleep": 1.5,                              # every hook takes this long
     "import": "helper_module",                 # build_wheel imports this (isolation tests)
     "config_file": "app/settings.txt"}         # build_wheel writes config_settings here
"""
import base64
import hashlib
import json
import os
import re
import sys
import time
import zipfile

CONFIG = "axle_test_backend.json"


def _config():
    with open(CONFIG, encoding="utf-8") as source:
        return json.load(source)


def _version(config):
    if "version_from" in config:
        with open(config["version_from"], encoding="utf-8") as source:
            match = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", source.read())
        return match.group(1)
    return config["version"]


def _norm(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def _enter(hook):
    config = _config()
    counter = config.get("counter")
    if counter:
        with open(counter, "a", encoding="utf-8") as out:
            out.write(hook + "\n")
    print("axle_test_backend: " + hook)
    if config.get("fail") == hook:
        print("axle_test_backend: failing on purpose in " + hook, file=sys.stderr)
        raise RuntimeError("this project's build fails on purpose")
    if config.get("hang") == hook:
        while True:
            time.sleep(1)
    time.sleep(config.get("sleep", 0))
    return config


def _metadata(config):
    lines = ["Metadata-Version: 2.1", "Name: " + config["name"], "Version: " + _version(config)]
    if "requires_python" in config:
        lines.append("Requires-Python: " + config["requires_python"])
    for requirement in config.get("requires", []):
        lines.append("Requires-Dist: " + requirement)
    for extra, requirements in sorted(config.get("extras", {}).items()):
        lines.append("Provides-Extra: " + extra)
        for requirement in requirements:
            marker = 'extra == "%s"' % extra
            if ";" in requirement:
                requirement, existing = requirement.split(";", 1)
                marker = "(%s) and %s" % (existing.strip(), marker)
            lines.append("Requires-Dist: %s; %s" % (requirement.strip(), marker))
    return "\n".join(lines) + "\n"


def _dist_info(config):
    return "%s-%s.dist-info" % (_norm(config["name"]), _version(config))


def get_requires_for_build_wheel(config_settings=None):
    return _enter("get_requires_for_build_wheel").get("build_requires", [])


def get_requires_for_build_editable(config_settings=None):
    return _enter("get_requires_for_build_editable").get("build_requires", [])


def _prepare(hook, metadata_directory):
    config = _enter(hook)
    directory = os.path.join(metadata_directory, _dist_info(config))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "METADATA"), "w", encoding="utf-8") as out:
        out.write(_metadata(config))
    return os.path.basename(directory)


def _write_wheel(config, wheel_directory, files):
    name = "%s-%s-py3-none-any.whl" % (_norm(config["name"]), _version(config))
    dist_info = _dist_info(config)
    files = list(files) + [
        (dist_info + "/METADATA", _metadata(config).encode()),
        (dist_info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: axle_test_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = []
    path = os.path.join(wheel_directory, name)
    with zipfile.ZipFile(path, "w") as archive:
        for arcname, data in files:
            archive.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))
        record.append(dist_info + "/RECORD,,")
        archive.writestr(dist_info + "/RECORD", "\n".join(record) + "\n")
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    config = _enter("build_wheel")
    if "import" in config:
        __import__(config["import"])
    files = []
    if "config_file" in config:
        files.append((config["config_file"], json.dumps(config_settings or {}, sort_keys=True).encode()))
    for package in config.get("packages", []):
        for root, _, names in os.walk(package):
            for file_name in sorted(names):
                if file_name.endswith(".pyc"):
                    continue
                full = os.path.join(root, file_name)
                with open(full, "rb") as source:
                    files.append((full.replace(os.sep, "/"), source.read()))
    return _write_wheel(config, wheel_directory, files)


def _prepare_wheel(metadata_directory, config_settings=None):
    return _prepare("prepare_metadata_for_build_wheel", metadata_directory)


def _prepare_editable(metadata_directory, config_settings=None):
    return _prepare("prepare_metadata_for_build_editable", metadata_directory)


def _build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    config = _enter("build_editable")
    pth = (os.path.abspath(".") + "\n").encode()
    return _write_wheel(config, wheel_directory, [("_%s_editable.pth" % _norm(config["name"]), pth)])


def __getattr__(name):
    # The optional hooks exist or not as the project's configuration says (PEP 562).
    config = _config()
    optional = {
        "prepare_metadata_for_build_wheel": (_prepare_wheel, not config.get("no_prepare")),
        "prepare_metadata_for_build_editable": (
            _prepare_editable,
            not config.get("no_prepare") and not config.get("no_editable"),
        ),
        "build_editable": (_build_editable, not config.get("no_editable")),
    }
    if name in optional and optional[name][1]:
        return optional[name][0]
    raise AttributeError(name)
