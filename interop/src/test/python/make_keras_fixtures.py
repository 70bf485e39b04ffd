#!/usr/bin/env python3
"""Writes the Keras file fixtures of Dense4J's Keras importer tests (interop/src/test/resources/keras).

Each file is laid out exactly as a Keras version writes it, with h5py (which Keras itself uses), following the Keras
sources: tf-keras saving/legacy/hdf5_format.py (Keras 2 .h5), keras/src/legacy/saving/legacy_h5_format.py (Keras 3 .h5)
and keras/src/saving/saving_lib.py (.keras). Keras is not needed. Beside each model, <name>.expected.json holds input
rows and the outputs of a float64 NumPy forward pass with Keras's semantics, computed here independently of Dense4J.

    python3 interop/src/test/python/make_keras_fixtures.py      # needs h5py and numpy (Debian: python3-h5py)

The fixtures are committed; rerunning the script rewrites them byte for byte.
"""
import io
import json
import math
import os
import zipfile

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "keras")
RNG = np.random.default_rng(20240612)


# ---------------------------------------------------------------------------------------------- forward pass

def act(name, x):
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    if name == "gelu":
        return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    if name == "softmax":
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def forward(x, steps):
    """steps: ("flatten_cf", shape) | ("scale", s) | ("rescale", s, offset) | ("norm", mean, var) | ("dense", W, b, act)."""
    x = x.astype(np.float64)
    for s in steps:
        if s[0] == "flatten_cf":  # Keras Flatten(data_format="channels_first"): channels last, then flatten
            shape = s[1]
            x = x.reshape((-1,) + tuple(shape))
            x = np.moveaxis(x, 1, -1).reshape(x.shape[0], -1)
        elif s[0] == "scale":
            x = x * np.float32(s[1])
        elif s[0] == "rescale":  # Rescaling(scale, offset)
            x = x * np.float32(s[1]) + np.float32(s[2])
        elif s[0] == "norm":
            x = (x - s[1]) / np.maximum(np.sqrt(s[2].astype(np.float32)), np.float32(1e-7))
        else:
            _, w, b, a = s
            x = act(a, x @ w.astype(np.float64) + b.astype(np.float64))
    return x


def dense(n_in, n_out):
    w = RNG.normal(0, 1 / math.sqrt(n_in), (n_in, n_out)).astype(np.float32)
    b = RNG.normal(0, 0.1, (n_out,)).astype(np.float32)
    return w, b


def expected(name, x, steps, extra=None):
    doc = {"inputs": x.astype(np.float32).astype(np.float64).tolist(), "outputs": forward(x, steps).tolist()}
    if extra:
        doc.update(extra)
    with open(os.path.join(OUT, name + ".expected.json"), "w") as f:
        json.dump(doc, f)


# ---------------------------------------------------------------------------------------------- config pieces

