"""ai.onnx.ml: the classic machine-learning operators skl2onnx and onnxmltools write.

Shapes follow onnxruntime: a model reads ``X`` as ``(N, C)`` (a 1-D ``X`` is one sample,
``N = 1``); a classifier gives labels ``(N,)`` (int64 or string) and scores ``(N, k)``.
ZipMap turns the scores into a sequence of N maps of k entries (label -> float32);
DictVectorizer and CastMap turn one map into a ``(1, width)`` tensor.

Parameters: the learned numbers an estimator keeps in its attributes are its parameters,
reported through :meth:`NodeContext.attribute_params` (tree thresholds of internal nodes,
leaf / class weights, base values, coefficients, intercepts, support vectors, SVM
probability calibration, scaler offsets and scales, imputed values).  Structure is not:
node ids, tree ids, modes, feature ids, hit rates, placeholder values of leaves,
vocabularies and category lists (OneHotEncoder, LabelEncoder, CategoryMapper,
DictVectorizer, ZipMap labels), kernel hyperparameters and the Binarizer threshold.

Cost convention (no MACs unless said):

* Linear models: MACs = N·C·T (T targets or score columns), FLOPs = 2·MACs.
* Trees: one comparison per internal node on the path walked, counted for the deepest
  path of each tree (the worst case): FLOPs = N·(Σ tree depths + trees·outputs), the
  second term one add per output and tree for the leaf weights.
* SVMs: per sample and support vector a kernel of 2·C FLOPs (+1 for a non-linear
  kernel's exp / power / tanh), then 2 per coefficient; a linear SVM is a linear model.
* Scaler 2, Binarizer / Imputer 1, Normalizer 2 (MAX) or 3 (L1, L2) per element;
  lookups (encoders, mappers, extractors, vectorizers) 0.
* ``post_transform``: SOFTMAX 3 per score, LOGISTIC / PROBIT 1 per score.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..decode import tensor_array
from ..dims import Dim, format_count, mul, prod, sum_dims
from ..dtypes import dtype_name
from ..tensors import MapInfo, TensorInfo, sequence_like
from .context import NodeContext, ShapeError
from .registry import register

ML = "ai.onnx.ml"
_POST_FLOPS = {"NONE": 0, "SOFTMAX": 3, "SOFTMAX_ZERO": 3, "LOGISTIC": 1, "PROBIT": 1}
_NORM_FLOPS = {"MAX": 2, "L1": 3, "L2": 3}


def _samples(ctx: NodeContext) -> Tuple[Dim, Dim]:
    """(N, C) of input 0: a 1-D input is one sample."""
    x = ctx.shape(0)
    if len(x) == 1:
        return 1, x[0]
    if len(x) != 2:
        raise ShapeError(f"expects a 1-D or 2-D input, got rank {len(x)}")
    return x[0], x[1]


def _numbers(ctx: NodeContext, name: str, dtype: str = "float32") -> Tuple[List[Any], str]:
    """An attribute's numbers and their element type; ``<name>_as_tensor`` (a TensorProto,
    opset 3) wins over the plain list."""
    tensor = ctx.attr(f"{name}_as_tensor")
    if tensor is not None:
        array = tensor_array(tensor)
        if array is None:
            raise ShapeError(f"attribute {name}_as_tensor has no readable values")
        return array.ravel().tolist(), dtype_name(tensor.data_type) or dtype
    return list(ctx.attr(name, [])), dtype


def _tensor_attr(ctx: NodeContext, name: str) -> Tuple[List[Any], str]:
    tensor = ctx.attr(name)
    if tensor is None:
        return [], "float32"
    array = tensor_array(tensor)
    if array is None:
        raise ShapeError(f"attribute {name} has no readable values")
    return array.ravel().tolist(), dtype_name(tensor.data_type) or "float32"


def _labels(ctx: NodeContext, ints: str, strings: str) -> Tuple[int, str]:
    """(number of class labels, label dtype)."""
    names = ctx.attr(strings)
    if names:
        return len(names), "string"
    return len(ctx.attr(ints, [])), "int64"


def _same_lengths(ctx: NodeContext, names: Sequence[str], arrays: Sequence[Sequence[Any]]) -> int:
    """The common length of ``arrays`` (empty ones are absent), else a ShapeError naming them."""
    lengths = {name: len(a) for name, a in zip(names, arrays, strict=True) if len(a)}
    if len(set(lengths.values())) > 1:
        told = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ShapeError(f"attribute arrays of different lengths: {told}")
    return next(iter(lengths.values()), 0)


def _post_transform(ctx: NodeContext, scores: Dim) -> Dim:
    mode = str(ctx.attr("post_transform", "NONE"))
    per = _POST_FLOPS.get(mode)
    if per is None:
        raise ShapeError(f"unknown post_transform {mode!r}")
    return mul(per, scores)


def _per_element(ctx: NodeContext, flops: int, why: str) -> None:
    x = ctx.shape(0)
    total = mul(flops, prod(x))
    ctx.set_cost(flops=total)
    if ctx.explaining:
        ctx.explain("flops", f"{flops} per element ({why}) = {format_count(total)}")


# -- linear models -------------------------------------------------------------------

def _linear_rows(ctx: NodeContext, c: Dim, coefficients: Sequence[float], intercepts: Sequence[float]) -> int:
    """The number of coefficient rows T (one per target or class score)."""
    if not isinstance(c, int) or c <= 0:
        if intercepts:
            return len(intercepts)
        raise ShapeError("the number of features is unknown and there are no intercepts")
    if len(coefficients) % c:
        raise ShapeError(f"{len(coefficients)} coefficients do not split into rows of {c} features")
    rows = len(coefficients) // c
    if intercepts and len(intercepts) != rows:
        raise ShapeError(f"{len(intercepts)} intercepts for {rows} coefficient rows")
    return rows


def _linear_cost(ctx: NodeContext, n: Dim, c: Dim, rows: int, scores: Dim) -> None:
    macs = mul(n, c, rows)
    post = _post_transform(ctx, mul(n, scores))
    ctx.set_cost(macs=macs, flops=sum_dims([mul(2, macs), post]))
    if ctx.explaining:
        ctx.explain("flops", f"MACs = N·C·T = {format_count(macs)}; FLOPs = 2·MACs"
                    + (f" + post_transform {format_count(post)}" if post else ""))


@register("LinearClassifier", domain=ML)
def linear_classifier(ctx: NodeContext) -> None:
    n, c = _samples(ctx)
    coefficients, intercepts = list(ctx.attr("coefficients", [])), list(ctx.attr("intercepts", []))
    k, label = _labels(ctx, "classlabels_ints", "classlabels_strings")
    rows = _linear_rows(ctx, c, coefficients, intercepts)
    scores = 2 if rows == 1 and k == 2 else rows   # a binary model with one row scores both classes
    ctx.set_output(0, (n,), label)
    ctx.set_output(1, (n, scores), "float32")
    ctx.attribute_params("coefficients", len(coefficients), "float32", "coefficients")
    ctx.attribute_params("intercepts", len(intercepts), "float32", "intercepts")
    _linear_cost(ctx, n, c, rows, scores)
    if ctx.explaining:
        ctx.explain("shape", f"labels (N,), scores (N, {scores}): {rows} coefficient rows, {k} classes")


@register("LinearRegressor", domain=ML)
def linear_regressor(ctx: NodeContext) -> None:
    n, c = _samples(ctx)
    coefficients, intercepts = list(ctx.attr("coefficients", [])), list(ctx.attr("intercepts", []))
    targets = int(ctx.attr("targets", 1))
    rows = _linear_rows(ctx, c, coefficients, intercepts)
    if rows != targets:
        raise ShapeError(f"{rows} coefficient rows for {targets} targets")
    ctx.set_output(0, (n, targets), "float32")
    ctx.attribute_params("coefficients", len(coefficients), "float32", "coefficients")
    ctx.attribute_params("intercepts", len(intercepts), "float32", "intercepts")
    _linear_cost(ctx, n, c, rows, targets)


# -- tree ensembles ------------------------------------------------------------------

def _tree_depths(trees: Sequence[int], children: Sequence[Optional[Tuple[int, int]]]) -> Dict[int, int]:
    """Each tree's depth (internal nodes on its longest path).  ``children[i]`` is None for
    a leaf, else the indices of node i's two children (-1: a leaf that is not a node)."""
    depth = [-1] * len(children)
    for start in range(len(children)):
        stack = [start]
        while stack:
            i = stack[-1]
            kids = children[i]
            if depth[i] >= 0 or kids is None:
                depth[i] = max(depth[i], 0)
                stack.pop()
                continue
            pending = [k for k in kids if k >= 0 and depth[k] < 0]
            if pending:
                if len(stack) > len(children):
                    raise ShapeError(f"tree {trees[i]} has a cycle")
                stack.extend(pending)
                continue
            depth[i] = 1 + max(depth[k] if k >= 0 else 0 for k in kids)
            stack.pop()
    out: Dict[int, int] = {}
    for tree, d in zip(trees, depth, strict=True):
        out[tree] = max(out.get(tree, 0), d)
    return out


