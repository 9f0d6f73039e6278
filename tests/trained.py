"""Models the test session trains, kept between runs while nothing they depend on changes.

The session trains three homes (the shipped corpus, a 700-row sample, and that sample with a
second version), about half a minute on two cores. A later run copies what an earlier run
trained when the inputs are the same: the corpus files, the installed packages, Python, the
``ROUTER_*`` environment and the registry trained into, and when every file of the package
that training loaded is unchanged. Training runs in a fresh interpreter so that "loaded" means
what training needs, not what the test session happened to import: an edit to the API keeps
the models, an edit to the text pipeline retrains them.

CI (``ROUTER_TEST_REQUIRE_ALL=1``) and ``ROUTER_TEST_FRESH_MODELS=1`` train in the test
process as before, without the cache. ``pytest --cache-clear`` empties it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from router.learn.fit import ModelConfig

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
CACHE = ROOT / ".pytest_cache" / "router-trained"

_TRAIN = """
import json, sys
from pathlib import Path
from router.learn.fit import ModelConfig
from router.learn.train import train
from router.settings import get_settings
home, corpus, config, promote, src = json.loads(sys.argv[1])
settings = get_settings({}, home=Path(home), corpus_path=Path(corpus))
train(settings, ModelConfig.from_dict(config), promote=promote, cv=False)
files = {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}
print(json.dumps(sorted(f for f in files if f.startswith(src))))
"""


def train_home(home: Path, corpus: Path, config: ModelConfig, *, promote: bool = True) -> None:
    """``train(cv=False)`` into ``home`` from ``corpus``, or an earlier run's identical result."""
    if "1" in (
        os.environ.get("ROUTER_TEST_REQUIRE_ALL"),
        os.environ.get("ROUTER_TEST_FRESH_MODELS"),
    ):
        from router.learn.train import train
        from router.settings import get_settings

        settings = get_settings({}, home=home, corpus_path=corpus)
        train(settings, config, promote=promote, cv=False)
        return
    models = home / "models"
    entry = CACHE / _key(models, corpus, config, promote)
    if _fresh(entry):
        shutil.rmtree(models, ignore_errors=True)
        shutil.copytree(entry / "models", models)
        return
    path = [str(SRC), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    arg = json.dumps([str(home), str(corpus), config.to_dict(), promote, str(SRC / "router")])
    done = subprocess.run(
        [sys.executable, "-c", _TRAIN, arg], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"training the test model failed:\n{done.stderr[-4000:]}")
    loaded = [Path(f) for f in json.loads(done.stdout.splitlines()[-1])]
    _store(entry, models, loaded)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def _key(models: Path, corpus: Path, config: ModelConfig, promote: bool) -> str:
    from importlib.metadata import distributions

    digest = hashlib.sha256()
    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in distributions())
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith("ROUTER_"))
    head = [sys.version, packages, settings, config.to_dict(), promote]
    digest.update(json.dumps(head, sort_keys=True, default=str).encode())
    for root in (corpus, models):
        for path in _files(root) if root.exists() else []:
            digest.update(f"{path.relative_to(root.parent)}\0{_sha(path)}\0".encode())
    return digest.hexdigest()[:32]


def _fresh(entry: Path) -> bool:
    try:
        code = json.loads((entry / "code.json").read_text(encoding="utf-8"))
        return all(_sha(ROOT / name) == sha for name, sha in code.items())
    except (OSError, ValueError):
        return False


def _store(entry: Path, models: Path, loaded: list[Path]) -> None:
    files = set(loaded) | set(_files(SRC / "router" / "resources"))
    code = {str(p.relative_to(ROOT)): _sha(p) for p in sorted(files)}
    tmp = CACHE / f".tmp-{uuid.uuid4().hex}"
    try:
        shutil.copytree(models, tmp / "models")
        (tmp / "code.json").write_text(json.dumps(code, indent=1), encoding="utf-8")
        shutil.rmtree(entry, ignore_errors=True)  # stale: the code changed since
        os.rename(tmp, entry)
    except OSError:
        pass  # another worker stored it first, or the cache cannot be written: train next time
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
