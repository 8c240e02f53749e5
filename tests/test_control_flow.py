"""If / Loop / Scan: shapes checked against onnxruntime runs and onnx.shape_inference,
parameters and costs against hand counts of the bodies."""

import numpy as np
import pytest
from onnx import AttributeProto, TensorProto, helper, numpy_helper
from truth import make_model, onnx_shapes, ort_shapes, our_shapes, random_feeds

from onnxinspect import InspectError, inspect_model
from onnxinspect.report import iter_nodes

F = TensorProto.FLOAT


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def graph(nodes, inputs, outputs, initializers=(), name="body"):
    return helper.make_graph(nodes, name, [helper.make_tensor_value_info(*i) for i in inputs],
                             [helper.make_tensor_value_info(*o) for o in outputs], list(initializers))


def compatible(ours, actual):
    """Our shape fits the actual one: same rank, every known dim equal."""
    return ours is not None and len(ours) == len(actual) and all(
        o is None or o == a for o, a in zip(ours, actual, strict=True))


def if_model(cond_initializer=None):
    rng = np.random.default_rng(0)
    then = graph([helper.make_node("Add", ["x", "Wt"], ["t_out"], name="then_add"),
                  helper.make_node("Mul", ["x", "Ws"], ["t_wide"], name="then_mul"),
                  helper.make_node("Relu", ["x"], ["t_extra"], name="then_relu")],
                 [], [("t_out", F, None), ("t_wide", F, None)],
                 [init("Wt", rng.standard_normal((2, 3)).astype(np.float32))], "then")
    other = graph([helper.make_node("Sub", ["x", "Ws"], ["e_out"], name="else_sub"),
                   helper.make_node("ReduceSum", ["x", "axes"], ["e_narrow"], keepdims=1, name="else_sum")],
                  [], [("e_out", F, None), ("e_narrow", F, None)], name="else")
    inits = [init("Ws", rng.standard_normal((2, 3)).astype(np.float32)), init("axes", np.array([1]))]
    inputs = [("x", F, [2, 3])]
    if cond_initializer is None:
        inputs.append(("c", TensorProto.BOOL, []))
    else:
        inits.append(init("c", np.array(cond_initializer)))
    node = helper.make_node("If", ["c"], ["out", "side"], then_branch=then, else_branch=other, name="if")
    return make_model([node], inputs, [("out", F, None), ("side", F, None)], inits, opset=17)


def test_if_merges_branches_and_matches_every_ort_run():
    model = if_model()
    report = inspect_model(model)
    ours = our_shapes(report)
    assert ours["out"] == (2, 3)
    for cond in (True, False):
        feeds = random_feeds(model, {"x": (2, 3), "c": ()})
        feeds["c"] = np.array(cond)
        actual = ort_shapes(model, feeds)
        assert ours["out"] == actual["out"]
        assert ours["side"][0] == actual["side"][0] and actual["side"][1] <= 3
    # 3 in one branch, 1 in the other: which branch runs decides, a symbol at most 3
    assert ours["side"] == (2, "if_0")
    assert [(d.symbol, d.op_type, d.bound) for d in report.data_dependent] == [("if_0", "If", 3)]
    assert onnx_shapes(model)["out"] == ours["out"]


@pytest.mark.parametrize("cond", [True, False])
def test_if_with_constant_condition_takes_that_branch(cond):
    model = if_model(cond_initializer=cond)
    report = inspect_model(model)
    actual = ort_shapes(model, random_feeds(model, {"x": (2, 3)}))
    assert our_shapes(report) == actual
    node = report.node("if")
    taken = node.subgraphs["then_branch" if cond else "else_branch"]
    assert node.flops == sum(n.flops for n in taken)
    assert report.totals.flops == node.flops


