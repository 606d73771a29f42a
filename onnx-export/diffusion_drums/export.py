"""Export: checkpoint (EMA weights) -> model.onnx + manifest.json (+ parity.json) per docs/model-contract.md;
with --guide also guide.onnx, the weaker model for autoguidance (sampling.Autoguided), named by the manifest's "guide";
with --calibration also calibration.json, the per-class spectral calibration (diffusion_drums.calibrate), named by
the manifest's "calibration".

Run: python3 -m diffusion_drums.export --checkpoint checkpoints/last.pt --out ../models/drums
"""
import argparse
import copy
import datetime
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

from .params import CLASSES, NULL_CLASS_ID, Params
from .model import EDMDenoiser, count_parameters
from .sampling import Autoguided

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPUT_NAMES = ["x", "sigma", "class_id", "velocity"]
DESCRIPTOR_INPUT = "descriptor"  # [B, D+1] f32, only in a graph of a model with Params.descriptors
OUTPUT_NAMES = ["denoised"]


def input_names(p: Params):
    return INPUT_NAMES + ([DESCRIPTOR_INPUT] if p.descriptors else [])


def example_inputs(p: Params, batch: int = 2, length: int = None, seed: int = 0):
    """Fixed inputs: x [B,1,L] f32, sigma [B] f32, class_id [B] i64, velocity [B] f32; with descriptors also
    descriptor [B, D+1] f32 (the first item's given, the second's not, and so on)."""
    g = torch.Generator().manual_seed(seed)
    length = length or p.length_multiple * 2
    sigma = torch.tensor([0.05, 1.5, 0.3, 8.0][:batch] + [1.0] * max(0, batch - 4), dtype=torch.float32)
    x = 0.1 * torch.randn(batch, 1, length, generator=g) + sigma.view(-1, 1, 1) * torch.randn(batch, 1, length, generator=g)
    class_id = torch.tensor([(1 + 4 * i) % (NULL_CLASS_ID + 1) for i in range(batch)], dtype=torch.int64)
    velocity = torch.linspace(0.9, 0.4, batch)
    if not p.descriptors:
        return x, sigma, class_id, velocity
    given = (torch.arange(batch) % 2 == 0).float()  # [B]
    values = torch.randn(batch, p.descriptors, generator=g) * given[:, None]
    return x, sigma, class_id, velocity, torch.cat([values, given[:, None]], 1)


class Conv1dAs2d(nn.Module):
    """A Conv1d computed as a Conv2d over [B, C, 1, T] with the same weights (same result to float rounding).

    Why: ONNX Runtime's CPU provider rewrites 4-D convolutions into its blocked NCHWc layout and runs them with direct
    AVX2/AVX-512 kernels; a 3-D (1-D) Conv stays on im2col + one matrix product per batch item. On the shipped drum
    model (batch 8, 22528 samples, one thread) that made the whole call about 15 % faster, reorders included."""

    def __init__(self, conv: nn.Conv1d):
        super().__init__()
        self.conv = conv

    def forward(self, x):  # x: [B, C_in, T] -> [B, C_out, T']
        c = self.conv
        y = F.conv2d(x.unsqueeze(2), c.weight.unsqueeze(2), c.bias, stride=(1, c.stride[0]), padding=(0, c.padding[0]),
                     dilation=(1, c.dilation[0]), groups=c.groups)  # [B, C_out, 1, T']
        return y.squeeze(2)


def for_onnx_runtime(model: EDMDenoiser, block: int = 16) -> EDMDenoiser:
    """A copy of the model whose convolutions ONNX Runtime runs fastest on CPU: each Conv1d with a multiple of `block`
    output channels becomes a Conv1dAs2d. Narrower ones (the band path's 8 bands and gains) stay 1-D: padded to a
    block, the band filter ran no faster and its 8-channel full-rate output cost 3.6 ms more to reorder back."""
    model = copy.deepcopy(model).eval()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv1d) and child.out_channels % block == 0 and child.padding_mode == "zeros":
                setattr(parent, name, Conv1dAs2d(child))
    return model


