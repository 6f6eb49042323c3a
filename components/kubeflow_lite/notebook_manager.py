"""Start-up, watches and work queues of the notebook controller (what controller-runtime's manager does
upstream: kubeflow/kubeflow v1.10.0 components/notebook-controller/main.go).

- flags --metrics-addr (default :8080) and --probe-addr (default :8081), main.go:64-65; "0" turns a server
  off. --enable-leader-election (main.go:68, default false, and no manifest of upstream's sets it) is not
  implemented, so it is refused; one replica runs;
- the metrics and probe servers start first (controller-runtime v0.11.0 pkg/manager/internal.go:441-451);
- the culler starts only with ENABLE_CULLING=true (main.go:110-122); an IDLENESS_CHECK_PERIOD that is not an
  integer stops the start (culling_controller.go:430-434, main.go:115-117);
- every custom resource watched must be served: checked every 10 s, and after 2 minutes without it the
  controller exits 1 (controller-runtime v0.11.0 pkg/source/source.go:131-141, pkg/controller/controller.go:
  115-116, pkg/internal/controller/controller.go:196-205) -- with USE_ISTIO=true on a cluster without Istio's
  VirtualService CRD, the controller keeps restarting, as upstream's does;
- watched (notebook_controller.go:713-731): Notebooks, the StatefulSets, Services (and with USE_ISTIO the
  VirtualServices) they own, pods labelled `notebook-name`, events of pods and StatefulSets (deletions
  ignored); a reconcile that fails is retried with backoff (workqueue.py), RequeueAfter honoured.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from kubeflow_lite import notebook_metrics
from kubeflow_lite.notebook_controller import GROUP, PLURAL, VERSION, Controller
from kubeflow_lite.notebook_culling import Culler, CullingSettings
from kubeflow_lite.notebook_istio import ISTIO_GROUP, ISTIO_PLURAL, ISTIO_VERSION
from kubeflow_lite.workqueue import WorkQueue

LOG = logging.getLogger("notebook-controller")
SYNC_TIMEOUT, SYNC_POLL = 120.0, 10.0
Handler = Callable[[str, dict[str, Any]], None]


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="notebook-controller")
    parser.add_argument("--metrics-addr", default=":8080", help="The address the metric endpoint binds to.")
    parser.add_argument("--probe-addr", default=":8081", help="The address the health endpoint binds to.")
    return parser.parse_args(argv)


def served(custom: Any, group: str, version: str, plural: str) -> bool:
    try:
        custom.list_cluster_custom_object(group, version, plural, limit=1, _preload_content=False)
        return True
    except Exception as error:
        LOG.error("%s.%s/%s is not served (%s); if kind is a CRD, it should be installed before calling Start",
                  plural, group, version, getattr(error, "status", error))  # fmt: skip
        return False


def wait_until_served(custom: Any, kinds: list[tuple[str, str, str]], sleep: Callable[[float], None] = time.sleep,
                      clock: Callable[[], float] = time.monotonic) -> bool:  # fmt: skip
    """True once every kind answers a list; False after SYNC_TIMEOUT."""
    deadline = clock() + SYNC_TIMEOUT
    while True:
        if all(served(custom, *kind) for kind in kinds):
            return True
        if clock() + SYNC_POLL > deadline:
            return False
        sleep(SYNC_POLL)


def watch_forever(list_function: Callable[..., Any], handle: Handler, **kwargs: Any) -> None:
    """Calls handle(type, object) for each change; an ended watch is opened again (which lists everything)."""
    from kubernetes import watch

    while True:
        try:
            for change in watch.Watch().stream(list_function, timeout_seconds=60, **kwargs):
                obj = change.get("raw_object") or {}
                if change.get("type") in ("ADDED", "MODIFIED", "DELETED") and obj.get("metadata"):
                    handle(change["type"], obj)
        except Exception:
            LOG.exception("watch of %s ended", getattr(list_function, "__name__", list_function))
            time.sleep(1)


def work(queue: WorkQueue, reconcile: Callable[[Hashable], float | None]) -> None:
    """controller-runtime's reconcileHandler: an error requeues with backoff, RequeueAfter after its time."""
    while True:
        key = queue.get()
        try:
            after = reconcile(key)
            queue.forget(key)
            if after:
                queue.add_after(key, after)
        except Exception as error:
            status = getattr(error, "status", None)
            if status == 409:
                LOG.info("%s: an object changed meanwhile, reconciling again", key)
            elif status is not None:  # an API error: its answer says it all (controller-runtime: "Reconciler error")
                LOG.error("reconciling %s failed: %s %s", key, status, getattr(error, "body", "") or error)
            else:
                LOG.exception("reconciling %s failed", key)
            queue.add_rate_limited(key)
        finally:
            queue.done(key)


def owner_notebook(obj: dict[str, Any]) -> str | None:
    for reference in obj["metadata"].get("ownerReferences") or []:
        if reference.get("kind") == "Notebook" and str(reference.get("apiVersion", "")).startswith(GROUP + "/"):
            return str(reference["name"])
    return None