def _tree_cost(ctx: NodeContext, n: Dim, depths: Dict[int, int], outputs: Dim) -> None:
    walked = sum(depths.values())
    per_sample = sum_dims([walked, mul(len(depths), outputs)])
    post = _post_transform(ctx, mul(n, outputs))
    flops = sum_dims([mul(n, per_sample), post])
    ctx.set_cost(flops=flops)
    if ctx.explaining:
        ctx.explain("flops", f"N·(Σ depth {walked} + {len(depths)} trees·{outputs} outputs)"
                    + (f" + post_transform {format_count(post)}" if post else "")
                    + f" = {format_count(flops)} (one comparison per internal node on each tree's deepest path)")


_NODE_ARRAYS = ("nodes_treeids", "nodes_nodeids", "nodes_modes", "nodes_featureids",
                "nodes_truenodeids", "nodes_falsenodeids", "nodes_hitrates",
                "nodes_missing_value_tracks_true")


def _legacy_trees(ctx: NodeContext, weights: str, prefix: str) -> Dict[int, int]:
    """Check a TreeEnsembleClassifier/Regressor's arrays and report its parameters;
    returns each tree's depth."""
    arrays = [list(ctx.attr(name, [])) for name in _NODE_ARRAYS]
    values, values_dtype = _numbers(ctx, "nodes_values")
    size = _same_lengths(ctx, _NODE_ARRAYS + ("nodes_values",), arrays + [values])
    trees, ids, modes, _, trues, falses = arrays[:6]
    if not trees or len(trees) != size or len(ids) != size or len(modes) != size:
        raise ShapeError("nodes_treeids, nodes_nodeids and nodes_modes are required")
    leaf_weights, weights_dtype = _numbers(ctx, weights)
    target_arrays = [list(ctx.attr(f"{prefix}_{s}", [])) for s in ("treeids", "nodeids", "ids")]
    _same_lengths(ctx, [f"{prefix}_treeids", f"{prefix}_nodeids", f"{prefix}_ids", weights],
                  target_arrays + [leaf_weights])
    index = {(t, i): k for k, (t, i) in enumerate(zip(trees, ids, strict=True))}
    children: List[Optional[Tuple[int, int]]] = []
    internal = 0
    for k, mode in enumerate(modes):
        if mode == "LEAF":
            children.append(None)
            continue
        if len(trues) != size or len(falses) != size:
            raise ShapeError("nodes_truenodeids and nodes_falsenodeids are required")
        pair = (index.get((trees[k], trues[k])), index.get((trees[k], falses[k])))
        if pair[0] is None or pair[1] is None:
            raise ShapeError(f"tree {trees[k]} node {ids[k]}: a child is not a node of the tree")
        children.append((pair[0], pair[1]))
        internal += 1
    base, base_dtype = _numbers(ctx, "base_values")
    ctx.attribute_params("nodes_values", internal, values_dtype, "thresholds of internal nodes")
    ctx.attribute_params(weights, len(leaf_weights), weights_dtype, "leaf weights")
    ctx.attribute_params("base_values", len(base), base_dtype, "base values")
    return _tree_depths(trees, children)


