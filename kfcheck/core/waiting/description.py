"""What one wait is: the object, when it is done, when it has failed, how long to wait, and its pods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


def never_failed(_obj: Obj) -> str | None:
    return None


def everything(_name: str) -> bool:
    return True


@dataclass(frozen=True)
class Target:
    """One object. `list_function(namespace, **kwargs)` lists its kind (a typed client's list_namespaced_*, or a
    lister of custom objects): the source of its list and watch, selected by `name`."""

    list_function: Callable[..., Any]
    namespace: str
    name: str


@dataclass(frozen=True)
class Pods:
    """The pods that belong to the waited object, and whose Warning events are its own. Their visible causes (an
    image that cannot be pulled, a crash loop, a pod that cannot be scheduled, a controller that keeps failing to
    create them) end the wait at once.

    `selector`: the label selector of its pods (a training job's operator labels, a JobSet's, a Notebook's), so a
    shared namespace's other pods are never read; None: the object is itself the pod. `owned`: which pods, and
    which objects' Warning events (by the involved object's name), are the wait's: in a shared namespace the
    scenario's own (events carry no labels; they are told apart by name)."""

    selector: str | None = None
    owned: Callable[[str], bool] = everything

    @classmethod
    def labelled(cls, selector: str, owned: Callable[[str], bool] = everything) -> Pods:
        return cls(selector, owned)

    @classmethod
    def the_object(cls, owned: Callable[[str], bool] = everything) -> Pods:
        return cls(None, owned)


@dataclass(frozen=True)
class Wait:
    """One wait: until `done(obj)` holds (the object is returned), `failed(obj)` gives a message (the wait ends
    with it), its pods show a cause, or `timeout` seconds pass (the wait ends with what was seen last).

    `pods`: None for an object without pods (then no pod or event is watched). `exists`: the object is known to
    exist already, so finding it gone ends the wait at once. `progress`: print how the wait goes every 30 s."""

    what: str
    target: Target
    done: Callable[[Obj], bool]
    timeout: float
    failed: Callable[[Obj], str | None] = never_failed
    pods: Pods | None = None
    exists: bool = False
    progress: bool = False