def k2_dense(name, units, activation, use_bias=True, extra=None):
    c = {"name": name, "trainable": True, "dtype": "float32", "units": units, "activation": activation,
         "use_bias": use_bias,
         "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
         "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
         "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}
    c.update(extra or {})
    return {"class_name": "Dense", "config": c}


def k3(cls, config, module="keras.layers", build=None):
    d = {"module": module, "class_name": cls, "config": config, "registered_name": None}
    if build is not None:
        d["build_config"] = {"input_shape": build}
    return d


DTYPE3 = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def k3_dense(name, units, activation, n_in, use_bias=True):
    return k3("Dense", {"name": name, "trainable": True, "dtype": DTYPE3, "units": units, "activation": activation,
                        "use_bias": use_bias,
                        "kernel_initializer": k3("GlorotUniform", {"seed": None}, "keras.initializers"),
                        "bias_initializer": k3("Zeros", {}, "keras.initializers"), "kernel_regularizer": None,
                        "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None},
              build=[None, n_in])


ADAM2 = {"class_name": "Custom>Adam", "config": {
    "name": "Adam", "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "jit_compile": False,
    "is_legacy_optimizer": False, "learning_rate": 0.0020000000949949026, "beta_1": 0.9, "beta_2": 0.999,
    "epsilon": 1e-07, "amsgrad": False}}


# ---------------------------------------------------------------------------------------------- Keras 2 .h5

def save_attr_list(group, name, values, fixed, chunks=1):
    """hdf5_format.save_attributes_to_hdf5_group: a list of names, split into name0, name1... when too big."""
    data = [v.encode("utf8") for v in values]
    if fixed:
        arr = np.array(data, dtype="S%d" % max(1, max((len(v) for v in data), default=1)))
    if chunks == 1:
        group.attrs[name] = (arr if fixed else data) if data else np.array([])
    else:
        for i, part in enumerate(np.array_split(np.arange(len(data)), chunks)):
            sub = [data[j] for j in part]
            group.attrs["%s%d" % (name, i)] = np.array(sub, dtype=arr.dtype) if fixed else sub


def write_k2_h5(path, model_config, training_config, layers, fixed, keras_version="2.12.0", chunks=1,
                weight_prefix=None):
    """layers: [(layer name, [(weight name, array)])] in model.layers order (as hdf5_format.py saves them)."""
    with h5py.File(path, "w") as f:
        def s(v):
            return np.bytes_(v.encode("utf8")) if fixed else v.encode("utf8")
        f.attrs["keras_version"] = s(keras_version)
        f.attrs["backend"] = s("tensorflow")
        f.attrs["model_config"] = s(json.dumps(model_config))
        if training_config is not None:
            f.attrs["training_config"] = s(json.dumps(training_config))
        mw = f.create_group("model_weights")
        save_attr_list(mw, "layer_names", [n for n, _ in layers], fixed, chunks)
        mw.attrs["backend"] = s("tensorflow")
        mw.attrs["keras_version"] = s(keras_version)
        for name, weights in sorted(layers, key=lambda t: t[0]):
            g = mw.create_group(name)
            save_attr_list(g, "weight_names", [w for w, _ in weights], fixed)
            for wname, val in weights:
                d = g.create_dataset(wname, val.shape, dtype=val.dtype)
                d[...] = val
        top = mw.create_group("top_level_model_weights")
        save_attr_list(top, "weight_names", [], fixed)


def keras2_files():
    # tf.keras 2.12 with h5py 3 (variable-length strings): InputLayer [4, 3] -> Flatten -> Dense relu -> Dropout ->
    # Dense softmax, compiled (Adam 2e-3, sparse CE, accuracy as Keras 2 nests it)
    w1, b1 = dense(12, 6)
    w2, b2 = dense(6, 3)
    cfg = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4, 3], "dtype": "float32",
                                                "sparse": False, "ragged": False, "name": "flatten_input"}},
        {"class_name": "Flatten", "config": {"name": "flatten", "trainable": True, "dtype": "float32",
                                             "batch_input_shape": [None, 4, 3], "data_format": "channels_last"}},
        k2_dense("dense", 6, "relu"),
        {"class_name": "Dropout", "config": {"name": "dropout", "trainable": True, "dtype": "float32",
                                             "rate": 0.25, "noise_shape": None, "seed": None}},
        k2_dense("dense_1", 3, "softmax")]}}
    tc = {"loss": "sparse_categorical_crossentropy", "metrics": [[{"class_name": "MeanMetricWrapper", "config": {
        "name": "accuracy", "dtype": "float32", "fn": "sparse_categorical_accuracy"}}]], "weighted_metrics": None,
          "loss_weights": None, "optimizer_config": ADAM2}
    layers = [("flatten", []), ("dense", [("dense/kernel:0", w1), ("dense/bias:0", b1)]), ("dropout", []),
              ("dense_1", [("dense_1/kernel:0", w2), ("dense_1/bias:0", b2)])]
    x = RNG.uniform(0, 1, (5, 12))
    steps = [("dense", w1, b1, "relu"), ("dense", w2, b2, "softmax")]
    write_k2_h5(os.path.join(OUT, "k2_vlen.h5"), cfg, tc, layers, fixed=False)
    expected("k2_vlen", x, steps)
    # the same model written with fixed-length strings (h5py 2 era) and names split into chunks
    cfg_old = json.loads(json.dumps(cfg))
    cfg_old["config"]["layers"][0]["config"] = {"input_shape": [4, 3], "dtype": "float32", "name": "flatten_input"}
    del cfg_old["config"]["layers"][1]["config"]["batch_input_shape"]
    write_k2_h5(os.path.join(OUT, "k2_fixed_chunked.h5"), cfg_old, tc, layers, fixed=True, chunks=2,
                keras_version="2.3.1")
    expected("k2_fixed_chunked", x, steps)

    # Keras 2.0-2.2: config is a bare list, the input shape on the first Dense's batch_input_shape, a legacy
    # optimizer (lr, decay), a linear output trained from logits, SGD with Nesterov momentum
    w1, b1 = dense(7, 5)
    w2, b2 = dense(5, 4)
    cfg = {"class_name": "Sequential", "config": [
        k2_dense("dense_1", 5, "tanh", extra={"batch_input_shape": [None, 7]}),
        k2_dense("dense_2", 4, "linear")]}
    tc = {"loss": {"class_name": "SparseCategoricalCrossentropy", "config": {
        "reduction": "auto", "name": "sparse_categorical_crossentropy", "from_logits": True}},
          "metrics": ["acc"], "optimizer_config": {"class_name": "SGD", "config": {
              "lr": 0.05, "momentum": 0.9, "decay": 0.0, "nesterov": True}}}
    layers = [("dense_1", [("dense_1/kernel:0", w1), ("dense_1/bias:0", b1)]),
              ("dense_2", [("dense_2/kernel:0", w2), ("dense_2/bias:0", b2)])]
    x = RNG.normal(0, 1, (4, 7))
    write_k2_h5(os.path.join(OUT, "k2_old_list_config.h5"), cfg, tc, layers, fixed=True, keras_version="2.1.6")
    expected("k2_old_list_config", x, [("dense", w1, b1, "tanh"), ("dense", w2, b2, "linear")])

    # a functional model that is a plain chain (tf.keras 2.x "Functional"), sigmoid output with binary CE,
    # use_bias=False on the hidden layer, gelu
    w1, b1 = dense(6, 4)
    w2, b2 = dense(4, 1)
    cfg = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "name": "input_1", "config": {"batch_input_shape": [None, 6], "dtype": "float32",
                                                                  "sparse": False, "ragged": False, "name": "input_1"},
         "inbound_nodes": []},
        dict(k2_dense("hidden", 4, "gelu", use_bias=False), name="hidden", inbound_nodes=[[["input_1", 0, 0, {}]]]),
        dict(k2_dense("out", 1, "sigmoid"), name="out", inbound_nodes=[[["hidden", 0, 0, {}]]])],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["out", 0, 0]]}}
    tc = {"loss": "binary_crossentropy", "metrics": [["accuracy"]], "optimizer_config": {
        "class_name": "RMSprop", "config": {"name": "RMSprop", "learning_rate": 0.01, "rho": 0.8, "momentum": 0.0,
                                            "epsilon": 1e-07, "centered": False}}}
    layers = [("input_1", []), ("hidden", [("hidden/kernel:0", w1)]),
              ("out", [("out/kernel:0", w2), ("out/bias:0", b2)])]
    x = RNG.normal(0, 1, (3, 6))
    write_k2_h5(os.path.join(OUT, "k2_functional_chain.h5"), cfg, tc, layers, fixed=False, keras_version="2.15.0")
    expected("k2_functional_chain", x, [("dense", w1, np.zeros(4, np.float32), "gelu"), ("dense", w2, b2, "sigmoid")])


