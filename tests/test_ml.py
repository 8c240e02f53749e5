"""ai.onnx.ml rules on scikit-learn models converted by skl2onnx.

Truths: every output shape is onnxruntime's actual output shape on a seeded batch; every
parameter count comes from the fitted estimator's own arrays (``coef_``, ``tree_``,
``support_vectors_``, ...), following what skl2onnx writes, never from the ONNX attributes.
"""

import re

import numpy as np
import onnx
import pytest
import skl2onnx
from click.testing import CliRunner
from onnx import TensorProto, helper
from skl2onnx.common.data_types import DictionaryType, FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.feature_extraction import DictVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Binarizer, LabelEncoder, Normalizer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC, SVR
from truth import ort_shapes, ort_values

from onnxinspect import inspect_model
from onnxinspect.cli import main

N = 7   # the batch onnxruntime runs


def classification(n_classes, seed=0):
    X, y = make_classification(n_samples=60, n_features=4, n_informative=3, n_redundant=0,
                               n_classes=n_classes, random_state=seed)
    return X.astype(np.float32), y


def regression(seed=0):
    X, y = make_regression(n_samples=60, n_features=4, random_state=seed)
    return X.astype(np.float32), y


def convert(estimator, X, **options):
    return skl2onnx.to_onnx(estimator, X[:1], options=options or None)


def check_shapes(model, feeds):
    """Inspect ``model`` with the feeds' shapes; every node output equals onnxruntime's."""
    report = inspect_model(model, inputs={k: list(v.shape) for k, v in feeds.items() if hasattr(v, "shape")})
    truth = ort_shapes(model, feeds)
    compared = 0
    for node in report.nodes:
        for out in node.outputs:
            if out.kind == "tensor" and out.name in truth:
                assert out.shape == truth[out.name], (node.op_type, out.name)
                compared += 1
    assert compared >= 1
    assert not report.warnings, report.warnings
    return report


def ml_node(report, op_type):
    return next(n for n in report.nodes if n.op_type == op_type)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_regression(n_classes):
    X, y = classification(n_classes)
    lr = LogisticRegression().fit(X, y)
    report = check_shapes(convert(lr, X, zipmap=False), {"X": X[:N]})
    own = lr.coef_.size + lr.intercept_.size
    # skl2onnx writes a binary model as two rows, -w and w (and -b, b)
    assert report.totals.params == (2 * own if n_classes == 2 else own)
    assert report.totals.params_by_dtype == {"float32": report.totals.params}
    assert report.totals.param_bytes == 4 * report.totals.params
    node = ml_node(report, "LinearClassifier")
    assert node.outputs[0].dtype == "int64"
    assert node.macs == N * X.shape[1] * max(n_classes, 2)


def test_string_labels():
    X, y = classification(3)
    lr = LogisticRegression().fit(X, np.array(["ant", "bee", "cat"])[y])
    report = check_shapes(convert(lr, X, zipmap=False), {"X": X[:N]})
    assert ml_node(report, "LinearClassifier").outputs[0].dtype == "string"


def test_linear_regression():
    X, y = regression()
    lin = LinearRegression().fit(X, y)
    report = check_shapes(convert(lin, X), {"X": X[:N]})
    assert report.totals.params == lin.coef_.size + np.size(lin.intercept_)


def tree_counts(trees):
    """(internal nodes, leaves) summed over sklearn trees."""
    internal = sum(int((t.tree_.children_left != -1).sum()) for t in trees)
    return internal, sum(t.tree_.node_count for t in trees) - internal


def tree_depth_sum(trees):
    return sum(t.tree_.max_depth for t in trees)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_random_forest(n_classes):
    X, y = classification(n_classes)
    rf = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    report = check_shapes(convert(rf, X, zipmap=False), {"X": X[:N]})
    internal, leaves = tree_counts(rf.estimators_)
    # one threshold per internal node; per leaf one weight per class (binary: one)
    assert report.totals.params == internal + leaves * (n_classes if n_classes > 2 else 1)
    node = ml_node(report, "TreeEnsembleClassifier")
    assert node.flops == N * (tree_depth_sum(rf.estimators_) + 3 * n_classes)