def test_if_params_counted_in_branches_and_outer_weight_once():
    report = inspect_model(if_model())
    node = report.node("if")
    assert set(node.subgraphs) == {"then_branch", "else_branch"}
    by_name = {n.name: n for n in iter_nodes(report.nodes)}
    assert by_name["then_add"].params == 6       # body initializer Wt
    assert by_name["then_mul"].params == 6       # outer Ws, captured
    assert by_name["else_sub"].params == 6       # outer Ws again
    assert by_name["else_sum"].params == 0       # axes: a meta input
    assert report.totals.params == 18
    assert report.totals.unique_params == 12     # Wt + Ws once
    assert "Ws" in by_name["then_mul"].shared_params and "Ws" in by_name["else_sub"].shared_params
    # Different branch costs and an unknown condition: the If's cost is unknown, not a guess.
    assert node.flops is None and report.totals.flops is None


def loop_model(trip, body_nodes, carried, scans, cond_out="cond_in", inits=(), extra_inputs=()):
    """A Loop over ``carried`` (name, body output, initial shape) values."""
    body = graph(body_nodes, [("i", TensorProto.INT64, []), ("cond_in", TensorProto.BOOL, [])]
                 + [(n, F, None) for n, _, _ in carried],
                 [(cond_out, TensorProto.BOOL, [])] + [(o, F, None) for _, o, _ in carried]
                 + [(s, F, None) for s in scans])
    outs = [f"final_{n}" for n, _, _ in carried] + [f"scan_{s}" for s in scans]
    node = helper.make_node("Loop", ["M", "cond", *[f"init_{n}" for n, _, _ in carried]], outs,
                            body=body, name="loop")
    inits = [init("M", np.array(trip, dtype=np.int64)), init("cond", np.array(True))] + list(inits)
    inputs = [(f"init_{n}", F, shape) for n, _, shape in carried] + list(extra_inputs)
    return make_model([node], inputs, [(o, F, None) for o in outs], inits, opset=17)


def test_loop_carried_and_scan_outputs_match_ort():
    w = init("W", np.ones((2, 3), np.float32))
    model = loop_model(5, [helper.make_node("Add", ["x", "W"], ["x_next"], name="body_add"),
                           helper.make_node("Identity", ["x_next"], ["x_seen"], name="body_id"),
                           helper.make_node("Identity", ["cond_in"], ["cond_out"])],
                       [("x", "x_next", [2, 3])], ["x_seen"], cond_out="cond_out", inits=[w])
    report = inspect_model(model)
    actual = ort_shapes(model, random_feeds(model, {"init_x": (2, 3)}))
    assert our_shapes(report) == actual == {"final_x": (2, 3), "scan_x_seen": (5, 2, 3)}
    by_name = {n.name: n for n in iter_nodes(report.nodes)}
    assert by_name["body_add"].params == 6 and report.totals.unique_params == 6
    # Condition passed through unchanged: exactly M passes, each one Add of 2·3 elements.
    assert report.node("loop").flops == 5 * 2 * 3 == report.totals.flops


def test_loop_growing_carried_dim_becomes_unknown():
    model = loop_model(4, [helper.make_node("Concat", ["v", "x"], ["v_next"], axis=0, name="grow")],
                       [("v", "v_next", [1, 3])], [], extra_inputs=[("x", F, [1, 3])])
    report = inspect_model(model)
    actual = ort_shapes(model, random_feeds(model, {"init_v": (1, 3), "x": (1, 3)}))
    ours = our_shapes(report)["final_v"]
    assert actual["final_v"] == (5, 3)
    assert ours == (None, 3) and compatible(ours, actual["final_v"])


def test_loop_condition_on_the_iteration_number_is_counted():
    three = init("three", np.array(3, dtype=np.int64))
    model = loop_model(10, [helper.make_node("Less", ["i", "three"], ["go_on"]),
                            helper.make_node("Neg", ["x"], ["x_next"]),
                            helper.make_node("Identity", ["x_next"], ["x_seen"])],
                       [("x", "x_next", [4])], ["x_seen"], cond_out="go_on", inits=[three])
    report = inspect_model(model)
    actual = ort_shapes(model, random_feeds(model, {"init_x": (4,)}))
    assert actual["scan_x_seen"] == (4, 4)     # stopped by the body's condition, not M
    assert our_shapes(report) == actual
    assert report.node("loop").flops == 4 * (1 + 4)   # Less + Neg per pass


