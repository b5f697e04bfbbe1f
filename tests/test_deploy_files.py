"""The container and Kubernetes files under deploy/, checked without a container engine or a cluster.

- deploy/compose.yaml against the Compose Specification's JSON schema (``compose-spec.json`` as vendored by the
  PyPI package check-jsonschema, Apache-2.0), and the manifests in deploy/kubernetes/ against the Kubernetes
  OpenAPI schemas shipped by the PyPI package kubernetes-validate (strict: an unknown field is an error); each
  validator is first shown to reject a broken file, so a validator that accepts anything fails here.
- deploy/Containerfile: the final stage runs as a fixed non-root UID, has no compiler, and needs no file that
  .dockerignore leaves out of the build context.
- Every command the files run exists in the CLI with the options given (``mayak ... --help`` parses them all;
  gunicorn loads its config and the app with ``--check-config``), every environment variable they set is read by
  the code (or by the third-party image it is given to), and every probed path is a route of the app.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
CONTAINERFILE = DEPLOY / "Containerfile"
COMPOSE = DEPLOY / "compose.yaml"
DOCS = ROOT / "docs" / "containers.md"

# the oldest Kubernetes the manifests are meant for, and the newest the installed schemas know
K8S_VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]

# Variables consumed by someone else than Mayak's code: the Python interpreter, and the third-party images of
# compose.yaml, by image name (as their documentation lists them).
RUNTIME_VARIABLES = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
IMAGE_VARIABLES = {
    "postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
    "minio/minio": {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"},
}
# compose variables that only choose how compose runs things, never passed into a container
COMPOSE_ONLY_VARIABLES = {"MAYAK_IMAGE", "MAYAK_HTTP_PORT", "MINIO_IMAGE", "MINIO_MC_IMAGE"}
# the routes the deployment probes, scrapes or tells admins to open
ROUTES = {"/livez", "/readyz", "/healthz", "/metrics"}


# --- loading ------------------------------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_documents() -> list[tuple[str, dict]]:
    return [(path.name, doc) for path in k8s_files() for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_kind(kind: str) -> list[dict]:
    return [doc for _, doc in k8s_documents() if doc["kind"] == kind]


def pod_specs() -> list[tuple[str, dict]]:
    found = []
    for _, doc in k8s_documents():
        if doc["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            found.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
    return found


def all_containers(spec: dict) -> list[dict]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def containerfile_stages() -> list[list[tuple[str, str]]]:
    """The instructions of each stage as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), args.strip()))
    return stages


def final_stage() -> list[tuple[str, str]]:
    return containerfile_stages()[-1]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in final_stage():
        if instruction == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"use the exec form (a JSON list): {args}"
    return value


def mayak_services() -> dict[str, dict]:
    """The compose services that run the Mayak image (built from deploy/Containerfile)."""
    return {name: svc for name, svc in compose()["services"].items() if "build" in svc}


def mayak_image_references() -> set[str]:
    return {c["image"] for _, spec in pod_specs() for c in all_containers(spec)}


