"""Operator rules, one module per family; importing this package registers them all.

To add an operator, write its rule in the family module it belongs to (or a new
module listed here) with ``@register("OpType")``.
"""

# Not sorted: the import order is the registration order, which registered_ops() lists.
from . import (  # noqa: F401, I001
    elementwise,
    conv,
    constants,
    shape,
    gather,
    resize,
    reduce,
    tensor,
    pool,
    norm,
    linalg,
    quant,
    control_flow,
    contrib,
    contrib_quant,
    contrib_llm,
    contrib_search,
    recurrent,
    misc,
    attention,
    sequence,
    ml,
    signal,
    loss,
    text,
    llm,
    image,
)
from .registry import OpRule, lookup, register, registered_ops  # noqa: F401
