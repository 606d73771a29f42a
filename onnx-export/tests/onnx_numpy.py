"""A small NumPy interpreter for the ONNX operators our exported graph uses.

onnxruntime is not packaged for Debian's Python, so the export round trip is checked by evaluating the
.onnx file itself (not the torch module) with these reference definitions of each operator.
"""
import numpy as np
import onnx
from onnx import numpy_helper

_DT = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv1d(x, w, b, stride, pads, group):
    assert group == 1 and x.ndim == 3
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[1])))
    k = w.shape[2]
    t_out = (xp.shape[2] - k) // stride + 1
    idx = stride * np.arange(t_out)[:, None] + np.arange(k)[None, :]  # [T, K]
    y = np.einsum("bctk,ock->bot", xp[:, :, idx], w, optimize=True)
    return y + (b[None, :, None] if b is not None else 0)


def _convtranspose1d(x, w, b, stride, pads, out_pad):
    bsz, ci, t = x.shape
    k = w.shape[2]
    full = np.zeros((bsz, w.shape[1], (t - 1) * stride + k + out_pad), np.float64)
    contrib = np.einsum("bct,cok->botk", x, w, optimize=True)  # [B, Co, T, K]
    for j in range(k):
        full[:, :, j:j + (t - 1) * stride + 1:stride] += contrib[:, :, :, j]
    y = full[:, :, pads[0]:full.shape[2] - pads[1]]
    return y + (b[None, :, None] if b is not None else 0)


