"""``(domain, op_type)`` -> shape/cost rule.  Each family module registers its ops here.

A rule is a function ``rule(ctx: NodeContext) -> None`` that reads the node's inputs
from ``ctx`` and calls ``ctx.set_output``.  ``meta_inputs`` names the input slots that
carry shapes, axes, indices, pads or sizes: constants there are never parameters.
``generator`` marks ops that make a constant weight out of a constant shape
(ConstantOfShape, RandomNormal, ...): their outputs count as parameters where consumed.
``scalar_literals`` marks arithmetic ops whose 0-d (or one-element, broadcast) constant
operands are literals (an epsilon, a scale, a loop counter's ``+ 1``), not learned weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, FrozenSet, Iterable, Optional, Tuple, TypeVar

if TYPE_CHECKING:
    from .context import NodeContext

STANDARD_DOMAINS = ("", "ai.onnx")

Rule = Callable[["NodeContext"], None]
_RuleT = TypeVar("_RuleT", bound=Rule)


@dataclass(frozen=True)
class OpRule:
    domain: str
    op_type: str
    infer: Rule
    meta_inputs: FrozenSet[int] = frozenset()
    generator: bool = False
    scalar_literals: bool = False


_RULES: Dict[Tuple[str, str], OpRule] = {}


def normal_domain(domain: str) -> str:
    return "" if domain in STANDARD_DOMAINS else domain


def register(*op_types: str, domain: str = "", meta_inputs: Iterable[int] = (),
             generator: bool = False, scalar_literals: bool = False) -> Callable[[_RuleT], _RuleT]:
    """Decorator registering ``fn`` as the rule for ``op_types`` in ``domain``."""
    def wrap(fn: _RuleT) -> _RuleT:
        for op_type in op_types:
            key = (normal_domain(domain), op_type)
            if key in _RULES:
                raise ValueError(f"duplicate rule for {domain or 'ai.onnx'}::{op_type}")
            _RULES[key] = OpRule(key[0], op_type, fn, frozenset(meta_inputs), generator,
                                  scalar_literals)
        return fn
    return wrap


def lookup(domain: str, op_type: str) -> Optional[OpRule]:
    return _RULES.get((normal_domain(domain), op_type))


def registered_ops() -> Dict[Tuple[str, str], OpRule]:
    """A copy of the table, for listing what the inspector knows."""
    return dict(_RULES)