@register("TreeEnsembleClassifier", domain=ML)
def tree_ensemble_classifier(ctx: NodeContext) -> None:
    n, _ = _samples(ctx)
    k, label = _labels(ctx, "classlabels_int64s", "classlabels_strings")
    if not k:
        raise ShapeError("no class labels (classlabels_int64s or classlabels_strings)")
    depths = _legacy_trees(ctx, "class_weights", "class")
    ctx.set_output(0, (n,), label)
    ctx.set_output(1, (n, k), "float32")
    _tree_cost(ctx, n, depths, k)


@register("TreeEnsembleRegressor", domain=ML)
def tree_ensemble_regressor(ctx: NodeContext) -> None:
    n, _ = _samples(ctx)
    depths = _legacy_trees(ctx, "target_weights", "target")
    targets = int(ctx.attr("n_targets", 1) or 1)
    ctx.set_output(0, (n, targets), "float32")
    _tree_cost(ctx, n, depths, targets)


@register("TreeEnsemble", domain=ML)
def tree_ensemble(ctx: NodeContext) -> None:
    n, _ = _samples(ctx)
    splits, splits_dtype = _tensor_attr(ctx, "nodes_splits")
    modes, _ = _tensor_attr(ctx, "nodes_modes")
    names = ("nodes_featureids", "nodes_truenodeids", "nodes_trueleafs", "nodes_falsenodeids", "nodes_falseleafs")
    arrays = [list(ctx.attr(name, [])) for name in names]
    size = _same_lengths(ctx, ("nodes_splits", "nodes_modes") + names, [splits, modes] + arrays)
    if any(len(a) != size for a in arrays):
        raise ShapeError("the nodes_* arrays are required")
    leaf_weights, weights_dtype = _tensor_attr(ctx, "leaf_weights")
    _same_lengths(ctx, ("leaf_targetids", "leaf_weights"), [list(ctx.attr("leaf_targetids", [])), leaf_weights])
    roots = list(ctx.attr("tree_roots", []))
    _, trues, true_leaf, falses, false_leaf = arrays
    children: List[Optional[Tuple[int, int]]] = []
    for k in range(size):
        pair = (-1 if true_leaf[k] else trues[k], -1 if false_leaf[k] else falses[k])
        if any(not -1 <= p < size for p in pair):
            raise ShapeError(f"node {k}: a child index is out of range")
        children.append(pair)
    owner = [-1] * size   # the tree (root position) a node belongs to
    for tree, root in enumerate(roots):
        if not 0 <= root < size:
            raise ShapeError(f"tree root {root} is out of range")
        stack = [root]
        while stack:
            i = stack.pop()
            if owner[i] < 0:
                owner[i] = tree
                stack.extend(c for c in children[i] or () if c >= 0)
    membership, membership_dtype = _tensor_attr(ctx, "membership_values")
    ctx.attribute_params("nodes_splits", size, splits_dtype, "split thresholds")
    ctx.attribute_params("leaf_weights", len(leaf_weights), weights_dtype, "leaf weights")
    ctx.attribute_params("membership_values", sum(v == v for v in membership), membership_dtype,
                         "set-membership split values")
    targets = int(ctx.attr("n_targets", 1) or 1)
    ctx.set_output(0, (n, targets))
    depths = _tree_depths(owner, children)
    depths.pop(-1, None)   # nodes no root reaches
    _tree_cost(ctx, n, depths, targets)


