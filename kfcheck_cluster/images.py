"""Images: `images/<name>/Dockerfile` -> buildah -> the local registry as 127.0.0.1:5000/<name>:latest, or, for a
Kubeflow component whose version the release set says (VERSIONED), as 127.0.0.1:5000/<name>:v<version>: the
registry holds every release set's image side by side, so an upgrade and its rollback change only the tag.

An image is rebuilt only when its inputs change. Its input hash covers the files of images/<name>/,
the repository paths listed in images/<name>/inputs (one per line, e.g. a component's Go sources),
cluster/versions.env, and the hashes of the images/<name> images it is built FROM. The hash is kept
as a stamp in the cache and as the image's `kfcheck.inputs` label.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from kfcheck_cluster.layout import CLUSTER_DIR, IMAGES_DIR, REGISTRY, REPO_ROOT, Layout
from kfcheck_cluster.processes import ClusterError, HostProcess, run, start, wait_until

HOST_CA_BUNDLE = Path(os.environ.get("KFCHECK_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
BUILD_CA_PATH = "/run/kfcheck/ca-bundle.crt"
TAG = "latest"
# Images of the Kubeflow components a release set (cluster/releases/) gives a version; their `prepare` gets it
# as $KFCHECK_VERSION.
VERSIONED = {
    "training-operator": "TRAINING_OPERATOR_VERSION",
    "trainer-controller-manager": "TRAINER_VERSION",
    "jobset-controller": "JOBSET_VERSION",
    "jupyter-web-app": "NOTEBOOKS_VERSION",  # Kubeflow's own web app, from the kubeflow module of that version
}
_FROM_LOCAL = re.compile(rf"^\s*FROM\s+{re.escape(REGISTRY)}/([a-z0-9-]+):", re.IGNORECASE | re.MULTILINE)


def registry_process(layout: Layout) -> HostProcess:
    config = layout.cache / "registry.yml"
    return HostProcess("registry", ["/usr/bin/docker-registry", "serve", str(config)])


def registry_answers() -> bool:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def ensure_registry(layout: Layout) -> None:
    """Starts the local OCI registry (storage in the cache, so images survive `make down`)."""
    if registry_answers():
        return
    if not Path("/usr/bin/docker-registry").exists():
        raise ClusterError("docker-registry is not installed; run `make setup` (Debian package docker-registry)")
    layout.registry_storage.mkdir(parents=True, exist_ok=True)
    template = (CLUSTER_DIR / "config" / "registry.yml").read_text()
    (layout.cache / "registry.yml").write_text(template.replace("${registry_storage}", str(layout.registry_storage)))
    process = registry_process(layout)
    start(process, layout)
    wait_until("the registry on 127.0.0.1:5000", registry_answers, 20, process, layout)


def image_names() -> list[str]:
    return sorted(p.parent.name for p in IMAGES_DIR.glob("*/Dockerfile"))


def local_parents(name: str) -> list[str]:
    dockerfile = (IMAGES_DIR / name / "Dockerfile").read_text()
    return [parent for parent in _FROM_LOCAL.findall(dockerfile) if parent != name]


def _hash_path(digest: hashlib._Hash, path: Path, root: Path) -> None:
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and "__pycache__" not in child.parts:
                _hash_file(digest, child, root)
    elif path.is_file():
        _hash_file(digest, path, root)
    else:
        raise ClusterError(f"image input {path} does not exist")


def _hash_file(digest: hashlib._Hash, path: Path, root: Path) -> None:
    digest.update(str(path.relative_to(root)).encode() + b"\0")
    digest.update(f"{path.stat().st_mode & 0o111}".encode())
    digest.update(path.read_bytes())


def version_of(name: str, layout: Layout) -> str:
    """The component's version in the layout's release set ("" for an image that has none)."""
    key = VERSIONED.get(name)
    if key is None:
        return ""
    version = layout.versions[key]
    if not version:
        raise ClusterError(f"the Kubeflow release set {layout.release_name} has no {name} ({key} is empty)")
    return version


def tag_of(name: str, layout: Layout) -> str:
    version = version_of(name, layout)
    return f"v{version}" if version else TAG


def reference(name: str, layout: Layout) -> str:
    """Where the cluster pulls the image from, e.g. 127.0.0.1:5000/training-operator:v1.9.2."""
    return f"{REGISTRY}/{name}:{tag_of(name, layout)}"


def input_hash(name: str, _seen: tuple[str, ...] = (), version: str = "") -> str:
    if name in _seen:
        raise ClusterError(f"images FROM each other in a cycle: {' -> '.join((*_seen, name))}")
    context = IMAGES_DIR / name
    if not (context / "Dockerfile").exists():
        raise ClusterError(f"no image '{name}': images/{name}/Dockerfile does not exist")
    digest = hashlib.sha256()
    _hash_path(digest, context, REPO_ROOT)
    _hash_path(digest, CLUSTER_DIR / "versions.env", REPO_ROOT)
    inputs = context / "inputs"
    if inputs.exists():
        for line in inputs.read_text().splitlines():
            entry = line.strip()
            if entry and not entry.startswith("#"):
                _hash_path(digest, REPO_ROOT / entry, REPO_ROOT)
    for parent in local_parents(name):
        digest.update(f"FROM {parent}={input_hash(parent, (*_seen, name))}".encode())
    if version:
        digest.update(f"VERSION={version}".encode())
    return digest.hexdigest()[:16]


def extra_tags(name: str) -> list[str]:
    """Tags pushed besides `latest`, one per line in images/<name>/tags."""
    tags = IMAGES_DIR / name / "tags"
    if not tags.exists():
        return []
    return [line.strip() for line in tags.read_text().splitlines() if line.strip() and not line.startswith("#")]


def registry_has(name: str, tag: str = TAG) -> bool:
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/{name}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _buildah(layout: Layout) -> list[str]:
    return [
        "buildah",
        "--root",
        str(layout.buildah_root / "root"),
        "--runroot",
        str(layout.state / "buildah-run"),
        "--storage-driver",
        "overlay",
    ]


def build(name: str, layout: Layout, *, force: bool = False, log: bool = True) -> bool:
    """Builds and pushes images/<name> (and the local images it is FROM) if their inputs changed.

    Returns True when something was built. Concurrent builds (two `make up`) take turns.
    """
    layout.image_stamps.mkdir(parents=True, exist_ok=True)
    with (layout.image_stamps / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(name, layout, force=force, log=log)


def _build(name: str, layout: Layout, *, force: bool, log: bool) -> bool:
    built = False
    for parent in local_parents(name):
        built |= _build(parent, layout, force=False, log=log)
    version, tag = version_of(name, layout), tag_of(name, layout)
    wanted = input_hash(name, version=version)
    stamp = layout.image_stamps / (f"{name}@{tag}.inputs" if version else f"{name}.inputs")
    tags = (tag, *extra_tags(name))
    if (
        not force
        and not built
        and stamp.exists()
        and stamp.read_text().strip() == wanted
        and all(registry_has(name, each) for each in tags)
    ):
        return False
    started = time.monotonic()
    if log:
        print(f"[images] building {name} (inputs {wanted})", flush=True)
    layout.image_stamps.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"kfcheck-image-{name}-") as scratch:
        context = Path(scratch) / name
        shutil.copytree(IMAGES_DIR / name, context, symlinks=True)
        _prepare(name, context, layout, version)
        built_reference = f"{REGISTRY}/{name}:{tag}"
        _buildah_build(name, context, layout, built_reference, wanted)
        for each in tags:
            destination = f"docker://{REGISTRY}/{name}:{each}"
            run([*_buildah(layout), "push", "--tls-verify=false", built_reference, destination],
                f"pushing {name}:{each}")  # fmt: skip
    stamp.write_text(wanted + "\n")
    if log:
        print(f"[images] {name} pushed as {built_reference} in {time.monotonic() - started:.0f}s", flush=True)
    return True


def _prepare(name: str, context: Path, layout: Layout, version: str) -> None:
    """Runs the image's `prepare` (if any) in its build context, with the component's version."""
    prepare = context / "prepare"
    if prepare.exists():
        env = {
            "KFCHECK_CACHE": str(layout.cache),
            "KFCHECK_BIN": str(layout.bin_root),
            "KFCHECK_REPO": str(REPO_ROOT),
            "KFCHECK_VERSION": version,
        }
        run([str(prepare)], f"images/{name}/prepare", env=env, cwd=context)


def _buildah_build(name: str, context: Path, layout: Layout, reference: str, inputs: str) -> None:
    """`buildah bud` of the context as `reference`, labelled with its input hash; the log kept in the cache."""
    volumes = []
    if HOST_CA_BUNDLE.exists():
        volumes = ["--volume", f"{HOST_CA_BUNDLE}:{BUILD_CA_PATH}:ro"]
    argv = [*_buildah(layout), "bud", "--network", "host", "--tls-verify=false", "--layers", *volumes,
            "--label", f"kfcheck.inputs={inputs}", "-t", reference, str(context)]  # fmt: skip
    build_log = layout.image_stamps / f"{name}.build.log"
    with build_log.open("w") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = "\n".join(build_log.read_text(errors="replace").splitlines()[-30:])
        raise ClusterError(f"building image {name} failed (full log: {build_log}):\n{tail}")


def image_size(name: str, tag: str = TAG) -> int:
    """Compressed size in bytes of an image in the local registry (config + layers)."""
    request = urllib.request.Request(
        f"http://{REGISTRY}/v2/{name}/manifests/{tag}",
        headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        manifest = json.load(response)
    return int(manifest["config"]["size"]) + sum(int(layer["size"]) for layer in manifest["layers"])


SUITE_IMAGES = ("busybox", "pytorch-mnist", "tf-mnist", "notebook", "builder-base", "kaniko-executor")


def push_suite_images(registry: str, *, tls_verify: bool = True, authfile: str | None = None) -> list[str]:
    """Copies the images the suite's scenarios run from the local registry to `registry` (skopeo, with the
    registry's credentials from `authfile` or the usual docker/podman auth files); returns their references."""
    copied = []
    for name in SUITE_IMAGES:
        source, destination = f"{REGISTRY}/{name}:{TAG}", f"{registry.rstrip('/')}/{name}:{TAG}"
        argv = ["skopeo", "copy", "--src-tls-verify=false", f"--dest-tls-verify={str(tls_verify).lower()}"]
        if authfile:
            argv.append(f"--dest-authfile={authfile}")
        run([*argv, f"docker://{source}", f"docker://{destination}"], f"copying {source} to {destination}")
        copied.append(destination)
        print(f"[images] {source} -> {destination}", flush=True)
    return copied