def test_loop_with_a_data_dependent_condition_has_a_trip_count_symbol():
    zero = init("zero", np.array(0, dtype=np.float32))
    model = loop_model(10, [helper.make_node("Neg", ["x"], ["x_next"]),
                            helper.make_node("ReduceSum", ["x_next"], ["total"], keepdims=0),
                            helper.make_node("Greater", ["total", "zero"], ["go_on"]),
                            helper.make_node("Identity", ["x_next"], ["x_seen"])],
                       [("x", "x_next", [4])], ["x_seen"], cond_out="go_on", inits=[zero])
    report = inspect_model(model)
    actual = ort_shapes(model, random_feeds(model, {"init_x": (4,)}))
    ours = our_shapes(report)
    assert ours["scan_x_seen"] == ("loop_0", 4) and actual["scan_x_seen"][1:] == (4,)
    [trips] = report.data_dependent
    assert (trips.symbol, trips.node, trips.bound) == ("loop_0", "loop", 10)   # at most M passes
    assert str(report.node("loop").flops) == "9*loop_0"   # Neg 4 + ReduceSum 4 + Greater 1 per pass
    assert 1 <= actual["scan_x_seen"][0] <= trips.bound


def test_loop_trip_count_from_a_symbolic_dim():
    shape = helper.make_node("Shape", ["x"], ["x_shape"])
    first = helper.make_node("Gather", ["x_shape", "zero"], ["n"], axis=0)
    body = graph([helper.make_node("Relu", ["x"], ["r"], name="relu")],
                 [("i", TensorProto.INT64, []), ("c", TensorProto.BOOL, [])],
                 [("c", TensorProto.BOOL, []), ("r", F, None)])
    loop = helper.make_node("Loop", ["n", ""], ["ys"], body=body, name="loop")
    model = make_model([shape, first, loop], [("x", F, ["N", 3])], [("ys", F, None)],
                       [init("zero", np.array(0, dtype=np.int64))], opset=17)
    report = inspect_model(model)
    assert our_shapes(report)["ys"] is None or our_shapes(report)["ys"][1:] == ("N", 3)
    actual = ort_shapes(model, random_feeds(model, {"x": (4, 3)}))
    assert actual["ys"] == (4, 4, 3)
    report4 = inspect_model(model, dims={"N": 4})
    assert our_shapes(report4)["ys"] == actual["ys"]


def scan_model(directions=(0,)):
    body = graph([helper.make_node("Add", ["acc", "row"], ["acc_next"], name="acc_add"),
                  helper.make_node("Mul", ["acc_next", "scale"], ["scaled"], name="scale_mul")],
                 [("acc", F, None), ("row", F, None)], [("acc_next", F, None), ("scaled", F, None)])
    node = helper.make_node("Scan", ["acc0", "xs"], ["acc_final", "ys"], body=body, num_scan_inputs=1,
                            scan_input_axes=[1], scan_output_axes=[-1],
                            scan_input_directions=list(directions), name="scan")
    scale = init("scale", np.full((2, 3), 0.5, np.float32))
    return make_model([node], [("acc0", F, [2, 3]), ("xs", F, [2, 5, 3])],
                      [("acc_final", F, None), ("ys", F, None)], [scale], opset=17)


@pytest.mark.parametrize("directions", [(0,), (1,)])
def test_scan_axes_and_directions_match_ort(directions):
    model = scan_model(directions)
    report = inspect_model(model)
    actual = ort_shapes(model, random_feeds(model, {"acc0": (2, 3), "xs": (2, 5, 3)}))
    assert our_shapes(report) == actual == {"acc_final": (2, 3), "ys": (2, 3, 5)}
    inferred = onnx_shapes(model)
    assert inferred["ys"] == (2, 3, 5)
    assert report.node("scan").flops == 5 * (6 + 6)          # length × (Add + Mul)
    assert report.totals.params == 6                            # the captured scale, in the body


