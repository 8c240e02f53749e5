"""Property-based chains of shape ops on a tensor with a dynamic batch ``N``: random
Transpose / Unsqueeze / Squeeze / Flatten / Slice / Concat / Tile / Split and
PyTorch-style ``view`` subgraphs (Shape -> Gather -> Mul -> Concat -> Reshape).  Every
tensor's symbolic shape, substituted, must equal onnxruntime's at two batch sizes."""

from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper
from tensor_cases import F, build, check, const

N = helper.make_node


class Chain:
    """Builds nodes one op at a time, tracking the current tensor's rank only."""

    def __init__(self):
        self.nodes, self.inits, self.rank, self.current, self.count = [], [], 3, "x", 0

    def name(self, stem):
        self.count += 1
        return f"{stem}{self.count}"

    def const(self, values):
        name = self.name("c")
        self.inits.append(const(name, values))
        return name

    def add(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(N(op, inputs, [out], **attrs))
        self.current = out
        return out

    def view_merging(self, axis):
        """``x.view(*x.shape[:axis], x.shape[axis] * x.shape[axis + 1], *rest)`` as exported."""
        source = self.current
        shape = self.add("Shape", [source])
        parts = []
        for i in range(self.rank):
            if i == axis + 1:
                continue
            dim = self.add("Gather", [shape, self.const([i])], axis=0)
            if i == axis:
                nxt = self.add("Gather", [shape, self.const([i + 1])], axis=0)
                dim = self.add("Mul", [dim, nxt])
            parts.append(dim)
        target = self.add("Concat", parts, axis=0)
        self.add("Reshape", [source, target])
        self.rank -= 1


OPS = ("transpose", "unsqueeze", "squeeze", "flatten", "slice", "concat", "tile", "split", "view")


def apply(chain: Chain, op: str, pick: int) -> None:
    rank, cur = chain.rank, chain.current
    if op == "transpose":
        perm = list(range(rank))
        perm[1:] = perm[1:][pick % (rank - 1):] + perm[1:][:pick % (rank - 1)]  # keep N first
        chain.add("Transpose", [cur], perm=perm)
    elif op == "unsqueeze" and rank < 5:
        chain.add("Unsqueeze", [cur, chain.const([1 + pick % rank])])
        chain.rank += 1
    elif op == "squeeze" and rank > 2:
        # squeeze an axis made by unsqueezing it first, so it is a literal 1
        axis = 1 + pick % (rank - 1)
        chain.add("Unsqueeze", [cur, chain.const([axis])])
        chain.add("Squeeze", [chain.current, chain.const([axis])])
    elif op == "flatten" and rank > 2:
        chain.add("Flatten", [cur], axis=1)
        chain.add("Unsqueeze", [chain.current, chain.const([2])])  # back to rank 3
        chain.rank = 3
    elif op == "slice":
        axis = 1 + pick % (rank - 1)
        # the last one or two elements: never an empty axis (onnxruntime refuses to
        # Reshape a zero-size tensor to a non-empty target, so a chain would fail there)
        start = -(1 + pick % 2)
        chain.add("Slice", [cur, chain.const([start]), chain.const([2 ** 63 - 1]), chain.const([axis])])
    elif op == "concat":
        chain.add("Concat", [cur, cur], axis=pick % rank)
    elif op == "tile":
        chain.add("Tile", [cur, chain.const([1 + (i == pick % rank) for i in range(rank)])])
    elif op == "split":
        axis = pick % rank
        chain.add("Concat", [cur, cur], axis=axis)  # an even axis to split in halves
        chain.add("Split", [chain.current], axis=axis, num_outputs=2)
        chain.nodes[-1].output.append(chain.name("other"))
    elif op == "view" and rank > 2:
        chain.view_merging(pick % (rank - 1))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 7)), min_size=1, max_size=6))
def test_random_shape_chains_match_ort_with_a_dynamic_batch(steps):
    chain = Chain()
    for op, pick in steps:
        apply(chain, op, pick)
    if not chain.nodes:
        return
    model = build(chain.nodes, [("x", F, ["N", 2, 3])], chain.inits, opset=18, outputs=[chain.current])
    for n in (2, 5):
        report = check(model, {"N": n})
    assert all(t.shape is not None for node in report.nodes for t in node.outputs)