# ---------------------------------------------------------------------------------------------- Keras 3 .h5

def keras3_h5_files():
    # Keras 3's legacy_h5_format: weight names are variable paths, "dense/kernel" or, when the path includes the
    # model, "sequential/dense/kernel"; layer configs use the legacy (module-less) serialization
    for variant, prefix in (("k3_legacy_plain", ""), ("k3_legacy_nested", "sequential/")):
        w1, b1 = dense(5, 4)
        w2, b2 = dense(4, 3)
        batch = None if variant == "k3_legacy_plain" else 32  # a fixed batch size, which Dense4J ignores
        cfg = {"class_name": "Sequential", "config": {"name": "sequential", "trainable": True, "dtype": "float32",
                                                      "layers": [
            {"class_name": "InputLayer", "config": {"batch_shape": [batch, 5], "dtype": "float32", "sparse": False,
                                                    "name": "input_layer"}},
            k2_dense("dense", 4, "relu"), k2_dense("dense_1", 3, "softmax")], "build_input_shape": [None, 5]}}
        tc = {"loss": "categorical_crossentropy", "loss_weights": None, "metrics": ["categorical_accuracy"],
              "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
              "optimizer_config": {"class_name": "Adam", "config": {
                  "name": "adam", "learning_rate": 0.001, "weight_decay": 0.01, "clipnorm": None,
                  "global_clipnorm": 1.0, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                  "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
                  "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}}}
        layers = [("dense", [(prefix + "dense/kernel", w1), (prefix + "dense/bias", b1)]),
                  ("dense_1", [(prefix + "dense_1/kernel", w2), (prefix + "dense_1/bias", b2)])]
        write_k2_h5(os.path.join(OUT, variant + ".h5"), cfg, tc, layers, fixed=False, keras_version="3.6.0")
        x = RNG.normal(0, 1, (4, 5))
        expected(variant, x, [("dense", w1, b1, "relu"), ("dense", w2, b2, "softmax")])


# ---------------------------------------------------------------------------------------------- .keras

def writestr(zf, name, data):
    """zf.writestr with a fixed date, so that rerunning the script gives the same bytes."""
    zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def write_keras(path, config, weights, keras_version="3.8.0", root="layers", model_name="sequential"):
    """saving_lib: metadata.json, config.json, model.weights.h5 with <root>/<path>/vars/<i>."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for p, arrays in weights:
            g = f.create_group(root + "/" + p).create_group("vars")
            g.attrs["name"] = p
            for i, a in enumerate(arrays):
                g[str(i)] = a
        f.create_group("vars").attrs["name"] = model_name
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("metadata.json", "w") as f:
            f.write(json.dumps({"keras_version": keras_version, "date_saved": "2025-01-01@00:00:00"}).encode())
        with zf.open("config.json", "w") as f:
            f.write(json.dumps(config).encode())
        writestr(zf, "model.weights.h5", buf.getvalue())


def keras3_files():
    # config names dense_7/dense_8 while the weights file counts dense, dense_1 (as in a real Keras 3.8 file);
    # Rescaling(1/255) first, a separate Activation("softmax") layer after a linear Dense
    w1, b1 = dense(8, 5)
    w2, b2 = dense(5, 3)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "sequential_3", "trainable": True, "dtype": DTYPE3, "layers": [
            k3("InputLayer", {"batch_shape": [None, 8], "dtype": "float32", "sparse": False, "name": "input_layer_3"}),
            k3("Rescaling", {"name": "rescaling_2", "trainable": True, "dtype": DTYPE3, "scale": 1 / 255,
                             "offset": 0.0}, build=[None, 8]),
            k3_dense("dense_7", 5, "sigmoid", 8),
            k3("Dropout", {"name": "dropout_4", "trainable": True, "dtype": DTYPE3, "rate": 0.5, "seed": None,
                           "noise_shape": None}, build=[None, 5]),
            k3_dense("dense_8", 3, "linear", 5),
            k3("Activation", {"name": "activation", "trainable": True, "dtype": DTYPE3, "activation": "softmax"},
               build=[None, 3])],
        "build_input_shape": [None, 8]}, "registered_name": None, "build_config": {"input_shape": [None, 8]},
           "compile_config": {"optimizer": "rmsprop", "loss": "sparse_categorical_crossentropy", "loss_weights": None,
                              "metrics": ["accuracy", k3("SparseTopKCategoricalAccuracy",
                                                         {"name": "top3", "dtype": "float32", "k": 2},
                                                         "keras.metrics")],
                              "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                              "jit_compile": False}}
    write_keras(os.path.join(OUT, "k3_names_differ.keras"), cfg,
                [("rescaling", []), ("dense", [w1, b1]), ("dropout", []), ("dense_1", [w2, b2]), ("activation", [])])
    x = RNG.uniform(0, 255, (4, 8)).round()
    expected("k3_names_differ", x, [("scale", 1 / 255), ("dense", w1, b1, "sigmoid"), ("dense", w2, b2, "softmax")])

    # tf.keras 2.14: the weights under _layer_checkpoint_dependencies; Flatten(data_format="channels_first") of
    # [2, 3, 2] input; Normalization adapted (mean/variance/count variables) is not possible after a Flatten, so plain
    w1, b1 = dense(12, 4)
    w2, b2 = dense(4, 2)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
        k3("InputLayer", {"batch_input_shape": [None, 2, 3, 2], "dtype": "float32", "sparse": False,
                          "ragged": False, "name": "input_1"}, module="keras.layers"),
        k3("Flatten", {"name": "flatten", "trainable": True, "dtype": "float32", "data_format": "channels_first"},
           build=[None, 2, 3, 2]),
        k3_dense("dense", 4, "tanh", 12), k3_dense("dense_1", 2, "softmax", 4)]},
           "registered_name": None, "build_config": {"input_shape": [None, 2, 3, 2]}}
    write_keras(os.path.join(OUT, "k2_14_checkpoint_deps.keras"), cfg,
                [("flatten", []), ("dense", [w1, b1]), ("dense_1", [w2, b2])], keras_version="2.14.0",
                root="_layer_checkpoint_dependencies")
    x = RNG.normal(0, 1, (3, 12))
    expected("k2_14_checkpoint_deps", x, [("flatten_cf", (2, 3, 2)), ("dense", w1, b1, "tanh"),
                                          ("dense", w2, b2, "softmax")])

    # Keras 3 functional chain with an adapted Normalization (variables mean, variance, count) and keras_history
    # inbound nodes; AdamW with an ExponentialDecay schedule; mean squared error on a linear output
    w1, b1 = dense(3, 4)
    w2, b2 = dense(4, 2)
    mean = np.array([1.0, -2.0, 0.5], np.float32)
    var = np.array([4.0, 0.25, 2.25], np.float32)

    def node(src):
        return [{"args": [{"class_name": "__keras_tensor__", "config": {
            "shape": [None, 3], "dtype": "float32", "keras_history": [src, 0, 0]}}], "kwargs": {}}]
    layers = [
        dict(k3("InputLayer", {"batch_shape": [None, 3], "dtype": "float32", "sparse": False, "name": "x"}),
             name="x", inbound_nodes=[]),
        dict(k3("Normalization", {"name": "normalization", "trainable": True, "dtype": DTYPE3, "axis": -1,
                                  "invert": False, "mean": None, "variance": None}, build=[None, 3]),
             name="normalization", inbound_nodes=node("x")),
        dict(k3_dense("h", 4, "relu", 3), name="h", inbound_nodes=node("normalization")),
        dict(k3_dense("y", 2, "linear", 4), name="y", inbound_nodes=node("h"))]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "functional", "trainable": True, "layers": layers, "input_layers": [["x", 0, 0]],
        "output_layers": [["y", 0, 0]]}, "registered_name": "Functional", "build_config": {"input_shape": None},
           "compile_config": {"optimizer": k3("AdamW", {
               "name": "adamw", "learning_rate": k3("ExponentialDecay", {
                   "initial_learning_rate": 0.01, "decay_steps": 100, "decay_rate": 0.5, "staircase": True,
                   "name": "ExponentialDecay"}, "keras.optimizers.schedules"),
               "weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.99, "epsilon": 1e-07, "amsgrad": False},
               "keras.optimizers"), "loss": "mse", "metrics": None}}
    write_keras(os.path.join(OUT, "k3_functional_normalization.keras"), cfg,
                [("input_layer", []), ("normalization", [mean, var, np.array(100, np.int64)]),
                 ("dense", [w1, b1]), ("dense_1", [w2, b2])], model_name="functional")
    x = RNG.normal(0, 2, (5, 3))
    expected("k3_functional_normalization", x, [("norm", mean, var), ("dense", w1, b1, "relu"),
                                                ("dense", w2, b2, "linear")])


# ---------------------------------------------------------------------------------------------- broken files

def broken_files():
    w1, b1 = dense(4, 3)
    base = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
        k3("InputLayer", {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "in"}),
        k3_dense("dense", 3, "softmax", 4)]}, "registered_name": None}
    # the config promises a layer the weights file does not hold
    write_keras(os.path.join(OUT, "bad_missing_weights.keras"), base, [("other", [w1, b1])])
    # kernel of the wrong shape
    write_keras(os.path.join(OUT, "bad_wrong_shape.keras"), base, [("dense", [w1[:3], b1])])
    # a huge declared kernel with (almost) nothing stored: 4 x 200,000,000 float32 = 3.2 GB, never written
    big = json.loads(json.dumps(base))
    big["config"]["layers"][1]["config"]["units"] = 200_000_000
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        g = f.create_group("layers/dense").create_group("vars")
        g.create_dataset("0", (4, 200_000_000), dtype="float32")  # allocated late: no storage
        g.create_dataset("1", (200_000_000,), dtype="float32")
    with zipfile.ZipFile(os.path.join(OUT, "bad_huge_shape.keras"), "w") as zf:
        writestr(zf, "config.json", json.dumps(big))
        writestr(zf, "model.weights.h5", buf.getvalue())
    # a convolution (Keras 2 .h5)
    cfg = {"class_name": "Sequential", "config": {"name": "cnn", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8, 8, 1], "name": "i"}},
        {"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 2, "kernel_size": [3, 3]}},
        {"class_name": "Flatten", "config": {"name": "flatten"}}, k2_dense("dense", 3, "softmax")]}}
    write_k2_h5(os.path.join(OUT, "bad_conv.h5"), cfg, None,
                [("conv2d", [("conv2d/kernel:0", np.zeros((3, 3, 1, 2), np.float32))]),
                 ("flatten", []), ("dense", [("dense/kernel:0", np.zeros((72, 3), np.float32))])], fixed=False)
    # a functional model with a branch (two Dense layers read the input, Add merges them)
    def n2(*srcs):
        return [[[s, 0, 0, {}] for s in srcs]]
    cfg = {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "name": "i", "config": {"batch_input_shape": [None, 4], "name": "i"},
         "inbound_nodes": []},
        dict(k2_dense("a", 3, "relu"), name="a", inbound_nodes=n2("i")),
        dict(k2_dense("b", 3, "relu"), name="b", inbound_nodes=n2("i")),
        {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": n2("a", "b")}],
        "input_layers": [["i", 0, 0]], "output_layers": [["add", 0, 0]]}}
    write_k2_h5(os.path.join(OUT, "bad_branches.h5"), cfg, None,
                [("i", []), ("a", [("a/kernel:0", w1[:, :3]), ("a/bias:0", b1)]),
                 ("b", [("b/kernel:0", w1[:, :3]), ("b/bias:0", b1)]), ("add", [])], fixed=False)
    # a custom layer and an activation Dense4J lacks
    custom = json.loads(json.dumps(base))
    custom["config"]["layers"][1] = {"module": "my_project.layers", "class_name": "Dense", "config":
                                     custom["config"]["layers"][1]["config"], "registered_name": "MyProject>Dense"}
    write_keras(os.path.join(OUT, "bad_custom_layer.keras"), custom, [("dense", [w1, b1])])
    elu = json.loads(json.dumps(base))
    elu["config"]["layers"][1]["config"]["activation"] = "elu"
    write_keras(os.path.join(OUT, "bad_activation.keras"), elu, [("dense", [w1, b1])])
    # a weights-only file (model.save_weights in Keras 2)
    with h5py.File(os.path.join(OUT, "bad_weights_only.h5"), "w") as f:
        save_attr_list(f, "layer_names", ["dense"], False)



def float_layouts():
    """Weights stored as HDF5 floats of each width: IEEE binary16 (every pattern, which jHDF widens), and a 16-bit
    type with bfloat16's layout (8 exponent, 7 fraction bits), which jHDF would read as binary16: refused, not misread."""
    with h5py.File(os.path.join(OUT, "float_layouts.h5"), "w") as f:
        f.create_dataset("f16", data=np.arange(65536, dtype="<u2").view("<f2"))
        f.create_dataset("f64", data=np.array([0.1, -2.5, 1e-300], dtype="<f8"))
        bf16 = h5py.h5t.IEEE_F16LE.copy()
        bf16.set_fields(15, 7, 8, 0, 7)  # sign bit, exponent position and size, mantissa position and size
        bf16.set_ebias(127)
        space = h5py.h5s.create_simple((2,))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_obj_track_times(False)  # no timestamp: the file is rewritten byte for byte
        ds = h5py.h5d.create(f.id, b"bf16", bf16, space, dcpl=dcpl)
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([0x3F80, 0x4049], dtype="<u2"), mtype=bf16)


def compressed_weights():
    """Weights re-saved compressed (Keras itself never compresses): a pruned kernel (~90% exact zeros) that
    deflates a few times over, with the same values uncompressed, LZF-compressed (h5py's own filter) and under a
    filter the importer does not read (LZ4) beside it, and a kernel of zeros that deflates far past the importer's
    bound (H5.MAX_EXPANSION): a memory bomb, refused before it is inflated."""
    rng = np.random.default_rng(7)
    pruned = rng.standard_normal((1000, 31)).astype("<f4")
    pruned[rng.random(pruned.shape) < 0.9] = 0.0
    with h5py.File(os.path.join(OUT, "compressed.h5"), "w", track_order=False) as f:
        f.create_dataset("pruned_plain", data=pruned, track_times=False)
        f.create_dataset("pruned_gzip", data=pruned, compression="gzip", compression_opts=9, shuffle=True,
                         chunks=(250, 31), track_times=False)
        f.create_dataset("zeros_gzip", data=np.zeros((1000, 784), dtype="<f4"), compression="gzip",
                         compression_opts=9, chunks=(100, 784), track_times=False)
        f.create_dataset("pruned_lzf", data=pruned, compression="lzf", chunks=(250, 31), track_times=False)
        # LZ4 (HDF5 filter 32004, from the hdf5plugin package): declared optional, so HDF5 writes the chunks without
        # it when the filter is not installed, but the pipeline still names it; Blosc (32001) the same way, a filter
        # jHDF does not know at all
        for name, filter_id in ((b"pruned_lz4", 32004), (b"pruned_blosc", 32001)):
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk((250, 31))
            dcpl.set_filter(filter_id, h5py.h5z.FLAG_OPTIONAL, (0,))
            dcpl.set_obj_track_times(False)
            ds = h5py.h5d.create(f.id, name, h5py.h5t.IEEE_F32LE, h5py.h5s.create_simple(pruned.shape), dcpl=dcpl)
            ds.write(h5py.h5s.ALL, h5py.h5s.ALL, pruned)


def tf_keras_213_files():
    """tf.keras 2.12 and 2.13 saving_lib.py: _save_container_state names every entry of the model's
    _layer_checkpoint_dependencies, a dict in which a layer with weights appears twice (layer_with_weights-i, then
    layer-j), before _save_state skips the second as saved already; so three Dense layers are stored as dense,
    dense_2 and dense_4 (2.14 numbers them dense, dense_1, dense_2)."""
    w1, b1 = dense(6, 5)
    w2, b2 = dense(5, 4)
    w3, b3 = dense(4, 3)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
        k3("InputLayer", {"batch_input_shape": [None, 6], "dtype": "float32", "sparse": False,
                          "ragged": False, "name": "input_1"}, module="keras.layers"),
        k3_dense("dense", 5, "relu", 6),
        k3("Dropout", {"name": "dropout", "trainable": True, "dtype": "float32", "rate": 0.2, "noise_shape": None,
                       "seed": None}, build=[None, 5]),
        k3_dense("dense_1", 4, "tanh", 5), k3_dense("dense_2", 3, "softmax", 4)]},
           "registered_name": None, "build_config": {"input_shape": [None, 6]}}
    write_keras(os.path.join(OUT, "k2_13_checkpoint_deps.keras"), cfg,
                [("dense", [w1, b1]), ("dropout", []), ("dense_2", [w2, b2]), ("dense_4", [w3, b3])],
                keras_version="2.13.1", root="_layer_checkpoint_dependencies")
    x = RNG.normal(0, 1, (3, 6))
    expected("k2_13_checkpoint_deps", x, [("dense", w1, b1, "relu"), ("dense", w2, b2, "tanh"),
                                          ("dense", w3, b3, "softmax")])


