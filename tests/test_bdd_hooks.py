"""The table of every radish hook and its order (kfcheck.bdd.hooks): what it documents, and the order radish
calls the hooks in, with radish's own extension hooks (order 100, registered first) among them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from radish.hookregistry import HookRegistry

from kfcheck.bdd import hooks
from kfcheck.bdd.recording import recorded_hook


@pytest.fixture
def registry() -> Iterator[HookRegistry]:
    """radish's registry (a singleton), emptied for the test and given back afterwards."""
    registry = HookRegistry()
    saved = registry._hooks
    registry.reset()
    yield registry
    registry._hooks = saved


def radish_extension(*_args: Any) -> None:
    """Stands in for radish's own hooks (console, cucumber JSON and JUnit writers): order 100, registered first."""


def configure(features: list[Any], marker: Any) -> None: ...


@recorded_hook("before", "start")
def start_scenario(scenario: Any) -> None: ...


def attach_evidence(step: Any) -> None: ...


@recorded_hook("after", "clean up")
def finish_scenario(scenario: Any) -> None: ...


def finish(features: list[Any], marker: Any) -> None: ...


TERRAIN = hooks.Terrain(configure, start_scenario, attach_evidence, finish_scenario, finish)

# The order radish called the suite's hooks in before they were one table (orders 0/99/100/101/200/-1 in three
# files), read from HookRegistry.call's sort: the table must keep it.
ORDER_BEFORE_THE_TABLE = {
    ("before", "all"): ["radish_extension", "configure", "start_sampling", "start_recording"],
    ("after", "all"): ["stop_sampling", "radish_extension", "finish", "finish_recording",
                       "fail_the_run_on_a_failed_cleanup"],
    ("before", "each_scenario"): ["record_scenario_start", "note_start", "radish_extension", "start_scenario"],
    ("after", "each_scenario"): ["read_namespace", "radish_extension", "finish_scenario", "attach_tables",
                                 "record_scenario_end"],
    ("before", "each_step"): ["record_step_start", "radish_extension"],
    ("after", "each_step"): ["radish_extension", "attach_evidence", "record_step_end"],
}  # fmt: skip


def called_in_order(registry: HookRegistry, when: str, what: str) -> list[str]:
    entries = sorted(registry.hooks[what][when], key=lambda entry: entry[0], reverse=when == "after")
    return [function.__name__ for _order, _tags, function in entries]


def test_radish_calls_the_hooks_in_the_order_they_had_before_the_table(registry: HookRegistry) -> None:
    for what in ("all", "each_scenario", "each_step"):
        for when in ("before", "after"):
            registry.register(when, what, radish_extension)
    hooks.register(TERRAIN)
    found = {key: called_in_order(registry, *key) for key in ORDER_BEFORE_THE_TABLE}
    assert found == ORDER_BEFORE_THE_TABLE


def test_the_module_docstring_shows_the_table() -> None:
    assert hooks.__doc__ is not None
    assert hooks.describe() in hooks.__doc__


def test_no_two_hooks_of_a_kind_share_an_order() -> None:
    keys = [(hook.when, hook.what, hook.order) for hook in hooks.HOOKS]
    assert len(keys) == len(set(keys))


def test_registering_twice_registers_each_hook_once(registry: HookRegistry) -> None:
    hooks.register(TERRAIN)
    hooks.register(TERRAIN)
    count = sum(len(entries) for kinds in registry.hooks.values() for entries in kinds.values())
    assert count == len(hooks.HOOKS)


def test_without_a_terrain_only_the_shared_plumbing_is_registered(registry: HookRegistry) -> None:
    registered = hooks.register()
    assert registered and all(not isinstance(hook.function, str) for hook in registered)
    assert {hook.name() for hook in hooks.HOOKS} - {hook.name() for hook in registered} == {
        "terrain.configure", "terrain.start_scenario", "terrain.attach_evidence", "terrain.finish_scenario",
        "terrain.finish",
    }  # fmt: skip


def test_a_scenario_hook_that_the_reports_would_miss_is_refused(registry: HookRegistry) -> None:
    def unrecorded(scenario: Any) -> None: ...

    with pytest.raises(ValueError, match=r"terrain\.start_scenario"):
        hooks.register(hooks.Terrain(configure, unrecorded, attach_evidence, finish_scenario))
    with pytest.raises(ValueError, match=r"terrain\.finish_scenario"):
        hooks.register(hooks.Terrain(configure, start_scenario, attach_evidence, start_scenario))
    assert not any(entries for kinds in registry.hooks.values() for entries in kinds.values())
