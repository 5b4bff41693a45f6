"""TF.js graph models evaluated with torch (vibe.models.tfjs_graph), against naive numpy references."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from vibe.models.tfjs_graph import TfjsGraph, read_weights


def _naive_conv_same(x_nhwc: np.ndarray, kernel_hwio: np.ndarray, stride: int) -> np.ndarray:
    """TensorFlow's SAME convolution, one output pixel at a time (the extra padding goes after)."""
    _, h, w, _ = x_nhwc.shape
    kh, kw, _, co = kernel_hwio.shape
    oh, ow = -(-h // stride), -(-w // stride)
    pad_h, pad_w = max((oh - 1) * stride + kh - h, 0), max((ow - 1) * stride + kw - w, 0)
    padded = np.pad(x_nhwc, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((1, oh, ow, co))
    for i in range(oh):
        for j in range(ow):
            patch = padded[0, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[0, i, j] = np.tensordot(patch, kernel_hwio, axes=([0, 1, 2], [0, 1, 2]))
    return out


def _node(name, op, inputs=(), **attr):
    return {"name": name, "op": op, "input": list(inputs), "attr": attr}


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(*values: int) -> dict:
    return {"list": {"i": [str(v) for v in values]}}


def _write_model(tmp_path, nodes, weights: dict[str, tuple[np.ndarray, dict | None]], outputs: list[str]):
    """A model.json + one shard; ``weights``: name → (array, quantization or None)."""
    specs, blobs = [], []
    for name, (array, quant) in weights.items():
        spec = {"name": name, "shape": list(array.shape), "dtype": "int32" if array.dtype.kind == "i" else "float32"}
        if quant == "float16":
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            blobs.append(array.astype(np.float16).tobytes())
        elif quant is not None:  # uint8 affine
            spec["quantization"] = {"dtype": "uint8", "scale": quant["scale"], "min": quant["min"]}
            blobs.append(np.round((array - quant["min"]) / quant["scale"]).astype(np.uint8).tobytes())
        else:
            blobs.append(array.astype(np.int32 if array.dtype.kind == "i" else np.float32).tobytes())
        specs.append(spec)
    (tmp_path / "w.bin").write_bytes(b"".join(blobs))
    model = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": ["w.bin"], "weights": specs}],
        "signature": {"inputs": {"x": {"name": "x:0"}}, "outputs": {o: {"name": o} for o in outputs}},
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    return path


def test_conv_pool_and_shape_ops_match_numpy(tmp_path):
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    bias = rng.normal(size=(4,)).astype(np.float32)
    nodes = [
        _node("x", "Placeholder"),
        _node("k", "Const"), _node("b", "Const"), _node("perm", "Const"), _node("axis", "Const"),
        _node("sizes", "Const"), _node("split_dim", "Const"), _node("size", "Const"),
        _node("conv", "Conv2D", ["x", "k"], padding=_s("SAME"), strides=_ints(1, 2, 2, 1), data_format=_s("NHWC")),
        _node("biased", "AddV2", ["conv", "b"]),
        _node("act", "LeakyRelu", ["biased"], alpha={"f": 0.1}),
        _node("pool", "MaxPool", ["act"], ksize=_ints(1, 2, 2, 1), strides=_ints(1, 2, 2, 1), padding=_s("VALID")),
        _node("split", "SplitV", ["act", "sizes", "split_dim"], num_split={"i": "2"}),
        _node("cat", "ConcatV2", ["split:1", "split", "axis"]),
        _node("up", "ResizeBilinear", ["pool", "size"], half_pixel_centers={"b": True}),
        _node("nchw", "Transpose", ["cat", "perm"]),
        _node("prob", "Sigmoid", ["nchw"]),
    ]  # fmt: skip
    weights = {
        "k": (kernel, "float16"), "b": (bias, None), "perm": (np.array([0, 3, 1, 2]), None),
        "axis": (np.array(3), None), "sizes": (np.array([1, 3]), None), "split_dim": (np.array(3), None),
        "size": (np.array([4, 6]), None),
    }  # fmt: skip
    graph = TfjsGraph(_write_model(tmp_path, nodes, weights, ["prob:0", "pool:0", "up:0"]))
    x = rng.normal(size=(1, 7, 10, 2)).astype(np.float32)
    out = graph({"x": x})

    kernel16 = kernel.astype(np.float16).astype(np.float64)  # as stored
    act = _naive_conv_same(x.astype(np.float64), kernel16, 2) + bias
    act = np.where(act > 0, act, 0.1 * act)  # (1, 4, 5, 4)
    cat = np.concatenate([act[..., 1:], act[..., :1]], axis=3)
    np.testing.assert_allclose(out["prob:0"].numpy(), 1 / (1 + np.exp(-cat.transpose(0, 3, 1, 2))), atol=1e-5)
    pool = act[:, :4, :4].reshape(1, 2, 2, 2, 2, 4).max(axis=(2, 4))  # VALID 2x2: the odd last column dropped
    np.testing.assert_allclose(out["pool:0"].numpy(), pool, atol=1e-5)
    assert tuple(out["up:0"].shape) == (1, 4, 6, 4)
    # half-pixel bilinear ×2 of a 2-pixel axis: the first output row is the first input row
    np.testing.assert_allclose(out["up:0"].numpy()[0, 0, 0], pool[0, 0, 0], atol=1e-5)


def test_uint8_quantised_weights_are_affine(tmp_path):
    values = np.array([0.0, 0.5, 1.0, 2.5], np.float32)
    path = _write_model(tmp_path, [], {"w": (values, {"scale": 0.5, "min": 0.0})}, [])
    manifest = json.loads(path.read_text())["weightsManifest"]
    np.testing.assert_allclose(read_weights(manifest, tmp_path)["w"], values)


def test_unknown_op_is_refused_at_load(tmp_path):
    nodes = [_node("x", "Placeholder"), _node("y", "NonMaxSuppressionV5", ["x"])]
    with pytest.raises(NotImplementedError, match="NonMaxSuppressionV5"):
        TfjsGraph(_write_model(tmp_path, nodes, {}, ["y:0"]))