# --- schemas --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_validator() -> jsonschema.protocols.Validator:
    text = (resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_the_compose_validator_rejects_a_broken_file(compose_validator):
    broken = compose()
    broken["services"]["web-1"]["restartt"] = "always"
    broken["services"]["worker"]["depends_on"]["postgres"]["condition"] = "service_heathy"
    messages = " ".join(e.message for e in compose_validator.iter_errors(broken))
    assert "restartt" in messages and "service_heathy" in messages


def test_compose_file_follows_the_compose_specification(compose_validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in compose_validator.iter_errors(compose())]
    assert errors == []


def test_the_kubernetes_validator_rejects_a_broken_manifest():
    doc = copy.deepcopy(k8s_kind("Deployment")[0])
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] = {"exce": {"command": ["true"]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSIONS[0], strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_manifests_follow_the_kubernetes_schemas(version):
    problems = []
    for name, doc in k8s_documents():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{name} {doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert problems == []


def test_kustomization_lists_every_manifest_and_names_the_image():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in k8s_files())
    assert kustomization["namespace"] == "mayak"
    assert {i["name"] for i in kustomization["images"]} == {ref.rpartition(":")[0] for ref in mayak_image_references()}
    assert all(doc["metadata"].get("namespace", "mayak") == "mayak" for _, doc in k8s_documents())


# --- the image ----------------------------------------------------------------------------------------------


def test_containerfile_final_stage_runs_as_a_fixed_non_root_user():
    users = [args for instruction, args in final_stage() if instruction == "USER"]
    assert users, "the final stage sets no USER: the container would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) > 0, f"USER {users[-1]}: use a fixed numeric UID (runAsNonRoot checks it)"
    assert not group or (group.isdigit() and int(group) > 0)
    for name, spec in pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == int(user), name


def test_containerfile_is_multi_stage_without_compilers_in_the_final_image():
    stages = containerfile_stages()
    assert len(stages) >= 2
    final = " ".join(args for instruction, args in stages[-1] if instruction == "RUN")
    for compiler in ("build-essential", "gcc", "g++", "clang", "-dev "):
        assert compiler not in final, f"{compiler} in the final stage"
    assert "postgresql-client" in final, "backups need pg_dump in the image"
    copies = [args for instruction, args in stages[-1] if instruction == "COPY"]
    assert any("--from=builder" in c for c in copies)


def test_containerfile_starts_web_by_default_and_checks_livez():
    instructions = dict(final_stage())
    assert exec_form(instructions["ENTRYPOINT"]) == ["/usr/bin/tini", "--"]
    assert exec_form(instructions["CMD"])[0] == "gunicorn"
    healthcheck = instructions["HEALTHCHECK"]
    script = re.search(r"/app/(\S+\.py)", healthcheck).group(1)
    assert "/livez" in (ROOT / script).read_text()
    assert image_env()["MAYAK_INSTANCE_PATH"] in instructions["VOLUME"]


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    for pattern in dockerignore_patterns():
        bare = pattern.removeprefix("**/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes):
            return True
        if pattern.startswith("**/") and any(fnmatch.fnmatch(part, bare) for part in parts):
            return True
    return False


def test_the_build_context_keeps_what_the_image_needs():
    needed = ["pyproject.toml", "README.md", "wsgi.py", "plugins.toml", "babel.cfg", "deploy/gunicorn.conf.py",
              "deploy/container/healthcheck.py", "core/__init__.py", "mayak/__init__.py", "migrations/env.py",
              "themes", "plugins/l10n_ru/plugin.py"]
    assert [p for p in needed if ignored(p) or not (ROOT / p).exists()] == []
    assert ignored(".venv") and ignored(".git") and ignored("instance") and ignored("core/__pycache__/x.pyc")


# --- compose cross-references -------------------------------------------------------------------------------


def test_compose_dependencies_exist_and_can_be_met():
    services = compose()["services"]
    for name, svc in services.items():
        for target, rule in svc.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = rule["condition"]
            if condition == "service_healthy":
                has_check = "healthcheck" in services[target] or "build" in services[target]  # the image's own
                assert has_check, f"{name} waits for {target} to be healthy, but it has no health check"
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is a one-shot: restart: 'no'"


def test_compose_runs_the_asked_for_shape():
    services = compose()["services"]
    commands = {name: svc.get("command") for name, svc in mayak_services().items()}
    assert commands["migrate"] == ["mayak", "db", "upgrade"]
    web = [n for n, c in commands.items() if c and c[0] == "gunicorn"]
    assert len(web) == 2
    assert services["worker"]["command"] == ["mayak", "worker", "--no-fork"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["scheduler"]["command"] == ["mayak", "scheduler"]
    for name in [*web, "worker", "scheduler"]:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    for name, svc in mayak_services().items():
        assert svc["build"]["context"] == ".." and (ROOT / svc["build"]["dockerfile"]).resolve() == CONTAINERFILE
        assert svc["environment"]["MAYAK_SECRET_KEY"].startswith("${MAYAK_SECRET_KEY:?"), name
        assert svc["environment"]["MAYAK_SETTINGS_KEYS"].startswith("${MAYAK_SETTINGS_KEYS:?"), name


def test_nginx_upstreams_both_web_services_on_their_port():
    services = compose()["services"]
    nginx = services["nginx"]
    mounted = [v.split(":")[0] for v in nginx["volumes"]]
    conf_path = (COMPOSE.parent / mounted[0]).resolve()
    assert conf_path.is_file()
    upstream = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", conf_path.read_text(), flags=re.M)
    web = sorted(n for n, s in mayak_services().items() if s.get("command", [""])[0] == "gunicorn")
    port = image_env()["MAYAK_BIND"].rpartition(":")[2]
    assert sorted(host for host, _ in upstream) == web
    assert {p for _, p in upstream} == {port}
    assert set(nginx["depends_on"]) == set(web)


def test_compose_env_example_documents_every_variable_compose_reads():
    code = "\n".join(line.partition(" #")[0] for line in COMPOSE.read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", code))
    documented = env_file_keys(DEPLOY / "compose.env.example", commented=True)
    assert sorted(interpolated - documented) == [], "add these to deploy/compose.env.example"
    assert sorted(documented - interpolated) == [], "compose.yaml does not use these"


def env_file_keys(path: Path, *, commented: bool = False) -> set[str]:
    """The variables an env file sets (and, with ``commented``, those it shows commented out)."""
    pattern = r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=" if commented else r"^([A-Z][A-Z0-9_]*)="
    return {m.group(1) for line in path.read_text().splitlines() if (m := re.match(pattern, line))}


# --- kubernetes cross-references ----------------------------------------------------------------------------


def test_kubernetes_selectors_services_and_references_match():
    deployments = {d["metadata"]["name"]: d for d in k8s_kind("Deployment")}
    for name, d in deployments.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]

    def selects(selector: dict) -> list[dict]:
        return [labels for labels in pod_labels if selector.items() <= labels.items()]

    services = {s["metadata"]["name"]: s for s in k8s_kind("Service")}
    for name, svc in services.items():
        [labels] = selects(svc["spec"]["selector"])
        [deployment] = [d for d in deployments.values() if d["spec"]["template"]["metadata"]["labels"] == labels]
        ports = {p["name"] for c in deployment["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        assert all(p["targetPort"] in ports for p in svc["spec"]["ports"]), name
    for ingress in k8s_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                port_names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in port_names
    budgets = {b["metadata"]["name"]: selects(b["spec"]["selector"]["matchLabels"])
               for b in k8s_kind("PodDisruptionBudget")}
    assert set(budgets) == {"mayak-web", "mayak-worker"} and all(len(v) == 1 for v in budgets.values())

    configmaps = {c["metadata"]["name"] for c in k8s_kind("ConfigMap")}
    secrets = {s["metadata"]["name"] for s in k8s_kind("Secret")}
    for name, spec in pod_specs():
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for container in all_containers(spec):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps, name
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, name
            assert {m["name"] for m in container.get("volumeMounts", [])} <= volumes, name


def test_kubernetes_pods_are_locked_down_and_writable_only_where_mayak_writes():
    [config] = k8s_kind("ConfigMap")
    instance_path = config["data"]["MAYAK_INSTANCE_PATH"]
    for name, spec in pod_specs():
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in all_containers(spec):
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert "requests" in container["resources"] and "memory" in container["resources"]["limits"], where
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            assert "emptyDir" in mounts["/tmp"], where
            assert instance_path in mounts, f"{where}: MAYAK_INSTANCE_PATH is not writable"


def test_kubernetes_runs_the_asked_for_shape():
    deployments = {d["metadata"]["name"]: d for d in k8s_kind("Deployment")}
    assert {n: d["spec"]["replicas"] for n, d in deployments.items()} == {
        "mayak-web": 2, "mayak-worker": 2, "mayak-scheduler": 2}
    assert k8s_kind("CronJob") == []
    [job] = k8s_kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["mayak", "db", "upgrade"]
    for name, d in deployments.items():
        spec = d["spec"]["template"]["spec"]
        assert [c["args"] for c in spec["initContainers"]] == [["mayak", "db", "check"]], name

    web = deployments["mayak-web"]["spec"]["template"]
    [container] = web["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    annotations = web["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])

    [worker] = deployments["mayak-worker"]["spec"]["template"]["spec"]["containers"]
    assert worker["args"] == ["mayak", "worker", "--no-fork"]
    env = {e["name"]: e["value"] for e in worker["env"]}
    probe = " ".join(worker["livenessProbe"]["exec"]["command"])
    assert "MAYAK_HEARTBEAT_FILE" in env and "$MAYAK_HEARTBEAT_FILE" in probe and "-mmin -1" in probe
    assert env["MAYAK_HEARTBEAT_FILE"].startswith("/tmp/"), "the heartbeat file must be on the writable /tmp"


@pytest.mark.parametrize("deployment", ["mayak-worker", "mayak-scheduler"])
def test_the_heartbeat_probe_accepts_a_fresh_heartbeat_and_refuses_a_stale_one(tmp_path, deployment):
    [found] = [d for d in k8s_kind("Deployment") if d["metadata"]["name"] == deployment]
    [container] = found["spec"]["template"]["spec"]["containers"]
    assert {e["name"] for e in container["env"]} >= {"MAYAK_HEARTBEAT_FILE"}
    command = container["livenessProbe"]["exec"]["command"]
    heartbeat = tmp_path / "heartbeat"
    env = {**os.environ, "MAYAK_HEARTBEAT_FILE": str(heartbeat)}
    assert subprocess.run(command, env=env, check=False).returncode != 0, "no file yet: not alive"
    heartbeat.touch()
    assert subprocess.run(command, env=env, check=False).returncode == 0
    os.utime(heartbeat, (heartbeat.stat().st_atime, heartbeat.stat().st_mtime - 90))
    assert subprocess.run(command, env=env, check=False).returncode != 0, "90 s old: stuck"


# --- commands, variables and routes against the code -------------------------------------------------------


def deployed_commands() -> list[list[str]]:
    commands = [exec_form(dict(final_stage())["CMD"])]
    commands += [svc["command"] for svc in mayak_services().values() if "command" in svc]
    commands += [c["args"] for _, spec in pod_specs() for c in all_containers(spec)]
    return commands


def documented_mayak_commands() -> list[list[str]]:
    text = DOCS.read_text()
    found = re.findall(r"\bmayak ((?:db|users|settings|status|files|worker|scheduler|serve)(?: [a-z][a-z-]*)*)", text)
    return [["mayak", *c.split()] for c in found]


INSPECT = r"""
import json, sys
from click.testing import CliRunner
from core import create_app
from core.cli import cli

result = {"commands": {}, "rules": []}
for argv in json.loads(sys.argv[1]):
    run = CliRunner().invoke(cli, [*argv, "--help"], prog_name="mayak")
    result["commands"][" ".join(argv)] = [run.exit_code, run.output[-1500:] + repr(run.exception or "")]
app = create_app()
result["rules"] = sorted({rule.rule for rule in app.url_map.iter_rules()})
print("INSPECT " + json.dumps(result))
"""


def app_environ(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAYAK_") and k != "REDIS_URL"}
    env.update(MAYAK_INSTANCE_PATH=str(tmp_path), MAYAK_DATABASE_URL=f"sqlite:///{tmp_path / 'mayak.db'}")
    return env


@pytest.fixture(scope="module")
def inspected(tmp_path_factory) -> dict:
    """The CLI's answer to each deployed and documented ``mayak`` command, and the app's routes, from a
    separate process (creating apps here would disturb the other tests' app)."""
    mayak = [c[1:] for c in deployed_commands() + documented_mayak_commands() if c[0] == "mayak"]
    argvs = list({" ".join(c): c for c in mayak}.values())
    done = subprocess.run([sys.executable, "-c", INSPECT, json.dumps(argvs)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=app_environ(tmp_path_factory.mktemp("inspect")), check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("INSPECT ")]
    assert lines, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("INSPECT "))


def test_every_mayak_command_in_the_files_and_docs_exists_with_its_options(inspected):
    assert len(inspected["commands"]) >= 5
    failing = {cmd: out for cmd, (code, out) in inspected["commands"].items() if code != 0}
    assert failing == {}


def test_gunicorn_loads_its_config_and_the_app_as_the_image_runs_it(tmp_path):
    gunicorn_commands = {tuple(c) for c in deployed_commands() if c[0] == "gunicorn"}
    assert gunicorn_commands
    gunicorn = Path(sys.executable).with_name("gunicorn")
    for command in gunicorn_commands:
        done = subprocess.run([str(gunicorn), "--check-config", *command[1:]], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, env=app_environ(tmp_path), check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_probed_and_scraped_paths_are_routes_of_the_app(inspected):
    probed = set(ROUTES)
    for _, spec in pod_specs():
        for container in spec["containers"]:
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if "httpGet" in container.get(probe, {}):
                    probed.add(container[probe]["httpGet"]["path"])
    for deployment in k8s_kind("Deployment"):
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        if "prometheus.io/path" in annotations:
            probed.add(annotations["prometheus.io/path"])
    probed |= set(re.findall(r"http://127\.0\.0\.1(/\w+)", json.dumps(compose())))
    missing = sorted(probed - set(inspected["rules"]))
    assert missing == [], f"the deployment probes {missing}, which the app does not serve"


def source_text() -> str:
    files = [*ROOT.glob("core/**/*.py"), *ROOT.glob("mayak/**/*.py"), *ROOT.glob("plugins/**/*.py"),
             ROOT / "wsgi.py", DEPLOY / "gunicorn.conf.py"]
    return "\n".join(p.read_text() for p in files if "tests" not in p.parts and "testing" not in p.parts)


def read_by_code(names: set[str]) -> set[str]:
    text = source_text()
    return {n for n in names if re.search(rf"(?<![A-Z0-9_]){re.escape(n)}(?![A-Z0-9_])", text)}


def variables_given_to_mayak() -> dict[str, set[str]]:
    """Each variable the deployment files put into a Mayak process, with where."""
    given: dict[str, set[str]] = {}

    def add(names, where):
        for name in names:
            given.setdefault(name, set()).add(where)

    add(image_env(), "Containerfile ENV")
    for name, svc in mayak_services().items():
        add(svc.get("environment", {}), f"compose {name}")
    for doc in k8s_kind("ConfigMap"):
        add(doc["data"], f"ConfigMap {doc['metadata']['name']}")
    for doc in k8s_kind("Secret"):
        add(doc["stringData"], f"Secret {doc['metadata']['name']}")
    for pod, spec in pod_specs():
        for container in all_containers(spec):
            add((e["name"] for e in container.get("env", [])), f"{pod}/{container['name']}")
    add(env_file_keys(DEPLOY / "mayak.env.example"), "mayak.env.example")
    return given


def test_every_variable_given_to_mayak_is_read_by_its_code():
    given = variables_given_to_mayak()
    unread = set(given) - RUNTIME_VARIABLES - read_by_code(set(given))
    assert {name: sorted(given[name]) for name in sorted(unread)} == {}


def test_every_variable_given_to_a_third_party_image_is_one_it_reads():
    for name, svc in compose()["services"].items():
        if name in mayak_services():
            continue
        image = svc["image"].removeprefix("${MINIO_IMAGE:-").removeprefix("${MINIO_MC_IMAGE:-").split(":")[0]
        script = json.dumps([svc.get("entrypoint"), svc.get("command")])
        for variable in svc.get("environment", {}):
            used = variable in IMAGE_VARIABLES.get(image, set()) or f"$${variable}" in script
            assert used, f"{name} ({image}) is given {variable}, which neither the image nor its command reads"
    example = env_file_keys(DEPLOY / "compose.env.example")
    passed_on = {v for svc in compose()["services"].values() for v in svc.get("environment", {})}
    text = COMPOSE.read_text()
    for variable in example - passed_on - COMPOSE_ONLY_VARIABLES:
        # read only inside another value, such as the password inside MAYAK_DATABASE_URL
        assert re.search(rf"\w: \S*\$\{{{variable}\b", text), f"{variable} is in compose.env.example but unused"
