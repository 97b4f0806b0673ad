"""deploy/Dockerfile, checked without building it (no base image can be pulled here): what it copies exists
and leaves the weights out, it installs the package with its stubs, runs as a non-root user, keeps Ray at the
chart's version, and its entrypoint is the package's console script."""

from __future__ import annotations

import importlib
import re
import tomllib
from fnmatch import fnmatch

import ray
import yaml

from t2ialign.paths import REPO_ROOT

DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def build_args() -> dict[str, str]:
    args = {}
    for word, rest in instructions():
        if word == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args.setdefault(key, value)
    return args


def test_two_stages_and_both_variants() -> None:
    build, runtime = stages()
    assert build[0][1].endswith("AS build") and runtime[0][1].endswith("AS runtime")
    text = DOCKERFILE.read_text()
    assert 'case "$VARIANT" in cpu|cuda)' in text and build_args()["VARIANT"] == "cpu"
    assert re.search(r'if \[ "\$VARIANT" = cpu \].*--index-url "\$TORCH_CPU_INDEX"', text, re.S)


def test_copies_exist_and_weights_stay_out() -> None:
    ignored = [p.strip() for p in (REPO_ROOT / ".dockerignore").read_text().splitlines() if p and p[0] != "#"]
    for word, rest in instructions():
        if word == "COPY" and not rest.startswith("--from"):
            *sources, _dest = rest.split()
            for src in sources:
                assert (REPO_ROOT / src).exists(), f"COPY {src}: not in the repository"
                assert not src.startswith("weights"), "weights must not be baked into the image"
    for excluded in ("weights/", "data/", "runs/", ".venv", ".git"):
        assert excluded in ignored, f".dockerignore must exclude {excluded}"
    shipped = [p for p in (REPO_ROOT / "services").rglob("*.safetensors")]
    assert not shipped, f"weights under services/ would enter the image: {shipped}"
    assert not any(fnmatch("services/t2ialign/serving/app.py", pat) for pat in ignored)


def test_installs_the_package_with_generated_stubs() -> None:
    build = " ".join(rest for word, rest in stages()[0] if word == "RUN")
    assert "python -m t2ialign.common.protogen" in build and "pip install ." in build
    assert build.index("protogen") < build.index("pip install .")  # stubs exist before the install
    assert "import t2ialign.v1.generator_pb2_grpc" in build  # and the installed package imports them
    assert (REPO_ROOT / "services" / "t2ialign" / "v1" / "__init__.py").is_file()


def test_runs_as_a_non_root_user() -> None:
    runtime = stages()[-1]
    users = [rest for word, rest in runtime if word == "USER"]
    assert users, "the runtime stage must set USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric non-root uid (Kubernetes runAsNonRoot checks it)"
    runs = " ".join(rest for word, rest in runtime if word == "RUN")
    assert f"--uid {uid}" in runs


def test_ray_version_matches_the_chart_and_the_probes_have_wget() -> None:
    values = yaml.safe_load((REPO_ROOT / "helm" / "t2ialign" / "values.yaml").read_text())
    assert build_args()["RAY_VERSION"] == values["rayVersion"] == ray.__version__
    runtime_runs = " ".join(rest for word, rest in stages()[-1] if word == "RUN")
    assert "wget" in runtime_runs and "bash" in runtime_runs  # KubeRay's worker readiness probe uses both
    assert "/etc/profile.d/" in runtime_runs and "/opt/t2ialign/bin" in runtime_runs  # `ray` on a login shell's PATH


def test_entrypoint_is_the_package_console_script() -> None:
    runtime = stages()[-1]
    (entrypoint,) = [yaml.safe_load(rest) for word, rest in runtime if word == "ENTRYPOINT"]
    (cmd,) = [yaml.safe_load(rest) for word, rest in runtime if word == "CMD"]
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["t2ialign"] and "t2ialign" in scripts
    module, _, function = scripts["t2ialign"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert cmd[0] == "serve" and "--host" in cmd and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    parsed = importlib.import_module(module).build_parser().parse_args(cmd)  # the package's own CLI takes it
    assert parsed.model == "/models/generator" and parsed.store == "/data/store"
