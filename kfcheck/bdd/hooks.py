"""Every radish hook of the suite and its order, in one table (HOOKS), registered by register(): radish/terrain.py
calls it once with its own hooks (a Terrain); the demo suite (tests/radish_fixtures/steps) does the same.

radish 0.18 calls the `before` hooks of a kind (all, each_scenario, each_step) by ascending order and the `after`
hooks by descending order (radish/hookregistry.py, HookRegistry.call: one sort by order, reversed for `after`).
Hooks of equal order run in the order they were registered, `after` hooks too (Python's sort stays stable when
reversed). radish's own extensions (console output, its cucumber JSON and JUnit writers, its time recorder) have
the default order 100 and are registered before radish imports the suite's files, so at 100 they run before the
suite's hooks, in both directions. No two rows share a kind and an order: the numbers alone order the suite's hooks.

`terrain.<name>` is the hook of that name the terrain supplies (Terrain); the others are the plumbing every suite
shares: kfcheck.bdd.recording (the run as Cucumber Messages) and kfcheck.bdd.timing_tables (where each scenario's
time went). "hook step" marks a hook recorded as a hook step of each test case (recording.recorded_hook).

when   what          order  hook                                       why
before all             100  terrain.configure                          settings, connection, preflight: a run that
                                                                       cannot start is refused; what served each API
before all             101  timing_tables.start_sampling               samples the kubelet over configure's connection
before all             200  recording.start_recording                  once the suite let the run start (a refused start
                                                                       is recorded by support.refuse_start)
before each_scenario     0  recording.record_scenario_start            first: every hook of a scenario is in its test
                                                                       case
before each_scenario    99  timing_tables.note_start                   before the namespace is made: its making counts
before each_scenario   100  terrain.start_scenario                     hook step: the scenario's namespace, or why it is
                                                                       skipped
before each_step         0  recording.record_step_start                first
after  each_step       100  terrain.attach_evidence                    evidence of a failed step, API outages ridden out
after  each_step         0  recording.record_step_end                  after the evidence is attached
after  each_scenario   101  timing_tables.read_namespace               reads the namespace before the cleanup deletes it
after  each_scenario   100  terrain.finish_scenario                    hook step: the cleanup; a failed one fails the
                                                                       run
after  each_scenario    99  timing_tables.attach_tables                hook step: after the cleanup, so its time counts
after  each_scenario     0  recording.record_scenario_end              last: after every hook step
after  all             101  timing_tables.stop_sampling                first: stops sampling before reports are written
after  all               1  terrain.finish                             after radish's writers (100), whose cucumber JSON
                                                                       it normalises; sweeps leftovers
after  all               0  recording.finish_recording                 after every other hook of the suite
after  all              -1  recording.fail_the_run_on_a_failed_cleanup last, when every report is written: radish's exit
                                                                       code ignores failed hooks
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from radish import after, before
from radish.hookregistry import HookRegistry

from kfcheck.bdd import recording, timing_tables

RunHook = Callable[[list[Any], Any], None]  # (features, marker)
ModelHook = Callable[[Any], None]  # a scenario or a step


@dataclass(frozen=True)
class Terrain:
    """The hooks a suite's terrain supplies to the table; its scenario hooks are recording.recorded_hook's."""

    configure: RunHook
    start_scenario: ModelHook
    attach_evidence: ModelHook
    finish_scenario: ModelHook
    finish: RunHook | None = None


@dataclass(frozen=True)
class Hook:
    when: Literal["before", "after"]
    what: Literal["all", "each_scenario", "each_step"]
    order: int
    function: Callable[..., None] | str  # a str names the Terrain's hook of that name
    why: str
    step: bool = False  # recorded as a hook step of each test case (recording.recorded_hook)

    def resolve(self, terrain: Terrain | None) -> Callable[..., None] | None:
        """The function radish calls for this row; None for a terrain's row without that terrain's hook."""
        if isinstance(self.function, str):
            return getattr(terrain, self.function) if terrain is not None else None
        return self.function

    def name(self) -> str:
        if isinstance(self.function, str):
            return f"terrain.{self.function}"
        return f"{self.function.__module__.rsplit('.', 1)[-1]}.{self.function.__name__}"


HOOKS = (
    Hook("before", "all", 100, "configure", "settings, connection, preflight: a run that cannot start is refused; "
         "what served each API"),
    Hook("before", "all", 101, timing_tables.start_sampling, "samples the kubelet over configure's connection"),
    Hook("before", "all", 200, recording.start_recording, "once the suite let the run start (a refused start is "
         "recorded by support.refuse_start)"),
    Hook("before", "each_scenario", 0, recording.record_scenario_start, "first: every hook of a scenario is in its "
         "test case"),
    Hook("before", "each_scenario", 99, timing_tables.note_start, "before the namespace is made: its making counts"),
    Hook("before", "each_scenario", 100, "start_scenario", "hook step: the scenario's namespace, or why it is "
         "skipped", step=True),
    Hook("before", "each_step", 0, recording.record_step_start, "first"),
    Hook("after", "each_step", 100, "attach_evidence", "evidence of a failed step, API outages ridden out"),
    Hook("after", "each_step", 0, recording.record_step_end, "after the evidence is attached"),
    Hook("after", "each_scenario", 101, timing_tables.read_namespace, "reads the namespace before the cleanup "
         "deletes it"),
    Hook("after", "each_scenario", 100, "finish_scenario", "hook step: the cleanup; a failed one fails the run",
         step=True),
    Hook("after", "each_scenario", 99, timing_tables.attach_tables, "hook step: after the cleanup, so its time "
         "counts", step=True),
    Hook("after", "each_scenario", 0, recording.record_scenario_end, "last: after every hook step"),
    Hook("after", "all", 101, timing_tables.stop_sampling, "first: stops sampling before reports are written"),
    Hook("after", "all", 1, "finish", "after radish's writers (100), whose cucumber JSON it normalises; sweeps "
         "leftovers"),
    Hook("after", "all", 0, recording.finish_recording, "after every other hook of the suite"),
    Hook("after", "all", -1, recording.fail_the_run_on_a_failed_cleanup, "last, when every report is written: "
         "radish's exit code ignores failed hooks"),
)  # fmt: skip


def register(terrain: Terrain | None = None) -> list[Hook]:
    """Registers every row of HOOKS with radish, in the table's order: the terrain's rows with the terrain's hooks
    (none without a terrain), each function once however often this is called. Nothing is registered when a
    row's hook is not recorded as the table says (ValueError). Returns the rows registered."""
    rows = [(hook, function) for hook in HOOKS if (function := hook.resolve(terrain)) is not None]
    for hook, function in rows:
        recorded = recording.recorded_as(function)
        if hook.step != (recorded is not None) or (recorded is not None and recorded.when != hook.when):
            must = f"a recording.recorded_hook('{hook.when}', ...)" if hook.step else "no recorded hook"
            raise ValueError(f"{hook.name()} ({function.__name__}) must be {must}: it is {recorded}")
    registry = HookRegistry()
    for hook, function in rows:
        if not any(known is function for _order, _tags, known in registry.hooks[hook.what][hook.when]):
            getattr(before if hook.when == "before" else after, hook.what)(order=hook.order)(function)
    return [hook for hook, _function in rows]


WHY_COLUMN = 71


def describe(rows: Iterable[Hook] = HOOKS) -> str:
    """The table as the module's docstring shows it."""
    lines = [f"{'when':<6} {'what':<13} {'order':>5}  {'hook':<42} why"]
    for hook in rows:
        why = textwrap.wrap(hook.why, 120 - WHY_COLUMN)
        lines.append(f"{hook.when:<6} {hook.what:<13} {hook.order:>5}  {hook.name():<42} {why[0]}")
        lines += [" " * WHY_COLUMN + more for more in why[1:]]
    return "\n".join(lines)