def bfloat16_files():
    """Keras 3 with dtype policy "bfloat16": H5IOStore stores each variable with h5py, which writes bfloat16 (a
    2-byte numpy void here) as an HDF5 opaque type, tagged by Keras 3.3+ with attrs["dtype"] = "bfloat16". Dense4J's
    HDF5 reader cannot parse that type: refused, naming the layer and the way out."""
    w, b = dense(4, 3)

    def bf16(a):
        return (a.astype("<f4").view("<u4") >> 16).astype("<u2").view("V2")
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "bfloat16"}, "registered_name": None}
    layer = k3_dense("dense", 3, "softmax", 4)
    layer["config"]["dtype"] = policy
    cfg = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": True,
           "dtype": policy, "layers": [k3("InputLayer", {"batch_shape": [None, 4], "dtype": "float32",
                                                          "sparse": False, "name": "input_layer"}), layer]},
           "registered_name": None, "build_config": {"input_shape": [None, 4]}}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        g = f.create_group("layers/dense").create_group("vars")
        for i, a in enumerate((w, b)):
            g[str(i)] = bf16(a)
            g[str(i)].attrs["dtype"] = "bfloat16"
        f.create_group("vars")
    with zipfile.ZipFile(os.path.join(OUT, "k3_bfloat16.keras"), "w") as zf:
        writestr(zf, "metadata.json", json.dumps({"keras_version": "3.8.0", "date_saved": "2025-01-01@00:00:00"}))
        writestr(zf, "config.json", json.dumps(cfg))
        writestr(zf, "model.weights.h5", buf.getvalue())