class EventFilter:
    """predNBEvents (notebook_controller.go:666-688) before anything is read: deletions dropped; a Pod's event
    only when the pod carries `notebook-name` as far as the pod watch knows (upstream's predicate reads its
    cache too); each resourceVersion once, so a watch opened again (listing every event) does not issue them
    all again -- upstream's informer only passes real changes (and its 10-hour resyncs). Whether the Notebook
    exists is checked by Controller.reemit."""

    def __init__(self, queue: WorkQueue) -> None:
        self.queue = queue
        self.seen: dict[str, str] = {}
        self.notebook_pods: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def pod(self, change: str, pod: dict[str, Any]) -> None:
        """From the watch of pods labelled `notebook-name`."""
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        with self.lock:
            if change == "DELETED":
                self.notebook_pods.discard(key)
            else:
                self.notebook_pods.add(key)

    def __call__(self, change: str, event: dict[str, Any]) -> None:
        metadata, involved = event["metadata"], event.get("involvedObject") or {}
        uid = str(metadata.get("uid", ""))
        with self.lock:
            if change == "DELETED":
                self.seen.pop(uid, None)
                return
            if involved.get("kind") == "Pod" and (involved.get("namespace"), involved.get("name")) not in (
                self.notebook_pods
            ):
                return
            version = str(metadata.get("resourceVersion"))
            if self.seen.get(uid) == version:
                return
            self.seen[uid] = version
        self.queue.add(("event", metadata["namespace"], metadata["name"]))


def watches(controller: Controller, queue: WorkQueue, culling: WorkQueue | None) -> list[tuple[Any, Handler, dict]]:
    """What is watched, and into which queue each change goes (the culler watches only Notebooks)."""

    def to_notebook(name: Callable[[dict[str, Any]], str | None], *queues: WorkQueue | None) -> Handler:
        def handle(_change: str, obj: dict[str, Any]) -> None:
            notebook = name(obj)
            for target in queues if notebook else ():
                if target is not None:
                    target.add((obj["metadata"]["namespace"], notebook))

        return handle

    custom, apps, core = controller.custom, controller.apps, controller.core
    events = EventFilter(queue)
    to_notebook_of_pod = to_notebook(lambda o: (o["metadata"].get("labels") or {}).get("notebook-name"), queue)

    def pods(change: str, pod: dict[str, Any]) -> None:
        events.pod(change, pod)
        to_notebook_of_pod(change, pod)

    found: list[tuple[Any, Handler, dict]] = [
        (custom.list_cluster_custom_object, to_notebook(lambda o: o["metadata"]["name"], queue, culling),
         {"group": GROUP, "version": VERSION, "plural": PLURAL}),
        (apps.list_stateful_set_for_all_namespaces, to_notebook(owner_notebook, queue), {}),
        (core.list_service_for_all_namespaces, to_notebook(owner_notebook, queue), {}),
        (core.list_pod_for_all_namespaces, pods, {"label_selector": "notebook-name"}),
        (core.list_event_for_all_namespaces, events, {"field_selector": "involvedObject.kind=Pod"}),
        (core.list_event_for_all_namespaces, events, {"field_selector": "involvedObject.kind=StatefulSet"}),
    ]  # fmt: skip
    if controller.use_istio:
        found.append((custom.list_cluster_custom_object, to_notebook(owner_notebook, queue),
                      {"group": ISTIO_GROUP, "version": ISTIO_VERSION, "plural": ISTIO_PLURAL}))  # fmt: skip
    return found


def start(controller: Controller, culler: Culler | None) -> None:
    """Watches and workers in daemon threads."""
    queue = WorkQueue()
    culling = WorkQueue() if culler is not None else None

    def reconcile(key: Hashable) -> None:
        assert isinstance(key, tuple)
        if key[0] == "event":
            controller.reemit(key[1], key[2])
        else:
            controller.reconcile(key[0], key[1])

    threading.Thread(target=work, args=(queue, reconcile), name="reconcile", daemon=True).start()
    if culler is not None and culling is not None:
        threading.Thread(target=work, args=(culling, lambda key: culler.reconcile(*key)), name="culler",
                         daemon=True).start()  # fmt: skip
    for list_function, handle, kwargs in watches(controller, queue, culling):
        threading.Thread(target=watch_forever, args=(list_function, handle), kwargs=kwargs, daemon=True).start()


def culler_for(controller: Controller) -> Culler | None:
    """main.go:110-122: a culler only with ENABLE_CULLING=true; a bad IDLENESS_CHECK_PERIOD exits 1."""
    if (controller.env.get("ENABLE_CULLING") or "false") != "true":
        LOG.info("Culling of idle Pods is Disabled. To enable it set the ENV Var 'ENABLE_CULLING=true'")
        return None
    try:
        settings = CullingSettings.from_env(controller.env)
    except ValueError as error:
        LOG.error("unable to create controller Culler: %s", error)
        sys.exit(1)
    return Culler(controller.custom, controller.core, controller._get, settings,
                  lambda: datetime.datetime.now(datetime.UTC))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    from kubernetes import config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    options = arguments(sys.argv[1:] if argv is None else argv)
    config.load_incluster_config()
    controller = Controller()
    culler = culler_for(controller)
    notebook_metrics.serve(options.metrics_addr, controller.metrics)
    notebook_metrics.serve(options.probe_addr, None)
    kinds = [(GROUP, VERSION, PLURAL)] + ([(ISTIO_GROUP, ISTIO_VERSION, ISTIO_PLURAL)] if controller.use_istio else [])
    if not wait_until_served(controller.custom, kinds):
        LOG.error("failed to wait for notebook caches to sync: timed out waiting for cache to be synced")
        sys.exit(1)
    start(controller, culler)
    LOG.info("watching Notebooks")
    threading.Event().wait()
