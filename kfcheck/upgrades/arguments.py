"""The radish arguments of each `kfcheck run` the release gate makes from the user's (feature paths, -b, -u,
--tags ...): the full runs leave the in-flight feature (@upgrade) and the Helm upgrade feature (@helm-upgrade)
out; the in-flight runs select only @upgrade and name their phase (-u upgrade_phase=start|after|rollback). The
in-flight runs are never strict (-u strict=true applies to the full runs only): a scenario handing its work over
to the next phase skips its remaining steps by design, with the reason "continues after the upgrade"."""

from __future__ import annotations

LEFT_OUT_OF_FULL_RUNS = "not upgrade and not helm-upgrade"  # radish tag expressions: tag names carry no '@'
IN_FLIGHT_TAGS = "upgrade"
PHASE_KEY = "upgrade_phase"
STRICT_KEY = "strict"
_USER_DATA = ("-u", "--user-data")
_TAGS = ("--tags",)
_SCENARIOS = ("-s", "--scenarios")  # scenario ids of the full runs; they would select no in-flight scenario


def _options(args: list[str], names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(the arguments without the options `names` and their values, those options' values), for `--name VALUE`
    and `--name=VALUE` alike."""
    kept, values = [], []
    index = 0
    while index < len(args):
        argument = args[index]
        name, equals, value = argument.partition("=")
        if name in names and equals:
            values.append(value)
        elif argument in names and index + 1 < len(args):
            values.append(args[index + 1])
            index += 1
        else:
            kept.append(argument)
        index += 1
    return kept, values


def without_separator(args: list[str]) -> list[str]:
    return [argument for argument in args if argument != "--"]


def full_run(args: list[str]) -> list[str]:
    """The user's arguments, with the in-flight and Helm upgrade features left out of their tag expression."""
    kept, tags = _options(without_separator(args), _TAGS)
    expression = " and ".join(f"({tag})" for tag in tags)
    return [*kept, "--tags", f"{expression} and {LEFT_OUT_OF_FULL_RUNS}" if expression else LEFT_OUT_OF_FULL_RUNS]


def in_flight_run(args: list[str], phase: str) -> list[str]:
    """The user's paths, -b, -u and other options (not their --tags or -s): the @upgrade feature in one phase."""
    kept, _ = _options(without_separator(args), _TAGS)
    kept, _ = _options(kept, _SCENARIOS)
    kept, user_data = _options(kept, _USER_DATA)
    user_data = [pair for pair in user_data if pair.partition("=")[0] not in (PHASE_KEY, STRICT_KEY)]
    return [*kept, *(item for pair in user_data for item in ("-u", pair)), "-u", f"{PHASE_KEY}={phase}",
            "--tags", IN_FLIGHT_TAGS]  # fmt: skip


def user_data(args: list[str]) -> dict[str, str]:
    """The -u KEY=VALUE pairs (the runs' settings: kubeconfig, context, namespace ...), the phase left out."""
    _, pairs = _options(without_separator(args), _USER_DATA)
    found = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    found.pop(PHASE_KEY, None)
    return found