def test_gradient_boosting_regressor():
    X, y = regression()
    gb = GradientBoostingRegressor(n_estimators=3, max_depth=2, random_state=0).fit(X, y)
    report = check_shapes(convert(gb, X), {"X": X[:N]})
    trees = gb.estimators_.ravel()
    internal, leaves = tree_counts(trees)
    # thresholds, one value per leaf, and the initial prediction as the base value
    assert report.totals.params == internal + leaves + 1
    node = ml_node(report, "TreeEnsembleRegressor")
    assert node.flops == N * (tree_depth_sum(trees) + 3)
    held = {p["name"]: p["count"] for p in node.to_dict()["attribute_params"]}
    assert held == {"TreeEnsembleRegressor.nodes_values": internal, "TreeEnsembleRegressor.target_weights": leaves,
                    "TreeEnsembleRegressor.base_values": 1}


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_svc(n_classes):
    X, y = classification(n_classes)
    svc = SVC(probability=False).fit(X, y)
    report = check_shapes(convert(svc, X, zipmap=False), {"X": X[:N]})
    assert report.totals.params == svc.support_vectors_.size + svc.dual_coef_.size + svc.intercept_.size


def test_svr():
    X, y = regression()
    svr = SVR().fit(X, y)
    report = check_shapes(convert(svr, X), {"X": X[:N]})
    assert report.totals.params == svr.support_vectors_.size + svr.dual_coef_.size + svr.intercept_.size


def test_scaler_normalizer_one_hot_pipeline():
    X, y = classification(3)
    X[:, 3] = np.arange(len(X)) % 3   # a categorical column
    pipe = Pipeline([
        ("features", ColumnTransformer([
            ("num", Pipeline([("scale", StandardScaler()), ("norm", Normalizer())]), [0, 1, 2]),
            ("cat", OneHotEncoder(), [3])])),
        ("clf", LogisticRegression())]).fit(X, y)
    report = check_shapes(convert(pipe, X, zipmap=False), {"X": X[:N]})
    scaler = pipe.named_steps["features"].named_transformers_["num"].named_steps["scale"]
    clf = pipe.named_steps["clf"]
    # the scaler's mean_ and scale_ (as offset and 1/scale), the classifier's arrays;
    # the one-hot categories are a vocabulary, not parameters
    assert report.totals.params == scaler.mean_.size + scaler.scale_.size + clf.coef_.size + clf.intercept_.size
    assert ml_node(report, "OneHotEncoder").params == 0


def test_imputer_and_binarizer():
    X, _ = regression()
    report = check_shapes(convert(Binarizer(threshold=0.5).fit(X), X), {"X": X[:N]})
    assert report.totals.params == 0   # the threshold is a setting, not learned
    X[::5, 1] = np.nan
    imp = SimpleImputer().fit(X)
    report = check_shapes(convert(imp, X), {"X": X[:N]})
    assert report.totals.params == imp.statistics_.size


def test_label_encoder():
    words = np.array(["ant", "bee", "cat", "bee", "ant", "cat", "dog"])
    enc = LabelEncoder().fit(words)
    model = skl2onnx.to_onnx(enc, words[:1])
    report = check_shapes(model, {"X": words})
    assert ml_node(report, "LabelEncoder").outputs[0].dtype == "int64"
    assert report.totals.params == 0   # a vocabulary


