"""API requests per minute of one long wait, before and after issue 25 ("one real watch per wait").

A Job whose pod runs `sleep SECONDS` is waited on as the suite waits for training (the job's condition, its
pods by label, Warning events, progress every 30 s), once with the wait of a clean clone of the commit before
(`--old-tree`, the flat layout: kfcheck/wait.py) and once with this checkout's (kfcheck/core/wait.py), back to
back, between two quiet minutes (no wait at all). Counted two ways:

- on the server: `apiserver_request_total` from the API server's /metrics (admin kubeconfig), summed over all
  labels and per verb, before and after each run: every client's requests (controllers, kubelet, others);
- in the client: every request the waiting process sent (wrapped kubernetes RESTClientObject.request).

    ~/.cache/kfcheck/venv/bin/python bench/wait_requests.py all --old-tree /tmp/v21 [--seconds 300] [--quiet 60]

A namespace of its own (label app.kubernetes.io/managed-by=kfcheck) is made and deleted. Needs the running
cluster (make up). Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from kubernetes import client, config

REPO = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("KFCHECK_STATE", Path.home() / ".local/state/kfcheck"))
KUBECONFIG = os.environ.get("KUBECONFIG", str(STATE / "kubeconfig"))
IMAGE = "127.0.0.1:5000/busybox:latest"
_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")


def connect(kubeconfig: str) -> Any:
    """What both waits use of the suite's Kube (api, core, apps, custom), plus batch for the Job."""
    api = config.new_client_from_config(config_file=kubeconfig)
    return SimpleNamespace(api=api, core=client.CoreV1Api(api), apps=client.AppsV1Api(api),
                           custom=client.CustomObjectsApi(api), batch=client.BatchV1Api(api), dynamic=None)  # fmt: skip


def server_requests(api: client.ApiClient) -> Counter[str]:
    """apiserver_request_total now, summed per verb (and under "all")."""
    response = api.call_api("/metrics", "GET", auth_settings=["BearerToken"], _preload_content=False)[0]
    totals: Counter[str] = Counter()
    for line in response.data.decode().splitlines():
        sample = _SAMPLE.match(line)
        if sample:
            verb = re.search(r'verb="([^"]*)"', sample["labels"])
            value = int(float(sample["value"]))
            totals[verb.group(1) if verb else "?"] += value
            totals["all"] += value
    return totals


def count_client_requests(api: client.ApiClient) -> Counter[str]:
    """Counts every request the client sends from now on, by kind: WATCH, LOG (a pod's log), or the method."""
    counted: Counter[str] = Counter()
    rest = api.rest_client
    send = rest.request

    def request(method: str, url: str, query_params: Any = None, *args: Any, **kwargs: Any) -> Any:
        watch = any(key == "watch" and str(value).lower() == "true" for key, value in query_params or [])
        counted["WATCH" if watch else "LOG" if url.split("?")[0].endswith("/log") else method] += 1
        counted["all"] += 1
        return send(method, url, query_params, *args, **kwargs)

    rest.request = request
    return counted