def export_onnx(model: EDMDenoiser, path: str, opset: int = 17):
    """Trace and export with dynamic batch and length; checks the graph with onnx.checker. The graph computes the
    model's function with ONNX Runtime's fast CPU kernels in mind (for_onnx_runtime); the weights are the model's."""
    model = for_onnx_runtime(model)
    args = example_inputs(model.p, batch=2, length=model.p.length_multiple * 4)
    torch.onnx.export(model, args, path, opset_version=opset, input_names=input_names(model.p),
                      output_names=OUTPUT_NAMES,
                      dynamic_axes={"x": {0: "batch", 2: "length"}, "sigma": {0: "batch"}, "class_id": {0: "batch"},
                                    "velocity": {0: "batch"}, DESCRIPTOR_INPUT: {0: "batch"},
                                    "denoised": {0: "batch", 2: "length"}},
                      do_constant_folding=True)
    m = onnx.load(path)
    d = m.graph.output[0].type.tensor_type.shape.dim[1]  # the tracer names the channel axis; it is always 1
    d.Clear()
    d.dim_value = 1
    onnx.save(m, path)
    onnx.checker.check_model(m)
    return m


def manifest(p: Params, data_meta: dict, train_info: dict, defaults: dict, model_file: str = "model.onnx",
             guide: dict = None, calibration_file: str = None) -> dict:
    kits = data_meta.get("kits", [])
    from .dataset import DEBIAN_LICENCES, DESCRIPTOR_NAMES
    lic = lambda k: DEBIAN_LICENCES.get(k["kit"], k["licence"]) if k["licence"].startswith("not stated") else k["licence"]
    data_txt = "; ".join(f"{k['kit']} ({lic(k)[:60]})" for k in kits) or "user data"
    return {
        "formatVersion": 1,
        "name": "diffusion-drums",
        "model": model_file,
        "sampleRateHz": p.sample_rate_hz,
        "clipSamples": p.clip_samples,
        "lengthMultiple": p.length_multiple,
        "classes": list(CLASSES),
        "nullClassId": NULL_CLASS_ID,
        "conditioning": {"class": True, "velocity": True,
                         **({"descriptors": list(DESCRIPTOR_NAMES[:p.descriptors])} if p.descriptors else {})},
        "parameterization": "edm",
        "sigmaData": p.sigma_data, "sigmaMin": p.sigma_min, "sigmaMax": p.sigma_max,
        "inputs": {"x": "x", "sigma": "sigma", "classId": "class_id", "velocity": "velocity",
                   **({"descriptor": DESCRIPTOR_INPUT} if p.descriptors else {})},
        **({"descriptorPrior": p.descriptor_prior} if p.descriptors else {}),
        "outputs": {"denoised": "denoised"},
        "defaults": defaults,
        "training": {"data": "Debian hydrogen-drumkits + hydrogen-data kits, fluid-soundfont-gm renders: " + data_txt,
                     "heldOutKits": data_meta.get("heldOutKits", []),
                     "hyperparameters": p.to_dict(), **train_info},
        "analytic": None,
        **({"guide": guide} if guide else {}),
        **({"calibration": calibration_file} if calibration_file else {}),
    }


def write_parity(model, path: str):
    """Small fixture for the engine's ONNX Runtime parity test: inputs and PyTorch outputs (2 items). model: the
    EDMDenoiser, or an Autoguided pair (then the items' sigmas 0.05 and 1.5 test both sides of its minSigma)."""
    x, sigma, class_id, velocity, *descriptor = example_inputs(model.p, batch=2, length=model.p.length_multiple * 2)
    with torch.no_grad():
        y = model(x, sigma, class_id, velocity, *descriptor)
    fx = {"comment": "inputs and PyTorch outputs of model.onnx; ONNX Runtime must agree within 1e-4 (abs)",
          "batch": 2, "length": int(x.shape[-1]),
          "x": [round(float(v), 8) for v in x.flatten()], "sigma": sigma.tolist(), "class_id": class_id.tolist(),
          "velocity": velocity.tolist(),
          **({"descriptor": [round(float(v), 8) for v in descriptor[0].flatten()]} if descriptor else {}),
          "denoised": [round(float(v), 8) for v in y.flatten()],
          "tolerance": 1e-4}
    with open(path, "w") as f:
        json.dump(fx, f)
    return fx


