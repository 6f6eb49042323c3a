"""Reads the results the training images print."""

from __future__ import annotations

import re

_PYTORCH_PROGRESS = re.compile(r"^Train Epoch: \d+ \[\d+/\d+ \(\d+%\)\] loss=\d+\.\d+$", re.MULTILINE)
_KEY_VALUE = re.compile(r"(\w+)=(\S+)")


class MetricsMissing(AssertionError):
    pass


def last_line_with(log: str, key: str) -> str:
    lines = [line for line in log.splitlines() if line.startswith(f"{key}=") or f" {key}=" in line]
    if not lines:
        tail = "\n".join(log.splitlines()[-15:])
        raise MetricsMissing(f"the log has no '{key}=' line; its last lines:\n{tail}")
    return lines[-1]


def metrics(line: str) -> dict[str, str]:
    return dict(_KEY_VALUE.findall(line))


def check_pytorch_accuracy(log: str, minimum: float, who: str) -> float:
    """The test accuracy the PyTorch program printed (after its progress lines), at least `minimum`."""
    assert pytorch_progress_lines(log), f"{who} printed no 'Train Epoch:' progress lines"
    accuracy = pytorch_accuracy(log)
    assert accuracy >= minimum, f"accuracy {accuracy:.4f} is below {minimum:.4f} (measured on {data_description(log)})"
    return accuracy


def pytorch_accuracy(log: str) -> float:
    return float(metrics(last_line_with(log, "accuracy"))["accuracy"])


def pytorch_progress_lines(log: str) -> list[str]:
    return _PYTORCH_PROGRESS.findall(log)


def data_description(log: str) -> str:
    return last_line_with(log, "data").split("data=", 1)[1]


def tensorflow_results(log: str) -> dict[str, float]:
    values = metrics(last_line_with(log, "validation_cross_entropy"))
    return {"cross_entropy": float(values["validation_cross_entropy"]), "accuracy": float(values["accuracy"])}
