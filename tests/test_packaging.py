"""What pip and Dataflow install: the sdist Beam builds with --setup_file, and the wheel."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_setup_file_sdist_carries_every_package(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "setup.py",
            "-q",
            "sdist",
            "-d",
            str(tmp_path),
            "egg_info",
            "--egg-base",
            str(tmp_path),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (archive,) = tmp_path.glob("polymix-*.tar.gz")
    with tarfile.open(archive) as sdist:
        names = sdist.getnames()
    for module in [
        "polymix/cli.py",
        "polymix/pipelines/corpus.py",
        "polymix/core/record_codec.py",
        "polymix/model/batch.py",
        "polymix/transforms/filters/models/lid.176.ftz",
    ]:
        assert any(n.endswith(module) for n in names), module


# The wheel pip installs must own only `polymix/`: a top-level `model/` or `trainer/` in it
# would overwrite (and on uninstall delete) any other distribution's package of that name.
DUMMY = {"model/__init__.py": 'WHO = "dummy"\n', "trainer.py": 'WHO = "dummy"\n'}
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def build_wheel(tmp_path: Path) -> Path:
    """The wheel, built offline from a copy of the tree (so no build/ lands in the checkout)."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "polymix", source / "polymix", ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip"]
    offline = ["--no-deps", "--no-build-isolation", "--no-index", "-q"]
    subprocess.run(
        [*pip, "wheel", *offline, "-w", str(tmp_path / "dist"), "."],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("polymix-*.whl")
    return wheel


def venv_beside_dummy(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh venv holding only the dummy: (its python, its site-packages)."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for name, text in DUMMY.items():
        Path(site, name).parent.mkdir(parents=True, exist_ok=True)
        Path(site, name).write_text(text)
    return python, Path(site)


def share_dependencies(site: Path) -> None:
    """Let the venv import our dependencies (offline), after its own packages.

    `.venv` is itself a venv, so `--system-site-packages` reaches only the bare
    interpreter's site; `.venv`'s own site-packages joins as a plain path. It goes in after
    the install, or pip would take `.venv`'s editable polymix for this one.
    """
    shared = sysconfig.get_paths()["purelib"]
    (site / "shared_dependencies.pth").write_text(shared + "\n")


def test_wheel_installs_beside_other_top_level_model_and_trainer(tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    outside = [n for n in names if not n.startswith(("polymix/", f"polymix-{VERSION}.dist-info/"))]
    assert not outside, f"the wheel installs outside polymix/: {outside}"
    # `pip install polymix` alone must be able to run language ID (the default config's first rule).
    assert "polymix/transforms/filters/models/lid.176.ftz" in names
    assert "polymix/transforms/filters/models/LICENSE-lid.176.txt" in names

    python, site = venv_beside_dummy(tmp_path)
    # Nothing of the checkout may show: a polymix there would pass for the installed one.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        + ["--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        env=env,
    )
    assert (site / "polymix" / "trainer" / "loop.py").is_file()
    share_dependencies(site)
    check = (
        "import model, trainer, polymix, polymix.trainer.loop, polymix.cli\n"
        "assert model.WHO == trainer.WHO == 'dummy', (model.__file__, trainer.__file__)\n"
        "print(polymix.__file__)\n"
    )
    done = subprocess.run(
        [python, "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(tmp_path / "venv")), done.stdout
    cli = subprocess.run(
        [python.parent / "polymix", "--version"], cwd=tmp_path, env=env, capture_output=True
    )
    assert cli.stdout.decode().strip() == f"polymix {VERSION}", cli


def test_extras_split_the_trainer_and_google_cloud_from_the_core():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split("[")[0].split("=")[0].split(">")[0] for d in project["dependencies"]}
    extras = project["optional-dependencies"]
    assert {"jax", "optax", "orbax-checkpoint", "grain", "tensorboardX"}.isdisjoint(names)
    assert "apache-beam" in names and "apache-beam[gcp]==2.77.0" in extras["dataflow"]
    assert {d.split("[")[0].split("=")[0] for d in extras["train"]} >= {"jax", "optax", "grain"}
    assert "'.[dataflow,train,dev]'" in (ROOT / "Makefile").read_text()


def _fresh_core_install(tmp_path: Path) -> Path:
    """The wheel and its core dependencies from the package index, in a new venv."""
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "core"
    subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=1800)
    return venv / "bin"


@pytest.mark.slow
def test_the_core_install_runs_the_sample_corpus(tmp_path):
    """`pip install polymix` (no extras) is enough for a whole local run, verified."""
    bin_dir = _fresh_core_install(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for missing in ("jax", "optax", "google.cloud.storage"):
        probe = [bin_dir / "python", "-c", f"import {missing}"]
        assert subprocess.run(probe, capture_output=True, env=env).returncode != 0, missing
    corpus = tmp_path / "work" / "corpus"
    quality = corpus / "quality"
    steps = [
        ["sample", "--output", str(corpus)],
        ["tokenizer", "train", str(corpus / "polymix.yaml")],
        ["classifier", "train", "--output", str(corpus / "classifier" / "quality.bin")]
        + ["--positive", str(quality / "positive.jsonl.gz")]
        + ["--negative", str(quality / "negative.jsonl.gz")],
        ["run", str(corpus / "polymix.yaml"), "--output", str(tmp_path / "work" / "out")],
        ["verify", str(tmp_path / "work" / "out"), "--json"],
    ]
    for step in steps:
        done = subprocess.run(
            [bin_dir / "polymix", *step], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, (step, done.stderr[-2000:])
    assert json.loads(done.stdout)["ok"]
    info = subprocess.run(
        [bin_dir / "polymix", "model-info", "--model", "tiny"], capture_output=True, text=True
    )
    assert info.returncode == 2 and "polymix[train]" in info.stderr
