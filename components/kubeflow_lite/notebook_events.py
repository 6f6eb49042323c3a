"""Events of a Notebook's pod and StatefulSet, issued again on the Notebook.

Upstream: kubeflow/kubeflow v1.10.0 components/notebook-controller/controllers/notebook_controller.go
(nc.go) 93-118 (Reconcile: an Event found under the request's name is re-emitted), 614-642
(isStsOrPodEvent, nbNameFromInvolvedObject), 644-650 (nbNameExists), 666-688 (predNBEvents), 721-724 (the
Event watch); main.go:104 (the recorder `notebook-controller`). The recorder is client-go v0.23.0's
(tools/record/event.go, events_cache.go), as controller-runtime v0.11.0's manager makes it. Read, not copied.

- which events: those whose involvedObject is a Pod (the Notebook is the pod's label `notebook-name`; the pod
  is read for it, so events of a pod that is gone are dropped) or a StatefulSet (the Notebook is named like
  it), when that Notebook exists; on creation and on every update of the event (the kubelet's count bumps),
  never on deletion;
- what: an event on the Notebook with the same type and reason and the message
  `Reissued from <kind in lower case>/<name>: <message>`, source component `notebook-controller`,
  involvedObject the Notebook as kubeflow.org/v1beta1 (the version the controller reads);
- de-duplication (client-go's EventCorrelator): the same event again (same source, object, type, reason and
  message) PATCHes count+1 and lastTimestamp of the first one instead of creating another; 10 distinct
  messages for the same object, type and reason within 600 s turn into one event `(combined from similar
  events): <message>`; per Notebook 25 events at once, then one every 300 s (a token bucket), the rest
  dropped. The caches hold 4096 keys each, least recently used out.
"""

from __future__ import annotations

import collections
import datetime
import logging
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("notebook-controller")
COMPONENT = "notebook-controller"
CACHE_SIZE = 4096
AGGREGATE_MAX_EVENTS, AGGREGATE_INTERVAL = 10, 600.0
SPAM_BURST, SPAM_QPS = 25, 1.0 / 300.0
VALID_TYPES = ("Normal", "Warning")


def reissued_message(event: dict[str, Any]) -> str:
    involved = event.get("involvedObject") or {}
    kind, name = str(involved.get("kind", "")).lower(), involved.get("name", "")
    return f"Reissued from {kind}/{name}: {event.get('message', '')}"


def is_pod_or_stateful_set_event(event: dict[str, Any]) -> bool:
    return (event.get("involvedObject") or {}).get("kind") in ("Pod", "StatefulSet")


def notebook_name_for(event: dict[str, Any], read_pod: Callable[[str, str], dict[str, Any] | None]) -> str | None:
    """nc.go:618-642: the StatefulSet's name, or the `notebook-name` label of the pod (read now); None when
    the event belongs to neither (or the pod is gone). read_pod(name, namespace) -> pod or None."""
    involved = event.get("involvedObject") or {}
    if involved.get("kind") == "StatefulSet":
        return str(involved.get("name", ""))
    if involved.get("kind") == "Pod":
        pod = read_pod(involved.get("name", ""), involved.get("namespace", ""))
        labels = ((pod or {}).get("metadata") or {}).get("labels") or {}
        if "notebook-name" in labels:
            return str(labels["notebook-name"])
    return None


def notebook_reference(notebook: dict[str, Any]) -> dict[str, Any]:
    metadata = notebook["metadata"]
    reference = {"kind": "Notebook", "namespace": metadata["namespace"], "name": metadata["name"],
                 "uid": metadata.get("uid", ""), "apiVersion": "kubeflow.org/v1beta1"}  # fmt: skip
    if metadata.get("resourceVersion"):
        reference["resourceVersion"] = metadata["resourceVersion"]
    return reference


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Lru(collections.OrderedDict[str, Any]):
    def get_touch(self, key: str) -> Any:
        if key not in self:
            return None
        self.move_to_end(key)
        return self[key]

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > CACHE_SIZE:
            self.popitem(last=False)