def preprocessing_variants():
    """Keras 3.8: Rescaling(1/127.5, offset=-1) (pixels to [-1, 1]); Normalization(axis=1) on a flat input, which is
    its feature axis counted with the batch axis (get_config writes the axis tuple as a list); and a Dense layer under
    a quantized dtype policy (QuantizedDTypePolicy: a quantization mode, no name), refused."""
    w1, b1 = dense(6, 4)
    w2, b2 = dense(4, 3)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": True,
           "dtype": DTYPE3, "layers": [
               k3("InputLayer", {"batch_shape": [None, 6], "dtype": "float32", "sparse": False, "name": "input_layer"}),
               k3("Rescaling", {"name": "rescaling", "trainable": True, "dtype": DTYPE3, "scale": 1 / 127.5,
                                "offset": -1.0}, build=[None, 6]),
               k3_dense("dense", 4, "relu", 6), k3_dense("dense_1", 3, "softmax", 4)]},
           "registered_name": None, "build_config": {"input_shape": [None, 6]}}
    write_keras(os.path.join(OUT, "k3_rescaling_offset.keras"), cfg,
                [("rescaling", []), ("dense", [w1, b1]), ("dense_1", [w2, b2])])
    x = RNG.uniform(0, 255, (4, 6)).round()
    expected("k3_rescaling_offset", x, [("rescale", 1 / 127.5, -1.0), ("dense", w1, b1, "relu"),
                                        ("dense", w2, b2, "softmax")])

    w, b = dense(3, 2)
    mean = np.array([0.5, -1.0, 2.0], np.float32)
    var = np.array([1.0, 4.0, 0.25], np.float32)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": True,
           "dtype": DTYPE3, "layers": [
               k3("InputLayer", {"batch_shape": [None, 3], "dtype": "float32", "sparse": False, "name": "input_layer"}),
               k3("Normalization", {"name": "normalization", "trainable": True, "dtype": DTYPE3, "axis": [1],
                                    "invert": False, "mean": mean.tolist(), "variance": var.tolist()},
                  build=[None, 3]),
               k3_dense("dense", 2, "linear", 3)]},
           "registered_name": None, "build_config": {"input_shape": [None, 3]}}
    write_keras(os.path.join(OUT, "k3_normalization_axis1.keras"), cfg, [("normalization", []), ("dense", [w, b])])
    x = RNG.normal(0, 2, (3, 3))
    expected("k3_normalization_axis1", x, [("norm", mean, var), ("dense", w, b, "linear")])

    layer = k3_dense("dense", 2, "softmax", 3)
    layer["config"]["dtype"] = {"module": "keras", "class_name": "QuantizedDTypePolicy",
                                "config": {"mode": "int8", "source_name": "float32"}, "registered_name": None}
    cfg = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": True,
           "dtype": DTYPE3, "layers": [
               k3("InputLayer", {"batch_shape": [None, 3], "dtype": "float32", "sparse": False, "name": "input_layer"}),
               layer]}, "registered_name": None, "build_config": {"input_shape": [None, 3]}}
    write_keras(os.path.join(OUT, "bad_quantized.keras"), cfg,
                [("dense", [np.zeros((3, 2), np.int8), np.zeros(2, np.float32), np.ones(2, np.float32)])])