def test_nested_body_sees_every_enclosing_scope():
    inner = graph([helper.make_node("Add", ["x", "W"], ["inner_out"], name="deep_add")],
                  [], [("inner_out", F, None)], name="inner")
    outer_then = graph([helper.make_node("If", ["c"], ["mid_out"], then_branch=inner, else_branch=inner,
                                         name="inner_if")], [], [("mid_out", F, None)], name="mid")
    node = helper.make_node("If", ["c"], ["out"], then_branch=outer_then, else_branch=outer_then, name="if")
    model = make_model([helper.make_node("Relu", ["x0"], ["x"]), node],
                       [("x0", F, [4, 5]), ("c", TensorProto.BOOL, [])], [("out", F, None)],
                       [init("W", np.ones((4, 5), np.float32))], opset=17)
    report = inspect_model(model)
    feeds = random_feeds(model, {"x0": (4, 5), "c": ()})
    assert our_shapes(report)["out"] == ort_shapes(model, feeds)["out"] == (4, 5)
    adds = [n for n in iter_nodes(report.nodes) if n.name == "deep_add"]
    assert len(adds) == 4 and all(n.params == 20 for n in adds)
    assert report.totals.unique_params == 20


def nested_ifs(depth):
    """``depth`` Ifs, each in the then-branch of the last, built in place: protobuf's
    parser refuses such nesting from bytes, but an in-memory ModelProto can hold it."""
    model = make_model([], [("x", F, [1]), ("c", TensorProto.BOOL, [])], [("out", F, None)], opset=17)
    graph_, out = model.graph, "out"
    for level in range(depth):
        node = graph_.node.add(op_type="If", input=["c"], output=[out])
        leaf = node.attribute.add(name="else_branch", type=AttributeProto.GRAPH).g
        leaf.node.add(op_type="Identity", input=["x"], output=[f"e{level}"])
        leaf.output.add(name=f"e{level}")
        graph_ = node.attribute.add(name="then_branch", type=AttributeProto.GRAPH).g
        out = f"t{level}"
        graph_.output.add(name=out)
    graph_.node.add(op_type="Identity", input=["x"], output=[out])
    return model


def test_nesting_is_walked_to_the_depth_guard_then_a_clear_error():
    report = inspect_model(nested_ifs(30))
    assert our_shapes(report)["out"] == (1,)
    with pytest.raises(InspectError, match="nested more than 64 levels"):
        inspect_model(nested_ifs(100))


def test_table_nests_body_rows_under_their_node():
    from onnxinspect.render.table import render_table

    report = inspect_model(if_model())
    lines = render_table(report).splitlines()
    names = [line.split()[0] if line.strip() else "" for line in lines]
    start = next(i for i, line in enumerate(lines) if line.startswith("0  if"))
    assert lines[start + 1].strip() == "[then_branch]"
    body = [n.name for n in report.node("if").subgraphs["then_branch"]]
    assert [lines[start + 2 + i].split()[0] for i in range(len(body))] == body
    assert all(lines[start + 2 + i].startswith("       ") for i in range(len(body)))
    assert "[else_branch]" in names
    assert any("weight shared" in line for line in lines)   # Ws, used in both branches


def test_body_warnings_reported_once_per_loop():
    body = graph([helper.make_node("NoSuchOp", ["x"], ["x_next"], domain="custom.fn")],
                 [("i", TensorProto.INT64, []), ("c", TensorProto.BOOL, []), ("x", F, None)],
                 [("c", TensorProto.BOOL, []), ("x_next", F, None)])
    model = make_model([helper.make_node("Loop", ["", "", "x0"], ["x_final"], body=body)],
                       [("x0", F, [3])], [("x_final", F, None)], opset=17, domains={"custom.fn": 1})
    report = inspect_model(model)
    assert sum("NoSuchOp" in w for w in report.warnings) == 1
    assert our_shapes(report)["x_final"] is None


