#!/usr/bin/python3
"""Build the closed-form Gaussian denoiser as a tiny ONNX graph (plus its manifest) for the engine's tests.

For data x0 ~ N(mu, sigma_d^2) (i.i.d. per sample) and x = x0 + sigma * n, the ideal denoiser
E[x0 | x] is known exactly (Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based
Generative Models", the Gaussian case of eq. 2-3):

    D(x, sigma) = (sigma_d^2 * x + sigma^2 * mu) / (sigma_d^2 + sigma^2)

The graph follows docs/model-contract.md (inputs x [batch,1,length], sigma [batch], class_id [batch],
velocity [batch]; output denoised [batch,1,length]); class and velocity are accepted and ignored.
Two more variants output the same denoiser in the other parameterisations the contract allows, so the engine's
conversions are tested too: "eps" (eps_hat = (x - D)/sigma) and "v" (v_hat = (c_skip*x - D)/c_out, EDM's
c_skip = sd^2/(sigma^2+sd^2), c_out = sigma*sd/sqrt(sigma^2+sd^2)).
A fourth folder, analytic-gaussian-autoguided, pairs the model with a guide (guide.onnx: the same denoiser for mean
GUIDE_MU) under a manifest "guide" block, so autoguidance's D = D_guide + w (D - D_guide) has a closed form too: above
the guide's minSigma it is the denoiser for mean w*MU - (w-1)*GUIDE_MU.
A fifth, analytic-gaussian-timbre, takes timbre descriptors (input descriptor [batch, 4]: brightness, noisiness,
decay, given flag) and is the denoiser for mean MU + brightness, with a descriptorPrior for its class and the same
guide (which, like a guide trained without descriptors, has no descriptor input).

Run:  /usr/bin/python3 onnx-export/analytic/build_analytic_gaussian.py [models-test-dir]
Default output: models/test/analytic-gaussian{,-eps,-v}/ (model.onnx + manifest.json each).
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MU = 0.1
SIGMA_DATA = 0.5
SAMPLE_RATE_HZ = 44100
CLIP_SAMPLES = 4096
OPSET = 17
GUIDE_MU = -0.3
GUIDE = {"model": "guide.onnx", "weight": 2.0, "minSigma": 1.0}


def build_graph(mu: float, sigma_data: float, parameterization: str = "edm", timbre: bool = False) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, "length"])
    sigma = helper.make_tensor_value_info("sigma", TensorProto.FLOAT, ["batch"])
    class_id = helper.make_tensor_value_info("class_id", TensorProto.INT64, ["batch"])
    velocity = helper.make_tensor_value_info("velocity", TensorProto.FLOAT, ["batch"])
    denoised = helper.make_tensor_value_info("denoised", TensorProto.FLOAT, ["batch", 1, "length"])

    inits = [
        numpy_helper.from_array(np.array([-1, 1, 1], dtype=np.int64), "shape_b11"),
        numpy_helper.from_array(np.array(sigma_data * sigma_data, dtype=np.float32), "sigma_data_sq"),
        numpy_helper.from_array(np.array(mu, dtype=np.float32), "mu"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
    ]
    nodes = [
        # sigma [batch] -> [batch,1,1] so it broadcasts over the samples of each item.
        helper.make_node("Reshape", ["sigma", "shape_b11"], ["s"]),
        helper.make_node("Mul", ["s", "s"], ["s_sq"]),
        helper.make_node("Mul", ["x", "sigma_data_sq"], ["a"]),        # sigma_d^2 * x
        helper.make_node("Mul", ["s_sq", "mu_b" if timbre else "mu"], ["b"]),  # sigma^2 * mu
        helper.make_node("Add", ["a", "b"], ["num"]),
        helper.make_node("Add", ["s_sq", "sigma_data_sq"], ["den"]),   # sigma^2 + sigma_d^2
        helper.make_node("Div", ["num", "den"], ["d"]),
        # Conditioning is part of the contract but the Gaussian has no classes: multiply by zero so the
        # inputs stay live in the graph (ORT keeps them as required inputs) without changing the result.
        helper.make_node("Cast", ["class_id"], ["class_f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["class_f", "velocity"], ["cond_sum"]),
        helper.make_node("Mul", ["cond_sum", "zero"], ["cond_zero"]),
        helper.make_node("Reshape", ["cond_zero", "shape_b11"], ["cond_b11"]),
        helper.make_node("Add", ["d", "cond_b11"], ["d_out"]),
    ]
    if parameterization == "edm":
        nodes.append(helper.make_node("Identity", ["d_out"], ["denoised"]))
    elif parameterization == "eps":
        nodes += [helper.make_node("Sub", ["x", "d_out"], ["resid"]),
                  helper.make_node("Div", ["resid", "s"], ["denoised"])]
    elif parameterization == "v":
        inits.append(numpy_helper.from_array(np.array(sigma_data, dtype=np.float32), "sigma_data"))
        nodes += [helper.make_node("Div", ["sigma_data_sq", "den"], ["c_skip"]),
                  helper.make_node("Sqrt", ["den"], ["root"]),
                  helper.make_node("Mul", ["s", "sigma_data"], ["s_sd"]),
                  helper.make_node("Div", ["s_sd", "root"], ["c_out"]),
                  helper.make_node("Mul", ["x", "c_skip"], ["skip"]),
                  helper.make_node("Sub", ["skip", "d_out"], ["v_num"]),
                  helper.make_node("Div", ["v_num", "c_out"], ["denoised"])]
    else:
        raise ValueError(parameterization)
    inputs = [x, sigma, class_id, velocity]
    if timbre:  # mu_b = mu + descriptor[b, 0] (brightness; 0 in a row that gives none)
        inputs.append(helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["batch", 4]))
        inits += [numpy_helper.from_array(np.array([0], dtype=np.int64), "col0"),
                  numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")]
        nodes = [helper.make_node("Gather", ["descriptor", "col0"], ["bright"], axis=1),  # [batch, 1]
                 helper.make_node("Reshape", ["bright", "shape_b11"], ["bright_b11"]),
                 helper.make_node("Add", ["bright_b11", "mu"], ["mu_b"])] + nodes
    graph = helper.make_graph(nodes, "analytic_gaussian_denoiser", inputs, [denoised], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="diffusionplugin-analytic")
    model.ir_version = 8  # readable by every ONNX Runtime since 1.11
    onnx.checker.check_model(model)
    return model


def manifest(mu: float, sigma_data: float, parameterization: str = "edm") -> dict:
    return {
        "formatVersion": 1,
        "name": "analytic-gaussian" + ("" if parameterization == "edm" else "-" + parameterization),
        "model": "model.onnx",
        "sampleRateHz": SAMPLE_RATE_HZ,
        "clipSamples": CLIP_SAMPLES,
        "lengthMultiple": 1,
        "classes": ["gaussian"],
        "nullClassId": 1,
        "conditioning": {"class": False, "velocity": False},
        "parameterization": parameterization,
        "sigmaData": sigma_data, "sigmaMin": 0.002, "sigmaMax": 80.0,
        "inputs": {"x": "x", "sigma": "sigma", "classId": "class_id", "velocity": "velocity"},
        "outputs": {"denoised": "denoised"},
        "defaults": {"sampler": "dpmpp_2m", "schedule": "karras", "steps": 32, "guidance": 1.0},
        "training": {"data": "none: closed-form ideal denoiser for N(mu, sigmaData^2), built by "
                             "onnx-export/analytic/build_analytic_gaussian.py", "heldOutKits": [], "hyperparameters": {}},
        "analytic": {"mu": mu, "sigmaData": sigma_data},
    }


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(here, "..", "..", "models", "test"))
    guided = os.path.join(root, "analytic-gaussian-autoguided")
    os.makedirs(guided, exist_ok=True)
    onnx.save(build_graph(MU, SIGMA_DATA), os.path.join(guided, "model.onnx"))
    onnx.save(build_graph(GUIDE_MU, SIGMA_DATA), os.path.join(guided, "guide.onnx"))
    with open(os.path.join(guided, "manifest.json"), "w") as f:
        json.dump({**manifest(MU, SIGMA_DATA), "name": "analytic-gaussian-autoguided", "guide": GUIDE}, f, indent=2)
        f.write("\n")
    print(f"wrote {guided}/model.onnx, guide.onnx and manifest.json")
    timbre = os.path.join(root, "analytic-gaussian-timbre")
    os.makedirs(timbre, exist_ok=True)
    onnx.save(build_graph(MU, SIGMA_DATA, timbre=True), os.path.join(timbre, "model.onnx"))
    onnx.save(build_graph(GUIDE_MU, SIGMA_DATA), os.path.join(timbre, "guide.onnx"))
    base = manifest(MU, SIGMA_DATA)
    with open(os.path.join(timbre, "manifest.json"), "w") as f:
        json.dump({**base, "name": "analytic-gaussian-timbre", "guide": GUIDE,
                   "conditioning": {**base["conditioning"], "descriptors": ["brightness", "noisiness", "decay"]},
                   "inputs": {**base["inputs"], "descriptor": "descriptor"},
                   "descriptorPrior": {"gaussian": {"mean": [0.5, -1.0, 0.25], "slope": [0.2, 0.0, -0.1],
                                                    "chol": [[0.1, 0.0, 0.0], [0.05, 0.2, 0.0], [0.0, 0.0, 0.3]]}}},
                  f, indent=2)
        f.write("\n")
    print(f"wrote {timbre}/model.onnx, guide.onnx and manifest.json")
    for parameterization in ("edm", "eps", "v"):
        out_dir = os.path.join(root, "analytic-gaussian" + ("" if parameterization == "edm" else "-" + parameterization))
        os.makedirs(out_dir, exist_ok=True)
        onnx.save(build_graph(MU, SIGMA_DATA, parameterization), os.path.join(out_dir, "model.onnx"))
        with open(os.path.join(out_dir, "manifest.json"), "w") as f:
            json.dump(manifest(MU, SIGMA_DATA, parameterization), f, indent=2)
            f.write("\n")
        print(f"wrote {out_dir}/model.onnx and manifest.json")


if __name__ == "__main__":
    main()