# -- support vector machines ---------------------------------------------------------

def _svm(ctx: NodeContext, n: Dim, c: Dim, vectors: int) -> None:
    """Report an SVM's parameters and set its cost; ``vectors`` = number of support vectors."""
    support = list(ctx.attr("support_vectors", []))
    coefficients = list(ctx.attr("coefficients", []))
    if vectors and isinstance(c, int) and len(support) != vectors * c:
        raise ShapeError(f"{len(support)} support-vector values for {vectors} vectors of {c} features")
    for name, what in (("support_vectors", "support vectors"), ("coefficients", "dual coefficients"),
                       ("rho", "intercepts"), ("prob_a", "probability calibration"),
                       ("prob_b", "probability calibration")):
        ctx.attribute_params(name, len(ctx.attr(name, [])), "float32", what)
    kernel = 0 if str(ctx.attr("kernel_type", "LINEAR")) == "LINEAR" else 1
    per_sample = sum_dims([mul(vectors, sum_dims([mul(2, c), kernel])), 2 * len(coefficients)])
    ctx.set_cost(flops=mul(n, per_sample))
    if ctx.explaining:
        ctx.explain("flops", f"N·({vectors} vectors·(2·C + {kernel}) + 2·{len(coefficients)} coefficients) "
                    f"= {format_count(ctx.flops)}")