def job(name: str, seconds: int) -> dict[str, Any]:
    command = ["sh", "-c", f"echo started; sleep {seconds}; echo done"]
    template = {"metadata": {"annotations": {"sidecar.istio.io/inject": "false"}},
                "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "main", "image": IMAGE, "command": command}]}}  # fmt: skip
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": 0, "template": template}}  # fmt: skip


def the_wait(code: str, kube: Any, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    """The training wait of `code`: the old flat kfcheck.wait.wait_for as jobs.wait_succeeded called it, or
    kfcheck.core.wait.until as it calls it now."""

    def complete(found: dict[str, Any]) -> bool:
        return any(c.get("type") == "Complete" and c.get("status") == "True"
                   for c in (found.get("status") or {}).get("conditions") or [])  # fmt: skip

    def failed(found: dict[str, Any]) -> str | None:
        return "the Job failed" if (found.get("status") or {}).get("failed") else None

    what, selector = f"Job {namespace}/{name} to complete", f"job-name={name}"
    if code == "before":
        old = importlib.import_module("kfcheck.wait")
        found: dict[str, Any] = old.wait_for(kube, what, kube.batch.list_namespaced_job, namespace, name,
                                             done=complete, failed=failed, timeout=timeout,
                                             progress=old.Progress(selector), owned=lambda _name: True)  # fmt: skip
        return found
    new = importlib.import_module("kfcheck.core.wait")
    description = new.Wait(what, new.Target(kube.batch.list_namespaced_job, namespace, name), complete, timeout,
                           failed, new.Pods.labelled(selector), progress=True)  # fmt: skip
    found = new.until(kube, description)
    return found


def measure_wait(code: str, namespace: str, seconds: int, kubeconfig: str) -> dict[str, Any]:
    """One Job of `seconds` waited on; the requests counted while the wait ran (its watches closed)."""
    kube = connect(kubeconfig)
    wait_module = importlib.import_module("kfcheck.wait" if code == "before" else "kfcheck.core.wait")
    name = f"sleeper-{code}"
    kube.batch.create_namespaced_job(namespace, job(name, seconds))
    before, started = server_requests(kube.api), time.monotonic()
    counted = count_client_requests(kube.api)
    found = the_wait(code, kube, namespace, name, timeout=seconds + 300)
    took, sent = time.monotonic() - started, dict(counted)
    time.sleep(2)  # the server counts a watch when it ends: the wait's last watches were just closed
    after = server_requests(kube.api)
    succeeded = found["status"].get("succeeded")
    return {"code": code, "module": wait_module.__file__, "seconds": took, "succeeded": succeeded,
            "server": dict(after - before), "client": sent}  # fmt: skip


def measure_quiet(seconds: int, kubeconfig: str) -> dict[str, Any]:
    kube = connect(kubeconfig)
    before, started = server_requests(kube.api), time.monotonic()
    time.sleep(seconds)
    after = server_requests(kube.api)
    return {"code": "quiet", "seconds": time.monotonic() - started, "server": dict(after - before), "client": {}}


def run_child(arguments: list[str], tree: Path) -> dict[str, Any]:
    """This script run by the venv's python with `tree` first on sys.path (and as its working directory); its
    output passed on, its last line (JSON) returned."""
    env = {**os.environ, "PYTHONPATH": str(tree), "KUBECONFIG": KUBECONFIG}
    argv = [sys.executable, str(Path(__file__).resolve()), *arguments]
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(arguments)} failed ({done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def per_minute(result: dict[str, Any], side: str, key: str = "all") -> str:
    count = int(result[side].get(key, 0))
    return f"{count} ({count * 60 / result['seconds']:.1f}/min)"


def table(results: list[dict[str, Any]]) -> str:
    verbs = sorted({verb for r in results for verb in r["server"] if verb != "all"},
                   key=lambda verb: -max(int(r["server"].get(verb, 0)) for r in results))  # fmt: skip
    kinds = sorted({kind for r in results for kind in r["client"] if kind != "all"})
    lines = ["| run | minutes | server: all verbs | " + " | ".join(f"server: {v}" for v in verbs[:5])
             + " | client: all | " + " | ".join(f"client: {k}" for k in kinds) + " |"]  # fmt: skip
    lines.append("|" + "---|" * (4 + len(verbs[:5]) + len(kinds)))
    for r in results:
        cells = [r["code"], f"{r['seconds'] / 60:.2f}", per_minute(r, "server")]
        cells += [per_minute(r, "server", verb) for verb in verbs[:5]]
        cells += [per_minute(r, "client") if r["client"] else "-"]
        cells += [per_minute(r, "client", kind) if r["client"] else "-" for kind in kinds]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_all(seconds: int, quiet: int, old_tree: Path) -> list[dict[str, Any]]:
    """Quiet, before, after, quiet: back to back, in a namespace of this run's own."""
    kube = connect(KUBECONFIG)
    namespace = f"kfcheck-bench-wait-{secrets.token_hex(3)}"
    labels = {"app.kubernetes.io/managed-by": "kfcheck", "kfcheck/bench": "wait-requests"}
    kube.core.create_namespace({"metadata": {"name": namespace, "labels": labels}})
    try:
        while not kube.core.list_namespaced_service_account(namespace, field_selector="metadata.name=default").items:
            time.sleep(0.5)  # pods are refused until the namespace's default ServiceAccount exists
        common = ["--namespace", namespace, "--seconds", str(seconds)]
        results = [run_child(["quiet", "--seconds", str(quiet)], REPO)]
        results.append(run_child(["run", "--code", "before", *common], old_tree))
        results.append(run_child(["run", "--code", "after", *common], REPO))
        results.append(run_child(["quiet", "--seconds", str(quiet)], REPO))
    finally:
        kube.core.delete_namespace(namespace)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["all", "run", "quiet"])
    parser.add_argument("--seconds", type=int, default=300, help="the Job's sleep (all, run); the quiet time (quiet)")
    parser.add_argument("--quiet", type=int, default=60, help="seconds of each quiet measurement (all)")
    parser.add_argument("--code", choices=["before", "after"], default="after")
    parser.add_argument("--namespace", default="")
    parser.add_argument("--old-tree", type=Path, help="a clean clone of the commit before (all)")
    args = parser.parse_args()
    if args.command == "run":
        print(json.dumps(measure_wait(args.code, args.namespace, args.seconds, KUBECONFIG)))
    elif args.command == "quiet":
        print(json.dumps(measure_quiet(args.seconds, KUBECONFIG)))
    elif args.old_tree is None or not (args.old_tree / "kfcheck" / "wait.py").exists():
        parser.error("all needs --old-tree: a clone of the commit before, with its kfcheck/wait.py")
    else:
        results = run_all(args.seconds, args.quiet, args.old_tree)
        print(json.dumps(results))
        print(table(results))


if __name__ == "__main__":
    main()