def _resize_linear_last_axis(x, scales):
    """Resize, mode linear, half_pixel coordinates, scaling the last axis only (output sample j reads input position
    (j + 0.5) / scale - 0.5, clamped to the ends)."""
    assert all(float(s) == 1.0 for s in scales[:-1])
    t = x.shape[-1]
    pos = np.clip((np.arange(int(t * float(scales[-1]))) + 0.5) / float(scales[-1]) - 0.5, 0, t - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    w = (pos - lo).astype(np.float64)
    return x[..., lo] * (1 - w) + x[..., hi] * w


def run(model_path, feeds: dict):
    m = onnx.load(model_path)
    env = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    env.update(feeds)
    for n in m.graph.node:
        a = _attrs(n)
        i = [env[name] if name else None for name in n.input]
        op = n.op_type
        if op == "Constant":
            out = [numpy_helper.to_array(a["value"])]
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power}[op]
            r = f(i[0], i[1])
            if op == "Div" and np.issubdtype(i[0].dtype, np.integer):
                r = (i[0] // i[1])
            out = [np.asarray(r).astype(i[0].dtype)]
        elif op == "Sigmoid":
            out = [1 / (1 + np.exp(-i[0]))]
        elif op in ("Cos", "Sin", "Sqrt", "Log", "Exp", "Reciprocal", "Neg", "Tanh", "Erf"):
            f = {"Cos": np.cos, "Sin": np.sin, "Sqrt": np.sqrt, "Log": np.log, "Exp": np.exp,
                 "Reciprocal": lambda v: 1 / v, "Neg": np.negative, "Tanh": np.tanh}[op]
            out = [f(i[0]).astype(i[0].dtype)]
        elif op == "Shape":
            out = [np.array(i[0].shape, np.int64)]
        elif op == "Reshape":
            shape = [int(s) if s != 0 else i[0].shape[k] for k, s in enumerate(i[1])]
            out = [i[0].reshape(shape)]
        elif op == "Unsqueeze":
            out = [np.expand_dims(i[0], tuple(int(v) for v in i[1]))]
        elif op == "Squeeze":
            out = [np.squeeze(i[0], axis=tuple(int(v) for v in i[1])) if len(i) > 1 and i[1] is not None else np.squeeze(i[0])]
        elif op == "Gather":
            out = [np.take(i[0], i[1], axis=a.get("axis", 0))]
        elif op == "Concat":
            out = [np.concatenate(i, axis=a["axis"])]
        elif op == "Slice":
            data, starts, ends = i[0], i[1], i[2]
            axes = i[3] if len(i) > 3 and i[3] is not None else range(len(starts))
            steps = i[4] if len(i) > 4 and i[4] is not None else [1] * len(starts)
            sl = [slice(None)] * data.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                sl[int(ax)] = slice(int(s), int(e), int(st))
            out = [data[tuple(sl)]]
        elif op == "Split":
            ax = a.get("axis", 0)
            sizes = i[1] if len(i) > 1 and i[1] is not None else [i[0].shape[ax] // len(n.output)] * len(n.output)
            out = np.split(i[0], np.cumsum(sizes)[:-1], axis=ax)
        elif op == "Cast":
            out = [i[0].astype(_DT[a["to"]])]
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * A @ B
            if len(i) > 2 and i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
            out = [y.astype(np.float32)]
        elif op == "MatMul":
            out = [i[0] @ i[1]]
        elif op == "Einsum":
            out = [np.einsum(a["equation"], *i).astype(np.float32)]
        elif op == "Softmax":
            ax = a.get("axis", -1)
            e = np.exp(i[0] - i[0].max(axis=ax, keepdims=True))
            out = [e / e.sum(axis=ax, keepdims=True)]
        elif op == "Transpose":
            out = [np.transpose(i[0], a.get("perm"))]
        elif op == "InstanceNormalization":
            x = i[0].astype(np.float64)
            axes = tuple(range(2, x.ndim))
            y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + a.get("epsilon", 1e-5))
            shape = (1, -1) + (1,) * (x.ndim - 2)
            out = [(y * i[1].reshape(shape) + i[2].reshape(shape)).astype(np.float32)]
        elif op == "Conv" and i[0].ndim == 4:  # a 1-D convolution written over [B, C, 1, T] (export.Conv1dAs2d)
            assert i[0].shape[2] == 1 and i[1].shape[2] == 1 and set(a.get("dilations", [1, 1])) == {1}
            pads = a.get("pads", [0, 0, 0, 0])
            assert pads[0] == pads[2] == 0 and a.get("strides", [1, 1])[0] == 1
            y = _conv1d(i[0][:, :, 0].astype(np.float64), i[1][:, :, 0].astype(np.float64), i[2] if len(i) > 2 else None,
                        a.get("strides", [1, 1])[1], [pads[1], pads[3]], a.get("group", 1))
            out = [y[:, :, None].astype(np.float32)]
        elif op == "Conv":
            k = i[1].shape[2]
            assert a.get("dilations", [1])[0] == 1 and len(a.get("kernel_shape", [k])) == 1
            out = [_conv1d(i[0].astype(np.float64), i[1].astype(np.float64), i[2] if len(i) > 2 else None,
                           a.get("strides", [1])[0], a.get("pads", [0, 0]), a.get("group", 1)).astype(np.float32)]
        elif op == "ConvTranspose":
            out = [_convtranspose1d(i[0].astype(np.float64), i[1].astype(np.float64), i[2] if len(i) > 2 else None,
                                    a.get("strides", [1])[0], a.get("pads", [0, 0]),
                                    a.get("output_padding", [0])[0]).astype(np.float32)]
        elif op == "Expand":
            out = [i[0] * np.ones(tuple(int(v) for v in i[1]), i[0].dtype)]
        elif op == "ConstantOfShape":
            v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            out = [np.full(tuple(int(s) for s in i[0]), v.flatten()[0], v.dtype)]
        elif op == "CumSum":
            assert not a.get("exclusive", 0) and not a.get("reverse", 0)
            out = [np.cumsum(i[0], axis=int(i[1])).astype(i[0].dtype)]
        elif op == "Range":
            out = [np.arange(i[0], i[1], i[2]).astype(i[0].dtype)]
        elif op == "Exp":
            out = [np.exp(i[0])]
        elif op == "ReduceSum":
            axes = tuple(int(v) for v in i[1]) if len(i) > 1 and i[1] is not None else None
            out = [i[0].sum(axis=axes, keepdims=bool(a.get("keepdims", 1))).astype(i[0].dtype)]
        elif op == "Resize":
            assert a.get("mode") == b"linear" and a.get("coordinate_transformation_mode") == b"half_pixel"
            assert len(i) > 2 and i[2] is not None and i[2].size, "Resize by scales only"
            out = [_resize_linear_last_axis(i[0].astype(np.float64), i[2]).astype(np.float32)]
        elif op == "Equal":
            out = [np.equal(i[0], i[1])]
        elif op == "Where":
            out = [np.where(i[0], i[1], i[2])]
        else:
            raise NotImplementedError(f"ONNX op {op} not in the NumPy reference interpreter")
        for name, v in zip(n.output, out):
            env[name] = np.asarray(v)
    return {o.name: env[o.name] for o in m.graph.output}