@register("SVMClassifier", domain=ML)
def svm_classifier(ctx: NodeContext) -> None:
    n, c = _samples(ctx)
    k, label = _labels(ctx, "classlabels_ints", "classlabels_strings")
    vectors = sum(ctx.attr("vectors_per_class", []))
    if vectors:
        scores = k if ctx.attr("prob_a") else k * (k - 1) // 2   # one vote score per class pair
    else:
        scores = k
    ctx.set_output(0, (n,), label)
    ctx.set_output(1, (n, max(scores, 2)), "float32")   # a binary model scores both classes
    _svm(ctx, n, c, vectors)


@register("SVMRegressor", domain=ML)
def svm_regressor(ctx: NodeContext) -> None:
    n, c = _samples(ctx)
    ctx.set_output(0, (n, 1), "float32")
    _svm(ctx, n, c, int(ctx.attr("n_supports", 0)))


# -- preprocessing -------------------------------------------------------------------

@register("Scaler", domain=ML)
def scaler(ctx: NodeContext) -> None:
    _, c = _samples(ctx)
    offset, scale = list(ctx.attr("offset", [])), list(ctx.attr("scale", []))
    for name, values in (("offset", offset), ("scale", scale)):
        if isinstance(c, int) and len(values) not in (0, 1, c):
            raise ShapeError(f"{len(values)} {name} values for {c} features")
    ctx.set_output(0, ctx.shape(0), "float32")
    ctx.attribute_params("offset", len(offset), "float32", "offsets")
    ctx.attribute_params("scale", len(scale), "float32", "scales")
    _per_element(ctx, 2, "subtract, multiply")


@register("Normalizer", domain=ML)
def normalizer(ctx: NodeContext) -> None:
    norm = str(ctx.attr("norm", "MAX"))
    flops = _NORM_FLOPS.get(norm)
    if flops is None:
        raise ShapeError(f"unknown norm {norm!r}")
    ctx.set_output(0, ctx.shape(0), "float32")
    _per_element(ctx, flops, f"{norm} norm term, sum, divide" if flops == 3 else "max, divide")


@register("Binarizer", domain=ML)
def binarizer(ctx: NodeContext) -> None:
    ctx.set_output(0, ctx.shape(0))
    _per_element(ctx, 1, "comparison")


@register("Imputer", domain=ML)
def imputer(ctx: NodeContext) -> None:
    _, c = _samples(ctx)
    floats, ints = list(ctx.attr("imputed_value_floats", [])), list(ctx.attr("imputed_value_int64s", []))
    values, dtype = (floats, "float32") if floats else (ints, "int64")
    if not values:
        raise ShapeError("no imputed values (imputed_value_floats or imputed_value_int64s)")
    if isinstance(c, int) and len(values) not in (1, c):
        raise ShapeError(f"{len(values)} imputed values for {c} features")
    ctx.set_output(0, ctx.shape(0))
    ctx.attribute_params(f"imputed_value_{'floats' if floats else 'int64s'}", len(values), dtype, "imputed values")
    _per_element(ctx, 1, "comparison with the replaced value")


@register("OneHotEncoder", domain=ML)
def one_hot_encoder(ctx: NodeContext) -> None:
    cats = ctx.attr("cats_strings") or ctx.attr("cats_int64s", [])
    if not cats:
        raise ShapeError("no categories (cats_strings or cats_int64s)")
    ctx.set_output(0, ctx.shape(0) + (len(cats),), "float32")
    ctx.set_cost(flops=0)
    if ctx.explaining:
        ctx.explain("shape", f"input shape + ({len(cats)} categories,)")


def _mapped(ctx: NodeContext, keys: Sequence[Any], values: Sequence[Any], dtype: str) -> None:
    _same_lengths(ctx, ("keys", "values"), [keys, values])
    ctx.set_output(0, ctx.shape(0), dtype)
    ctx.set_cost(flops=0)