def test_scan8_batched_with_sequence_lens_slot_matches_ort():
    body = graph([helper.make_node("Add", ["acc", "row"], ["acc_next"]),
                  helper.make_node("Identity", ["acc_next"], ["seen"])],
                 [("acc", F, None), ("row", F, None)], [("acc_next", F, None), ("seen", F, None)])
    node = helper.make_node("Scan", ["", "acc0", "xs"], ["acc_final", "ys"], body=body, num_scan_inputs=1,
                            name="scan")
    model = make_model([node], [("acc0", F, [2, 3]), ("xs", F, [2, 7, 3])],
                       [("acc_final", F, None), ("ys", F, None)], opset=8)
    report = inspect_model(model)
    actual = ort_shapes(model, random_feeds(model, {"acc0": (2, 3), "xs": (2, 7, 3)}))
    assert our_shapes(report) == actual == {"acc_final": (2, 3), "ys": (2, 7, 3)}
    assert report.node("scan").flops == 2 * 7 * 3          # batch × length × one Add of 3


def _reference_cases():
    from onnx.backend.test.case import node as node_cases

    with np.errstate(all="ignore"):
        cases = node_cases.collect_testcases(None)
    return [c for c in cases if c.data_sets and (
        {n.op_type for n in c.model.graph.node} & {"If", "Loop", "Scan"} or c.model.functions)]


def test_onnx_reference_cases_with_control_flow_or_functions():
    """The onnx package's own node test cases (model + reference outputs computed by its
    reference implementation): our output shapes must fit every reference output."""
    cases = _reference_cases()
    assert len(cases) > 20
    for case in cases:
        report = inspect_model(case.model)
        for mine, value in zip([t.shape for t in report.outputs], case.data_sets[0][1], strict=True):
            if isinstance(value, (list, dict)):
                continue  # a sequence or map output: no tensor shape
            truth = np.asarray(value).shape
            assert compatible(mine if mine is None else tuple(d if isinstance(d, int) else None for d in mine),
                              truth), case.name


def counter_loop(limit, m=2**63 - 1):
    """tf2onnx's while_loop: a counter carried from 0, condition ``i + 1 < limit``, M huge."""
    i64 = TensorProto.INT64
    body = graph([helper.make_node("Add", ["k", "one"], ["k_next"]),
                  helper.make_node("Less", ["k_next", "limit"], ["go_on"]),
                  helper.make_node("Relu", ["x"], ["x_next"], name="relu"),
                  helper.make_node("Identity", ["x_next"], ["x_seen"])],
                 [("i", i64, []), ("c", TensorProto.BOOL, []), ("k", i64, []), ("x", F, None)],
                 [("go_on", TensorProto.BOOL, []), ("k_next", i64, []), ("x_next", F, None), ("x_seen", F, None)],
                 [init("one", np.array(1, np.int64)), init("limit", np.array(limit, np.int64))])
    node = helper.make_node("Loop", ["M", "cond", "k0", "x0"], ["k_final", "x_final", "xs"], body=body, name="loop")
    return make_model([node], [("x0", F, [2, 3])], [("k_final", i64, None), ("x_final", F, None), ("xs", F, None)],
                      [init("M", np.array(m, np.int64)), init("cond", np.array(True)),
                       init("k0", np.array(0, np.int64))], opset=17)


@pytest.mark.parametrize("limit,m", [(3, 2**63 - 1), (7, 4), (1, 10)])
def test_loop_counter_condition_gives_an_exact_trip_count(limit, m):
    model = counter_loop(limit, m)
    report = inspect_model(model)
    actual = ort_shapes(model, random_feeds(model, {"x0": (2, 3)}))
    assert our_shapes(report) == actual
    passes = actual["xs"][0]
    assert report.node("loop").flops == passes * (1 + 1 + 6)     # Add + Less + Relu of 2·3