def mixed_precision_h5():
    """tf.keras 2.11 .h5 of a mixed_float16 model: Dense layers under Policy("mixed_float16") (weights stored as
    float32, the policy's variable dtype), a float32 Activation("softmax") last (as the mixed precision guide says),
    compiled with Adam wrapped in LossScaleOptimizerV3 (get_config: inner_optimizer, dynamic, initial_scale,
    dynamic_growth_steps)."""
    w1, b1 = dense(5, 4)
    w2, b2 = dense(4, 3)
    policy = {"class_name": "Policy", "config": {"name": "mixed_float16"}}
    cfg = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 5], "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "input_1"}},
        k2_dense("dense", 4, "relu", extra={"dtype": policy}),
        k2_dense("dense_1", 3, "linear", extra={"dtype": policy}),
        {"class_name": "Activation", "config": {"name": "predictions", "trainable": True, "dtype": "float32",
                                                "activation": "softmax"}}]}}
    adam = {"class_name": "Adam", "config": dict(ADAM2["config"])}
    tc = {"loss": "sparse_categorical_crossentropy", "metrics": [[{"class_name": "MeanMetricWrapper", "config": {
        "name": "accuracy", "dtype": "float32", "fn": "sparse_categorical_accuracy"}}]], "weighted_metrics": None,
          "loss_weights": None, "optimizer_config": {"class_name": "LossScaleOptimizerV3", "config": {
              "name": "LossScaleOptimizerV3", "inner_optimizer": adam, "dynamic": True, "initial_scale": 32768.0,
              "dynamic_growth_steps": 2000}}}
    write_k2_h5(os.path.join(OUT, "k2_11_mixed_precision.h5"), cfg, tc,
                [("dense", [("dense/kernel:0", w1), ("dense/bias:0", b1)]),
                 ("dense_1", [("dense_1/kernel:0", w2), ("dense_1/bias:0", b2)]), ("predictions", [])],
                fixed=False, keras_version="2.11.0")
    x = RNG.normal(0, 1, (3, 5))
    expected("k2_11_mixed_precision", x, [("dense", w1, b1, "relu"), ("dense", w2, b2, "softmax")])