@pytest.mark.parametrize("labels", [None, ["ant", "bee", "cat"]])
def test_zipmap_sequence_of_maps(labels):
    X, y = classification(3)
    clf = LogisticRegression().fit(X, y if labels is None else np.array(labels)[y])
    model = convert(clf, X)   # zipmap: skl2onnx's default
    report = check_shapes(model, {"X": X[:N]})
    maps = ort_values(model, {"X": X[:N]})["output_probability"]
    seq = ml_node(report, "ZipMap").outputs[0]
    assert seq.kind == "sequence" and seq.length == len(maps) == N
    assert seq.elem.kind == "map" and seq.elem.dtype == "float32"
    assert {len(m) for m in maps} == {seq.elem.entries} == {len(clf.classes_)}
    assert seq.elem.key == ("string" if labels else "int64")
    assert {type(k) for m in maps for k in m} == {str if labels else int}


def test_dict_vectorizer():
    rows = [{"a": 1.0, "b": 2.0}, {"b": 3.0, "c": 4.0}, {"d": 1.5}]
    dv = DictVectorizer(sparse=False).fit(rows)
    model = skl2onnx.to_onnx(dv, initial_types=[("X", DictionaryType(StringTensorType([1]), FloatTensorType([1])))])
    report = check_shapes(model, {"X": rows[1]})
    out = ml_node(report, "DictVectorizer").outputs[0]
    assert out.shape == (1, len(dv.vocabulary_)) and out.dtype == "float32"
    assert report.totals.params == 0   # a vocabulary


def tree_ensemble_v5(forest):
    """The forest as one ai.onnx.ml opset-5 TreeEnsemble (skl2onnx writes the older ops):
    internal nodes and leaves numbered apart, x <= threshold goes to the true (left) child."""
    splits, features, true_ids, true_leaf, false_ids, false_leaf, roots, weights = ([] for _ in range(8))
    for estimator in forest.estimators_:
        t = estimator.tree_
        inner = {n: k for k, n in enumerate(np.flatnonzero(t.children_left != -1))}
        leaves = {n: k for k, n in enumerate(np.flatnonzero(t.children_left == -1))}
        first_inner, first_leaf = len(splits), len(weights)
        roots.append(first_inner)
        for n in inner:
            splits.append(t.threshold[n])
            features.append(int(t.feature[n]))
            for child, ids, is_leaf in ((t.children_left[n], true_ids, true_leaf),
                                        (t.children_right[n], false_ids, false_leaf)):
                ids.append(first_inner + inner[child] if child in inner else first_leaf + leaves[child])
                is_leaf.append(int(child not in inner))
        weights += [t.value[n, 0, 0] / len(forest.estimators_) for n in leaves]
    node = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", name="forest", n_targets=1, aggregate_function=1,
        nodes_splits=helper.make_tensor("s", TensorProto.FLOAT, [len(splits)], splits),
        nodes_modes=helper.make_tensor("m", TensorProto.UINT8, [len(splits)], [0] * len(splits)),
        nodes_featureids=features, nodes_truenodeids=true_ids, nodes_trueleafs=true_leaf,
        nodes_falsenodeids=false_ids, nodes_falseleafs=false_leaf, tree_roots=roots,
        leaf_targetids=[0] * len(weights),
        leaf_weights=helper.make_tensor("w", TensorProto.FLOAT, [len(weights)], weights))
    graph = helper.make_graph([node], "forest", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])])
    return helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 21),
                                                                  helper.make_opsetid("ai.onnx.ml", 5)])


def test_tree_ensemble_opset5():
    X, y = regression()
    rf = RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    model = tree_ensemble_v5(rf)
    np.testing.assert_allclose(ort_values(model, {"X": X[:N]})["Y"][:, 0], rf.predict(X[:N]), rtol=1e-4)
    report = check_shapes(model, {"X": X[:N]})
    internal, leaves = tree_counts(rf.estimators_)
    assert report.totals.params == internal + leaves   # splits and leaf weights
    assert report.nodes[0].flops == N * (tree_depth_sum(rf.estimators_) + 3)


def ml_model(node, inputs, outputs):
    return helper.make_model(helper.make_graph([node], "g", inputs, outputs), ir_version=8,
                             opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)])