DEFAULTS = {"sampler": "dpmpp_2m", "schedule": "karras", "steps": 8, "guidance": 1.0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", default=os.path.join(HERE, "checkpoints", "last.pt"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models", "drums"))
    ap.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA")
    ap.add_argument("--defaults", default=None, help="JSON object overriding the manifest's sampler defaults "
                    "(sampler, schedule, steps, guidance, guidanceMaxSigma: guidance only at sigma <= it)")
    ap.add_argument("--guide", default=None,
                    help="checkpoint of the weaker model for autoguidance (exported as guide.onnx, EMA weights)")
    ap.add_argument("--guide-weight", type=float, default=2.0, help="autoguidance weight w (pick it with evaluate --autoguidance)")
    ap.add_argument("--guide-min-sigma", type=float, default=1.0,
                    help="autoguidance only above this sigma (1: the shipped setting, see the README)")
    ap.add_argument("--sigma-min", type=float, default=None,
                    help="manifest sigmaMin: the schedule's last noise level (default: the training Params'; "
                         "pick it with evaluate --extra-sigma-min)")
    ap.add_argument("--calibration", default=None,
                    help="calibration JSON from diffusion_drums.calibrate, fitted with these weights and defaults "
                         "(copied beside the model as calibration.json and named by the manifest)")
    a = ap.parse_args(argv)
    ck = torch.load(a.checkpoint, map_location="cpu")
    p = Params.from_dict(ck["params"])
    if a.sigma_min is not None:
        p.sigma_min = a.sigma_min  # a sampling choice: the network is the same at any schedule
    model = EDMDenoiser(p)
    model.load_state_dict(ck["model" if a.raw else "ema"])
    model.eval()
    os.makedirs(a.out, exist_ok=True)
    onnx_path = os.path.join(a.out, "model.onnx")
    export_onnx(model, onnx_path)
    defaults = dict(DEFAULTS, **(json.loads(a.defaults) if a.defaults else {}))
    info = {"steps": int(ck["step"]), "trainingMinutes": round(ck.get("elapsed_s", 0) / 60, 1),
            "parameters": count_parameters(model), "weights": "raw" if a.raw else "ema",
            "exported": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "trainClips": ck["data"].get("trainClips"), "warmStart": ck["data"].get("init"),
            "licences": "see onnx-export/DATA.md"}
    guide_path = os.path.join(a.out, "guide.onnx")
    guide_block, parity_model = None, model
    if a.guide:
        from .train import load_model  # here, not at the top: train imports the dataset code export does not need
        guide, gp, gck = load_model(a.guide)  # EMA weights, eval mode
        if (gp.clip_samples, gp.length_multiple, gp.num_classes) != (p.clip_samples, p.length_multiple, p.num_classes):
            raise SystemExit("the guide must share the model's clip length, length multiple and classes")
        export_onnx(guide, guide_path)
        guide_block = {"model": "guide.onnx", "weight": a.guide_weight, "minSigma": a.guide_min_sigma,
                       "trainingSteps": int(gck["step"])}
        info["guide"] = {"steps": int(gck["step"]), "trainingMinutes": round(gck.get("elapsed_s", 0) / 60, 1),
                         "parameters": count_parameters(guide), "channels": list(gp.channels)}
        parity_model = Autoguided(model, guide, a.guide_weight, a.guide_min_sigma)
    elif os.path.exists(guide_path):
        os.remove(guide_path)  # a guide left from an earlier export would belong to another model
    cal_path = os.path.join(a.out, "calibration.json")
    if a.calibration:
        from .calibrate import load as load_calibration
        cal = load_calibration(a.calibration)  # checks the format before it ships
        if os.path.abspath(a.calibration) != os.path.abspath(cal_path):
            with open(cal_path, "w") as f:
                json.dump(cal, f, separators=(",", ":"))
    elif os.path.exists(cal_path):
        os.remove(cal_path)  # fitted on an earlier model's hits: it would correct errors this one may not make
    man = manifest(p, ck["data"], info, defaults, guide=guide_block,
                   calibration_file="calibration.json" if a.calibration else None)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=2)
    write_parity(parity_model, os.path.join(a.out, "parity.json"))
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB)"
          + (f", guide.onnx ({os.path.getsize(guide_path) / 1e6:.1f} MB)" if a.guide else "")
          + (", calibration.json" if a.calibration else "")
          + f", manifest.json, parity.json; step {ck['step']}")


if __name__ == "__main__":
    sys.exit(main())