def dict_input_functional():
    """Keras 3 functional model built on a dict of inputs (keras.Model({"x": x}, y)): get_config writes input_layers
    as an object of [layer, node, tensor] by key."""
    w, b = dense(3, 2)
    history = [{"args": [{"class_name": "__keras_tensor__", "config": {
        "shape": [None, 3], "dtype": "float32", "keras_history": ["x", 0, 0]}}], "kwargs": {}}]
    layers = [dict(k3("InputLayer", {"batch_shape": [None, 3], "dtype": "float32", "sparse": False, "name": "x"}),
                   name="x", inbound_nodes=[]),
              dict(k3_dense("y", 2, "softmax", 3), name="y", inbound_nodes=history)]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "functional", "trainable": True, "layers": layers, "input_layers": {"x": ["x", 0, 0]},
        "output_layers": [["y", 0, 0]]}, "registered_name": "Functional", "build_config": {"input_shape": None}}
    write_keras(os.path.join(OUT, "k3_dict_input.keras"), cfg, [("input_layer", []), ("dense", [w, b])],
                model_name="functional")
    x = RNG.normal(0, 1, (3, 3))
    expected("k3_dict_input", x, [("dense", w, b, "softmax")])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    keras2_files()
    keras3_h5_files()
    keras3_files()
    broken_files()
    float_layouts()
    compressed_weights()
    tf_keras_213_files()
    bfloat16_files()
    preprocessing_variants()
    mixed_precision_h5()
    dict_input_functional()
    print("wrote", sorted(os.listdir(OUT)))