def test_int64_imputer_values_are_int64_params():
    X = np.array([[1, -1, 3], [-1, 5, 6]] * 4, dtype=np.int64)
    imputer = ml_model(helper.make_node("Imputer", ["X"], ["Y"], domain="ai.onnx.ml", replaced_value_int64=-1,
                                        imputed_value_int64s=[7, 8, 9]),
                       [helper.make_tensor_value_info("X", TensorProto.INT64, [None, 3])],
                       [helper.make_tensor_value_info("Y", TensorProto.INT64, None)])
    report = check_shapes(imputer, {"X": X})
    assert report.totals.params_by_dtype == {"int64": X.shape[1]}
    assert report.totals.param_bytes == 8 * X.shape[1]


def test_category_mapper_feature_vectorizer_cast_map():
    words = np.array([["ant", "cat"], ["dog", "bee"]])
    mapper = ml_model(helper.make_node("CategoryMapper", ["X"], ["Y"], domain="ai.onnx.ml",
                                       cats_strings=["ant", "bee", "cat"], cats_int64s=[0, 1, 2]),
                      [helper.make_tensor_value_info("X", TensorProto.STRING, [None, 2])],
                      [helper.make_tensor_value_info("Y", TensorProto.INT64, None)])
    assert check_shapes(mapper, {"X": words}).nodes[0].outputs[0].dtype == "int64"
    a, b = np.ones((N, 2), np.float32), np.ones((N, 3), np.float32)
    vectorizer = ml_model(helper.make_node("FeatureVectorizer", ["A", "B"], ["Y"], domain="ai.onnx.ml",
                                           inputdimensions=[2, 3]),
                          [helper.make_tensor_value_info("A", TensorProto.FLOAT, [None, 2]),
                           helper.make_tensor_value_info("B", TensorProto.FLOAT, [None, 3])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    check_shapes(vectorizer, {"A": a, "B": b})
    int_map = helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))
    cast = ml_model(helper.make_node("CastMap", ["X"], ["Y"], domain="ai.onnx.ml", map_form="SPARSE", max_map=6),
                    [helper.make_value_info("X", int_map)],
                    [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    check_shapes(cast, {"X": {0: 1.0, 2: 3.0}})


def tree_model():
    X, y = regression()
    return convert(GradientBoostingRegressor(n_estimators=2, max_depth=2, random_state=0).fit(X, y), X)


def bad_tree_model():
    model = tree_model()
    values = next(a for a in model.graph.node[0].attribute if a.name == "nodes_values")
    del values.floats[-1]   # one threshold short
    return model


def cyclic_tree_model():
    model = tree_model()
    attrs = {a.name: a for a in model.graph.node[0].attribute}
    modes, ids = list(attrs["nodes_modes"].strings), list(attrs["nodes_nodeids"].ints)
    inner = next(k for k, m in enumerate(modes) if m != b"LEAF" and ids[k] != 0)
    attrs["nodes_truenodeids"].ints[inner] = 0   # back to the root
    return model


def bad_zipmap_model():
    node = helper.make_node("ZipMap", ["X"], ["Z"], domain="ai.onnx.ml", name="zip")
    maps = helper.make_sequence_type_proto(helper.make_map_type_proto(
        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [3, 2])],
                              [helper.make_value_info("Z", maps)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)])


@pytest.mark.parametrize("build, message", [
    (bad_tree_model, r"attribute arrays of different lengths: .*nodes_values"),
    (bad_zipmap_model, r"node zip \(ZipMap\): no class labels"),
    (cyclic_tree_model, r"tree 0 has a cycle"),
])
def test_malformed_attributes_one_warning(build, message, tmp_path):
    path = tmp_path / "bad.onnx"
    onnx.save(build(), str(path))
    result = CliRunner().invoke(main, [str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("onnxinspect: warning: "), result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.stderr