@register("LabelEncoder", domain=ML)
def label_encoder(ctx: NodeContext) -> None:
    if ctx.opset < 2:   # classes_strings: string <-> its index
        _mapped(ctx, (), (), "int64" if ctx.dtype(0) == "string" else "string")
        return
    keys = (ctx.attr("keys_strings") or ctx.attr("keys_int64s") or ctx.attr("keys_floats")
            or _tensor_attr(ctx, "keys_tensor")[0])
    for name, dtype in (("values_strings", "string"), ("values_int64s", "int64"), ("values_floats", "float32")):
        values = ctx.attr(name)
        if values:
            _mapped(ctx, keys, values, dtype)
            return
    values, dtype = _tensor_attr(ctx, "values_tensor")
    if not values:
        raise ShapeError("no values (values_strings, values_int64s, values_floats or values_tensor)")
    _mapped(ctx, keys, values, dtype)


@register("CategoryMapper", domain=ML)
def category_mapper(ctx: NodeContext) -> None:
    _mapped(ctx, ctx.attr("cats_strings", []), ctx.attr("cats_int64s", []),
            "int64" if ctx.dtype(0) == "string" else "string")


@register("ArrayFeatureExtractor", domain=ML, meta_inputs=(1,))
def array_feature_extractor(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    picked = prod(ctx.shape(1))
    ctx.set_output(0, (1, picked) if len(x) == 1 else x[:-1] + (picked,))
    ctx.set_cost(flops=0)


@register("FeatureVectorizer", domain=ML)
def feature_vectorizer(ctx: NodeContext) -> None:
    widths = list(ctx.attr("inputdimensions", []))
    if len(widths) != ctx.n_inputs:
        raise ShapeError(f"{len(widths)} inputdimensions for {ctx.n_inputs} inputs")
    n = _samples(ctx)[0]
    ctx.set_output(0, (n, sum(widths)), "float32")
    ctx.set_cost(flops=0)


# -- maps ----------------------------------------------------------------------------

@register("ZipMap", domain=ML)
def zip_map(ctx: NodeContext) -> None:
    k, key = _labels(ctx, "classlabels_int64s", "classlabels_strings")
    if not k:
        raise ShapeError("no class labels (classlabels_int64s or classlabels_strings)")
    n, c = _samples(ctx)
    if isinstance(c, int) and c != k:
        raise ShapeError(f"{k} class labels for {c} scores per row")
    entry = MapInfo("", "float32", None, key=key, elem=TensorInfo("", "float32", ()), entries=k)
    ctx.set_info(0, sequence_like("", entry, n))
    ctx.set_cost(flops=0)
    if ctx.explaining:
        ctx.explain("shape", f"a sequence of N maps, one per row, of {k} entries ({key} label -> float32)")


def _map_input(ctx: NodeContext) -> MapInfo:
    info = ctx.input(0)
    if not isinstance(info, MapInfo):
        raise ShapeError(f"input 0 is a {info.kind}, not a map")
    return info


@register("DictVectorizer", domain=ML)
def dict_vectorizer(ctx: NodeContext) -> None:
    info = _map_input(ctx)
    strings, ints = ctx.attr("string_vocabulary", []), ctx.attr("int64_vocabulary", [])
    if not strings and not ints:
        raise ShapeError("no vocabulary (string_vocabulary or int64_vocabulary)")
    wanted = "string" if strings else "int64"
    if info.key is not None and info.key != wanted:
        raise ShapeError(f"a {wanted} vocabulary for a map of {info.key} keys")
    ctx.set_output(0, (1, len(strings or ints)), info.dtype)
    ctx.set_cost(flops=0)


_CAST_TO = {"TO_FLOAT": "float32", "TO_STRING": "string", "TO_INT64": "int64"}


@register("CastMap", domain=ML)
def cast_map(ctx: NodeContext) -> None:
    info = _map_input(ctx)
    cast_to, form = str(ctx.attr("cast_to", "TO_FLOAT")), str(ctx.attr("map_form", "DENSE"))
    if cast_to not in _CAST_TO or form not in ("DENSE", "SPARSE"):
        raise ShapeError(f"unknown cast_to {cast_to!r} or map_form {form!r}")
    # DENSE: one column per entry (known only with the map); SPARSE: max_map columns
    width = info.entries if form == "DENSE" else int(ctx.attr("max_map", 1))
    ctx.set_output(0, (1, width), _CAST_TO[cast_to])
    ctx.set_cost(flops=0)