class EventRecorder:
    """Writes events as client-go's recorder with its default correlator. sink has create(namespace, body)
    and patch(namespace, name, body), both returning the stored event (raise an error with .status on
    failure). clock() -> aware datetime."""

    def __init__(self, sink: Any, clock: Callable[[], datetime.datetime]) -> None:
        self.sink, self.clock = sink, clock
        self.aggregates, self.observed, self.buckets = _Lru(), _Lru(), _Lru()
        self.last_name = 0

    def _name(self, involved_name: str, now: datetime.datetime) -> str:
        """`<object name>.<UnixNano in hex>` (event.go:374); kept unique when the clock gives the same instant
        twice (ours has microseconds, Go's nanoseconds)."""
        self.last_name = max(_nanos(now), self.last_name + 1)
        return f"{involved_name}.{self.last_name:x}"

    @staticmethod
    def _object_key(event: dict[str, Any]) -> str:
        involved = event["involvedObject"]
        return "".join([event["source"]["component"], "", involved["kind"], involved["namespace"], involved["name"],
                        involved["uid"], involved["apiVersion"]])  # fmt: skip

    def _event_key(self, event: dict[str, Any]) -> str:  # events_cache.go:53-67 (fieldPath is always empty here)
        return self._object_key(event) + event["type"] + event["reason"] + event["message"]

    def _aggregate(self, event: dict[str, Any], now: datetime.datetime) -> tuple[dict[str, Any], str]:
        """events_cache.go:242-301: the event itself, or a combined one past 10 distinct messages."""
        group = self._object_key(event) + event["type"] + event["reason"]
        record = self.aggregates.get_touch(group)
        if record is None or (now - record[1]).total_seconds() > AGGREGATE_INTERVAL:
            record = (set(), now)
        messages: set[str] = record[0]
        messages.add(event["message"])
        self.aggregates.put(group, (messages, now))
        if len(messages) < AGGREGATE_MAX_EVENTS:
            return event, self._event_key(event)
        messages.pop()
        name = self._name(event["involvedObject"]["name"], now)
        combined = {**event, "message": "(combined from similar events): " + event["message"],
                    "metadata": {**event["metadata"], "name": name}}  # fmt: skip
        return combined, group

    def _spam_filtered(self, event: dict[str, Any], now: datetime.datetime) -> bool:
        """events_cache.go:129-157: a token bucket (burst 25, one token per 300 s) per source and object."""
        key = self._object_key(event)
        tokens, last = self.buckets.get_touch(key) or (float(SPAM_BURST), now)
        tokens = min(float(SPAM_BURST), tokens + (now - last).total_seconds() * SPAM_QPS)
        allowed = tokens >= 1.0
        self.buckets.put(key, (tokens - 1.0 if allowed else tokens, now))
        return not allowed

    def event(self, notebook: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        if event_type not in VALID_TYPES:  # record.util.ValidateEventType: the event is not reported
            LOG.error("unsupported event type %r", event_type)
            return
        now = self.clock()
        event: dict[str, Any] = {
            "metadata": {"name": self._name(notebook["metadata"]["name"], now),
                         "namespace": notebook["metadata"]["namespace"]},
            "involvedObject": notebook_reference(notebook), "reason": reason, "message": message,
            "firstTimestamp": _rfc3339(now), "lastTimestamp": _rfc3339(now), "count": 1, "type": event_type,
            "source": {"component": COMPONENT},
        }  # fmt: skip
        event, key = self._aggregate(event, now)
        seen = self.observed.get_touch(key)
        if seen is not None:  # events_cache.go:327-371: the first one's name, count+1
            event = {**event, "metadata": {**event["metadata"], "name": seen["name"]},
                     "firstTimestamp": seen["firstTimestamp"], "count": seen["count"] + 1}  # fmt: skip
        self.observed.put(key, {"name": event["metadata"]["name"], "firstTimestamp": event["firstTimestamp"],
                                "count": event["count"]})  # fmt: skip
        if self._spam_filtered(event, now):
            return
        self._write(event, key, update=event["count"] > 1)

    def _write(self, event: dict[str, Any], key: str, update: bool) -> None:
        """event.go:238-259: PATCH count, lastTimestamp and message of the first one, or create (also when
        the first one is gone); what the server returns becomes the cache's state."""
        namespace = event["metadata"]["namespace"]
        stored = None
        try:
            if update:
                try:
                    patch = {key: event[key] for key in ("count", "lastTimestamp", "message")}
                    stored = self.sink.patch(namespace, event["metadata"]["name"], patch)
                except Exception as error:
                    if getattr(error, "status", None) != 404:
                        raise
            if stored is None:
                stored = self.sink.create(namespace, event)
        except Exception:  # client-go retries transport errors 12 times in its broadcaster; we report and go on
            LOG.exception("unable to write event %s", event["metadata"]["name"])
            return
        self.observed.put(key, {"name": stored["metadata"]["name"], "firstTimestamp": stored.get("firstTimestamp"),
                                "count": stored.get("count", 1)})  # fmt: skip


def _nanos(moment: datetime.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000
