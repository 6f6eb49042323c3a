"""A wiring job's life as watches see it, to a hundredth of a second (the phase tables read the cluster's
timestamps, which have 1 s resolution): when each pod was created, scheduled, started, became Ready,
finished and reached its terminal phase, when the job's conditions changed, and the workers' init
container logs with their timestamps.

    ~/.cache/kfcheck/venv/bin/python bench/job_timeline.py pytorchjob 2   # PyTorchJob wiring, 2 workers
    ~/.cache/kfcheck/venv/bin/python bench/job_timeline.py tfjob 2        # its TFJob twin

Runs in a scratch namespace (deleted afterwards) against $KUBECONFIG, with the suite's wiring fixtures and
busybox image (`-i IMAGE` for another registry).
"""

from __future__ import annotations

import argparse
import secrets
import threading
import time
from typing import Any

from kubernetes import client, config, watch

from kfcheck.core import manifests

KINDS = {"pytorchjob": ("pytorchjobs", "pytorchjob-wiring"), "tfjob": ("tfjobs", "tfjob-wiring")}
Line = tuple[float, str]


def pod_line(pod: Any) -> str:
    ready = next((c.status for c in pod.status.conditions or [] if c.type == "Ready"), "-")
    containers = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
    states = [f"{c.name}={next(k for k in ('running', 'terminated', 'waiting') if getattr(c.state, k))}"
              for c in containers if c.state]  # fmt: skip
    node = "scheduled" if pod.spec.node_name else "unscheduled"
    return f"pod {pod.metadata.name}: {pod.status.phase}, Ready={ready}, {node}, {' '.join(states)}"


def watch_pods(core: client.CoreV1Api, namespace: str, lines: list[Line], stop: threading.Event) -> None:
    seen: dict[str, str] = {}
    for event in watch.Watch().stream(core.list_namespaced_pod, namespace, timeout_seconds=300):
        line = pod_line(event["object"])
        if seen.get(event["object"].metadata.name) != line:  # only what changed
            seen[event["object"].metadata.name] = line
            lines.append((time.time(), line))
        if stop.is_set():
            return


def run(kind: str, workers: int, image: str, namespace: str, lines: list[Line]) -> float:
    """Submits the job and returns when it was submitted, once the job has succeeded or failed."""
    core, custom = client.CoreV1Api(), client.CustomObjectsApi()
    plural, fixture = KINDS[kind]
    (body,) = manifests.render(fixture, name="wiring", image=image, workers=workers, deadline=120)
    stop = threading.Event()
    threading.Thread(target=watch_pods, args=(core, namespace, lines, stop), daemon=True).start()
    time.sleep(1)  # the pod watch is established before the job exists
    submitted = time.time()
    custom.create_namespaced_custom_object("kubeflow.org", "v1", namespace, plural, body)
    stream = watch.Watch().stream(custom.list_namespaced_custom_object, "kubeflow.org", "v1", namespace, plural,
                                  timeout_seconds=180)  # fmt: skip
    for event in stream:
        conditions = {c["type"]: c["status"] for c in event["object"].get("status", {}).get("conditions", [])}
        lines.append((time.time(), f"job: {', '.join(f'{k}={v}' for k, v in conditions.items()) or 'no conditions'}"))
        if "True" in (conditions.get("Succeeded"), conditions.get("Failed")):
            break
    time.sleep(1)  # the pods' last changes
    stop.set()
    for pod in core.list_namespaced_pod(namespace).items:
        for status in pod.status.init_container_statuses or []:
            log = core.read_namespaced_pod_log(pod.metadata.name, namespace, container=status.name, timestamps=True)
            lines.extend((_log_time(entry), f"log {pod.metadata.name}/{status.name}: {entry.split(' ', 1)[1]}")
                         for entry in log.splitlines() if " " in entry)  # fmt: skip
    return submitted


def _log_time(entry: str) -> float:
    stamp = entry.split(" ", 1)[0]  # RFC 3339 with nanoseconds, UTC
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return time.mktime(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) - time.timezone + float(f"0.{fraction or 0}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("workers", type=int)
    parser.add_argument("-i", "--image", default="127.0.0.1:5000/busybox:latest")
    args = parser.parse_args()
    config.load_kube_config()
    core = client.CoreV1Api()
    namespace = f"kfcheck-timeline-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": namespace, "labels": {"app.kubernetes.io/managed-by": "kfcheck"}}})
    lines: list[Line] = []
    try:
        deadline = time.monotonic() + 30
        while not core.list_namespaced_service_account(namespace).items and time.monotonic() < deadline:
            time.sleep(0.1)  # a bench, not the suite: the default ServiceAccount appears within a second
        submitted = run(args.kind, args.workers, args.image, namespace, lines)
    finally:
        core.delete_namespace(namespace)
    for moment, line in sorted(lines):
        print(f"{moment - submitted:7.2f}  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
