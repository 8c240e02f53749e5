"""Budgets: limits a CI job puts on a model's figures, or on how much a change may add.

Grammar (docs/diff.md)::

    budget        := METRIC [ "@" BINDINGS ] "<=" LIMIT            (onnxinspect MODEL --budget ...)
    max_increase  := METRIC [ "@" BINDINGS ] "=" ( LIMIT | NUMBER "%" )   (onnxinspect diff --max-increase ...)
    BINDINGS      := SYMBOL "=" INT { "," SYMBOL "=" INT }
    LIMIT         := NUMBER [ UNIT ]      counts: K M G T (powers of 1000)
                                          bytes:  B KB MB GB TB (1000) KiB MiB GiB TiB (1024)

METRIC is a figure of :func:`onnxinspect.diff.figures_of`: nodes, params, unique_params,
param_bytes, bytes[<dtype>], flops, macs, peak_memory, activation_bytes.  A symbolic
figure is evaluated at the budget's bindings, then at the command's ``--dim``
bindings; one still symbolic after that is a usage error, like an unknown metric or
unit.  :func:`check_budgets` / :func:`check_increases` return one :class:`Failure`
per budget exceeded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .diff import FIGURES, Diff, evaluate, figures_of, relative_change, symbols_of
from .dims import Dim, format_count, is_int, sub
from .errors import UsageError

COUNT_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
BYTE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
BUDGET_EXIT = 3   # a budget failed (the same status as --check's conflicts)

_LIMIT = re.compile(r"^(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>[A-Za-z]*)$")


@dataclass
class Budget:
    """One parsed ``--budget`` or ``--max-increase``."""

    text: str                         # as given, for the messages
    kind: str                         # "budget" (--budget) | "increase" (--max-increase)
    metric: str
    unit: str                         # the metric's unit: "count" | "bytes"
    bindings: Dict[str, int] = field(default_factory=dict)
    limit: Optional[int] = None       # an absolute limit (count or bytes)
    percent: Optional[float] = None   # a relative limit (--max-increase only)
    limit_text: str = ""

    @property
    def label(self) -> str:
        binds = ",".join(f"{k}={v}" for k, v in self.bindings.items())
        return f"{self.metric}@{binds}" if binds else self.metric


@dataclass
class Failure:
    budget: Budget
    figure: Dim            # the value (or the increase) that broke the limit
    excess: Dim            # by how much
    relative: Optional[float] = None   # --max-increase: the relative increase

    @property
    def line(self) -> str:
        """One line: the figure, the limit, the excess."""
        b = self.budget
        fmt = _format_bytes if b.unit == "bytes" else format_count
        if self.figure is None:
            return f"{b.label} is unknown (some node's size or cost is unknown); limit {b.limit_text}"
        if b.kind == "budget":
            return (f"{b.label} = {fmt(self.figure)}; limit {b.limit_text} ({fmt(b.limit)}); "
                    f"over by {fmt(self.excess)}")
        if b.percent is not None:
            change = "from 0" if self.relative is None else f"{100 * self.relative:+.2f}%"
            over = "" if self.relative is None else f"; over by {100 * self.relative - b.percent:.2f} points"
            return f"{b.label} increased by {_signed(fmt, self.figure)} ({change}); limit +{b.percent:g}%{over}"
        return (f"{b.label} increased by {_signed(fmt, self.figure)}; limit +{fmt(b.limit)}; "
                f"over by {fmt(self.excess)}")


def _format_bytes(d: Dim) -> str:
    return f"{format_count(d)} B"


def _signed(fmt: Any, d: Dim) -> str:
    text = str(fmt(d))
    return text if text.startswith("-") else "+" + text


def _metric_unit(metric: str, option: str, spec: str) -> str:
    if metric in FIGURES:
        return FIGURES[metric]
    if re.fullmatch(r"bytes\[[A-Za-z0-9_]+\]", metric):
        return "bytes"
    known = ", ".join(list(FIGURES) + ["bytes[<dtype>]"])
    raise UsageError(f"{option} {spec!r}: unknown metric {metric!r} (one of {known})")


def _bindings(text: Optional[str], option: str, spec: str) -> Dict[str, int]:
    out: Dict[str, int] = {}
    if not text:
        return out
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            if not sep or not name or not name.replace("_", "a").isalnum():
                raise ValueError
            out[name] = int(value)
        except ValueError:
            raise UsageError(f"{option} {spec!r}: expected @SYMBOL=INT[,SYMBOL=INT...] "
                             f"(e.g. flops@N=1<=4G)") from None
    return out


def _limit(text: str, unit: str, option: str, spec: str) -> int:
    m = _LIMIT.match(text.strip())
    if m is None:
        raise UsageError(f"{option} {spec!r}: {text!r} is not a number with an optional unit (e.g. 8M, 64MiB)")
    units = BYTE_UNITS if unit == "bytes" else COUNT_UNITS
    suffix = m.group("unit")
    factor = units.get(suffix)
    if factor is None and unit == "count" and suffix in ("k",):
        factor = 1000
    if factor is None:
        names = ", ".join(u for u in units if u)
        raise UsageError(f"{option} {spec!r}: unit {suffix!r} does not fit a {unit} figure (use {names})")
    value = float(m.group("number")) * factor
    return int(round(value))


def parse_budget(spec: str) -> Budget:
    """``params<=8M``, ``flops@N=1<=4G``, ``peak_memory@N=1<=64MiB``."""
    option = "--budget"
    left, sep, right = spec.partition("<=")
    if not sep or not left.strip() or not right.strip():
        raise UsageError(f"{option} {spec!r}: expected METRIC[@SYMBOL=INT,...]<=LIMIT (e.g. params<=8M)")
    metric, binds = _split_metric(left.strip(), option, spec)
    unit = _metric_unit(metric, option, spec)
    return Budget(spec, "budget", metric, unit, _bindings(binds, option, spec), _limit(right, unit, option, spec),
                  limit_text=right.strip())


def parse_increase(spec: str) -> Budget:
    """``flops=5%``, ``params=0``, ``peak_memory@N=1=1MiB``."""
    option = "--max-increase"
    left, sep, right = spec.rpartition("=")
    if not sep or not left.strip() or not right.strip():
        raise UsageError(f"{option} {spec!r}: expected METRIC[@SYMBOL=INT,...]=LIMIT or =PERCENT% "
                         f"(e.g. flops=5%)")
    metric, binds = _split_metric(left.strip(), option, spec)
    unit = _metric_unit(metric, option, spec)
    budget = Budget(spec, "increase", metric, unit, _bindings(binds, option, spec), limit_text=right.strip())
    text = right.strip()
    if text.endswith("%"):
        try:
            budget.percent = float(text[:-1])
        except ValueError:
            raise UsageError(f"{option} {spec!r}: {text!r} is not a percentage (e.g. 5%)") from None
        if budget.percent < 0:
            raise UsageError(f"{option} {spec!r}: a negative percentage")
    else:
        budget.limit = _limit(text, unit, option, spec)
    return budget


def _split_metric(text: str, option: str, spec: str) -> tuple[str, Optional[str]]:
    metric, _, binds = text.partition("@")
    metric = metric.strip()
    if not re.fullmatch(r"[A-Za-z_]+(?:\[[A-Za-z0-9_]+\])?", metric):
        raise UsageError(f"{option} {spec!r}: {metric!r} is not a metric name")
    return metric, binds if "@" in text else None


def _bound(value: Dim, budget: Budget, bindings: Mapping[str, int], what: str) -> Dim:
    """``value`` at the budget's bindings over the command's; a usage error if a symbol is left."""
    binds = {**bindings, **budget.bindings}
    result = evaluate(value, binds)
    left = symbols_of(result)
    if left:
        example = ",".join(f"{s}=1" for s in left)
        raise UsageError(f"budget {budget.text!r}: {what} {value} depends on {', '.join(left)}; "
                         f"bind it ({budget.metric}@{example} or --dim {left[0]}=1)")
    return result


def check_budgets(report: Mapping[str, Any], budgets: Sequence[Budget],
                  bindings: Optional[Mapping[str, int]] = None) -> List[Failure]:
    """The budgets a report dict ("onnxinspect/1") breaks."""
    figures = figures_of(report)
    failures = []
    for budget in budgets:
        if budget.limit is None:
            raise UsageError(f"budget {budget.text!r}: expected METRIC<=LIMIT")
        value, _ = figures.get(budget.metric, (0, budget.unit))  # a dtype the model lacks holds 0 bytes
        if value is None:
            failures.append(Failure(budget, None, None))
            continue
        value = _bound(value, budget, bindings or {}, budget.metric)
        assert is_int(value)
        if value > budget.limit:
            failures.append(Failure(budget, value, value - budget.limit))
    return failures


def check_increases(diff: Diff, budgets: Sequence[Budget],
                    bindings: Optional[Mapping[str, int]] = None) -> List[Failure]:
    """The --max-increase limits the change from ``diff``'s first model to its second breaks."""
    binds = dict(diff.bindings)
    binds.update(bindings or {})
    names = {f.name: f for f in diff.figures}
    failures = []
    for budget in budgets:
        figure = names.get(budget.metric)
        if figure is None:
            if budget.metric.startswith("bytes["):
                continue    # neither model holds that dtype: no increase
            raise UsageError(f"--max-increase {budget.text!r}: no {budget.metric} figure in the diff")
        if figure.before is None or figure.after is None:
            failures.append(Failure(budget, None, None))
            continue
        if budget.percent is not None:
            relative = relative_change(figure.before, figure.after)
            delta: Dim = figure.delta
            if relative is None and figure.before != 0:
                before = _bound(figure.before, budget, binds, f"the first model's {budget.metric}")
                after = _bound(figure.after, budget, binds, f"the second model's {budget.metric}")
                relative, delta = relative_change(before, after), sub(after, before)
            elif not is_int(delta):
                delta = evaluate(delta, {**binds, **budget.bindings})
            if relative is None:   # from 0 to something
                if figure.after != 0:
                    failures.append(Failure(budget, delta, delta, None))
            elif relative * 100 > budget.percent + 1e-9:
                failures.append(Failure(budget, delta, None, relative))
        else:
            assert budget.limit is not None
            delta = _bound(figure.delta, budget, binds, f"the increase in {budget.metric}")
            assert is_int(delta)
            if delta > budget.limit:
                failures.append(Failure(budget, delta, delta - budget.limit,
                                        relative_change(figure.before, figure.after)))
    return failures


__all__ = ["BUDGET_EXIT", "Budget", "Failure", "check_budgets", "check_increases", "parse_budget",
           "parse_increase"]
