"""Recover: a shipped model.onnx (+ guide.onnx) -> PyTorch checkpoints with the same weights.

Why: the checkpoints are not shipped (models/ holds only ONNX, within the 25 MB budget), yet calibrating, evaluating
or fine-tuning the shipped model needs it in PyTorch. Retraining takes two hours and gives a different model; the
weights are all in the graph already.

How: export.export_onnx folds constants, so a convolution's weight reaches the graph reshaped (Conv1dAs2d adds an
axis) under a generated name. Instead of reverse-engineering each fold, this exports a model of the same
hyperparameters whose every float parameter element holds its own index (1, 2, 3, ... exact in float32 below 2^24)
through the same export; the tracer is deterministic, so each initializer of that fingerprint graph has the same name
and shape as the shipped one and its values say which parameter elements it holds. Any initializer computed from the
weights by arithmetic rather than a reshape would show non-index values: then recovery fails loudly. The result is
checked against the shipped parity.json (export.write_parity) when there is one.

Run: python3 -m diffusion_drums.recover --model-dir ../models/drums --out checkpoints
     (-> checkpoints/sub/last.pt and, with a guide in the manifest, checkpoints/guide/last.pt)
"""
import argparse
import json
import os
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .export import export_onnx
from .model import EDMDenoiser
from .params import Params

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RecoveryError(Exception):
    pass


def _initializers(path: str) -> dict:
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


def recover_weights(onnx_path: str, p: Params) -> EDMDenoiser:
    """The EDMDenoiser of hyperparameters p whose export would be onnx_path (eval mode). Raises RecoveryError when the
    graph does not match p or a parameter cannot be read back."""
    model = EDMDenoiser(p).eval()
    state = model.state_dict()
    keys = [k for k, v in state.items() if v.dtype == torch.float32]
    sizes = [state[k].numel() for k in keys]
    total = sum(sizes)
    if total >= 2 ** 24:
        raise RecoveryError(f"{total} parameters: too many to fingerprint exactly in float32")
    starts = np.cumsum([0] + sizes)
    fingerprint = {k: (torch.arange(int(s), int(s) + n, dtype=torch.float32) + 1).view_as(state[k])
                   for k, s, n in zip(keys, starts, sizes)}
    model.load_state_dict({**state, **fingerprint})
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "fingerprint.onnx")
        with torch.no_grad():
            export_onnx(model, probe)
        marks = _initializers(probe)
    shipped = _initializers(onnx_path)
    flat = np.full(total, np.nan, dtype=np.float32)
    for name, mark in marks.items():
        if mark.dtype != np.float32:
            continue
        if name not in shipped or shipped[name].shape != mark.shape:
            raise RecoveryError(f"{os.path.basename(onnx_path)} has no initializer {name} {mark.shape}: "
                                "the graph was exported from other hyperparameters or code")
        ids = mark.ravel()
        if ids.min() < 1 or ids.max() > total or not np.array_equal(ids, np.round(ids)):
            raise RecoveryError(f"initializer {name} is not a reshape of the weights (computed from them, or a float "
                                "constant of the graph): this export cannot be read back element by element")
        flat[ids.astype(np.int64) - 1] = shipped[name].ravel()
    lost = [k for k, s, n in zip(keys, starts, sizes) if np.isnan(flat[s:s + n]).any()]
    if lost:
        raise RecoveryError(f"not in the graph: {', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}")
    model.load_state_dict({**state, **{k: torch.from_numpy(flat[s:s + n].copy()).view_as(state[k])
                                       for k, s, n in zip(keys, starts, sizes)}})
    return model


def parity_error(model, fixture_path: str) -> float:
    """Max abs difference between the model's output and a parity.json fixture's (export.write_parity)."""
    fx = json.load(open(fixture_path))
    b, length = fx["batch"], fx["length"]
    with torch.no_grad():
        y = model(torch.tensor(fx["x"]).view(b, 1, length), torch.tensor(fx["sigma"]),
                  torch.tensor(fx["class_id"]), torch.tensor(fx["velocity"]))
    return float((y.flatten() - torch.tensor(fx["denoised"])).abs().max())


def save_checkpoint(path: str, model: EDMDenoiser, p: Params, step: int, held_out, training_minutes: float = 0.0):
    """A checkpoint train.load_model reads: the recovered weights as both model and EMA, with the step count and
    training time the manifest states (evaluate reports them). No optimiser state: start further training from it
    with train --init, not as a plain resume."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"model": model.state_dict(), "ema": model.state_dict(), "step": step, "params": p.to_dict(),
                "data": {"heldOutKits": list(held_out)}, "elapsed_s": 60.0 * float(training_minutes),
                "recoveredFrom": "onnx"}, path)


def main(argv=None):
    from .sampling import Autoguided
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", default=os.path.join(HERE, "..", "models", "drums"))
    ap.add_argument("--out", default=os.path.join(HERE, "checkpoints"))
    a = ap.parse_args(argv)
    man = json.load(open(os.path.join(a.model_dir, "manifest.json")))
    hp = man["training"]["hyperparameters"]
    p = Params.from_dict(hp)
    model = recover_weights(os.path.join(a.model_dir, man["model"]), p)
    held = man["training"].get("heldOutKits", [])
    save_checkpoint(os.path.join(a.out, "sub", "last.pt"), model, p, int(man["training"].get("steps", 0)), held,
                    man["training"].get("trainingMinutes", 0.0))
    checked = model
    if man.get("guide"):
        gp = Params.from_dict({**hp, "channels": man["training"]["guide"]["channels"]})
        guide = recover_weights(os.path.join(a.model_dir, man["guide"]["model"]), gp)
        save_checkpoint(os.path.join(a.out, "guide", "last.pt"), guide, gp, int(man["guide"].get("trainingSteps", 0)),
                        held, man["training"].get("guide", {}).get("trainingMinutes", 0.0))
        checked = Autoguided(model, guide, man["guide"]["weight"], man["guide"]["minSigma"])  # as write_parity saw it
    fixture = os.path.join(a.model_dir, "parity.json")
    if os.path.exists(fixture):
        err = parity_error(checked, fixture)
        print(f"recover: parity.json max abs error {err:.2e}")
        if err > 1e-4:
            raise SystemExit(f"recover: the recovered weights miss parity.json by {err:.3g} (> 1e-4)")
    print(f"recover: checkpoints in {a.out}/sub{' and ' + a.out + '/guide' if man.get('guide') else ''}")


if __name__ == "__main__":
    main()
