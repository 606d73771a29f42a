import json

import numpy as np
import onnx
import pytest
import torch

from diffusion_drums.params import Params, CLASSES
from diffusion_drums.model import EDMDenoiser
from diffusion_drums.export import export_onnx, for_onnx_runtime, Conv1dAs2d, manifest, write_parity, example_inputs, DEFAULTS
import onnx_numpy

TINY = dict(channels=(16, 32, 32), blocks=(1, 1, 1), emb_dim=32, clip_samples=1024)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    m = EDMDenoiser(Params(**TINY)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn_like(p))
    path = str(tmp_path_factory.mktemp("onnx") / "model.onnx")
    graph = export_onnx(m, path)
    return m, path, graph


def test_graph_passes_the_checker_with_contract_names_and_opset_17(exported):
    _, path, g = exported
    onnx.checker.check_model(onnx.load(path))
    assert [i.name for i in g.graph.input] == ["x", "sigma", "class_id", "velocity"]
    assert [o.name for o in g.graph.output] == ["denoised"]
    assert max(o.version for o in g.opset_import if o.domain in ("", "ai.onnx")) == 17
    elem = {i.name: i.type.tensor_type.elem_type for i in g.graph.input}
    assert elem == {"x": onnx.TensorProto.FLOAT, "sigma": onnx.TensorProto.FLOAT,
                    "class_id": onnx.TensorProto.INT64, "velocity": onnx.TensorProto.FLOAT}


def test_batch_and_length_axes_are_dynamic(exported):
    _, _, g = exported
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(g.graph.input) + list(g.graph.output)}
    assert dims["x"] == ["batch", 1, "length"] and dims["denoised"] == ["batch", 1, "length"]
    assert dims["sigma"] == ["batch"] and dims["class_id"] == ["batch"]


@pytest.mark.parametrize("batch,length", [(1, 256), (3, 768)])
def test_the_onnx_file_computes_what_torch_computes_at_other_shapes(exported, batch, length):
    m, path, _ = exported
    x, s, c, v = example_inputs(m.p, batch=batch, length=length, seed=3)
    got = onnx_numpy.run(path, {"x": x.numpy(), "sigma": s.numpy(), "class_id": c.numpy(), "velocity": v.numpy()})
    with torch.no_grad():
        want = m(x, s, c, v).numpy()
    assert got["denoised"].shape == (batch, 1, length)
    assert np.abs(got["denoised"] - want).max() < 1e-4


def test_the_copy_written_for_onnx_runtime_computes_the_same_with_its_wide_convolutions_in_2d(exported):
    m, _, graph = exported
    fast = for_onnx_runtime(m)
    wide = [c for c in m.modules() if isinstance(c, torch.nn.Conv1d) and c.out_channels % 16 == 0]
    assert len(wide) > 10 and sum(isinstance(c, Conv1dAs2d) for c in fast.modules()) == len(wide)
    assert any(isinstance(c, torch.nn.Conv1d) for c in m.modules()), "the model itself is left as it was"
    x, s, c, v = example_inputs(m.p, batch=3, length=1024, seed=5)
    with torch.no_grad():
        assert (fast(x, s, c, v) - m(x, s, c, v)).abs().max() < 1e-6
    conv_ranks = [len(n.attribute[[a.name for a in n.attribute].index("kernel_shape")].ints)
                  for n in graph.graph.node if n.op_type == "Conv"]
    assert conv_ranks.count(2) == len(wide) and conv_ranks.count(1) == len(conv_ranks) - len(wide)


def test_manifest_follows_the_contract():
    p = Params(**TINY)
    man = json.loads(json.dumps(manifest(p, {"heldOutKits": ["K"], "kits": []}, {"steps": 1}, DEFAULTS)))
    assert man["formatVersion"] == 1 and man["parameterization"] == "edm" and man["model"] == "model.onnx"
    assert man["classes"] == CLASSES and man["classes"][-1] == "general" and man["nullClassId"] == 11
    assert man["lengthMultiple"] == 256 and man["clipSamples"] % man["lengthMultiple"] == 0
    assert man["inputs"] == {"x": "x", "sigma": "sigma", "classId": "class_id", "velocity": "velocity"}
    assert man["outputs"] == {"denoised": "denoised"} and man["analytic"] is None
    assert man["training"]["heldOutKits"] == ["K"] and man["training"]["hyperparameters"]["channels"] == [16, 32, 32]
    assert set(man["defaults"]) == {"sampler", "schedule", "steps", "guidance"}


def test_parity_fixture_holds_torch_outputs_for_its_inputs(exported, tmp_path):
    m, _, _ = exported
    fx = write_parity(m, str(tmp_path / "parity.json"))
    fx = json.load(open(tmp_path / "parity.json"))
    b, n = fx["batch"], fx["length"]
    x = torch.tensor(fx["x"], dtype=torch.float32).reshape(b, 1, n)
    with torch.no_grad():
        y = m(x, torch.tensor(fx["sigma"]), torch.tensor(fx["class_id"]), torch.tensor(fx["velocity"]))
    assert np.abs(y.numpy().flatten() - np.array(fx["denoised"])).max() < 1e-6
    assert n % m.p.length_multiple == 0 and len(fx["denoised"]) == b * n


def _tiny_checkpoint(path, channels, seed, step):
    torch.manual_seed(seed)
    p = Params(**{**TINY, "channels": channels})
    m = EDMDenoiser(p).eval()
    with torch.no_grad():
        for w in m.parameters():
            w.add_(0.02 * torch.randn_like(w))
    torch.save({"model": m.state_dict(), "ema": m.state_dict(), "step": step, "params": p.to_dict(), "elapsed_s": 60.0,
                "data": {"heldOutKits": [], "kits": [], "trainClips": 1}}, path)
    return m


def test_an_export_with_a_guide_writes_guide_onnx_and_a_parity_fixture_of_the_autoguided_denoiser(tmp_path):
    from diffusion_drums import export
    main = _tiny_checkpoint(tmp_path / "main.pt", (16, 32, 32), seed=1, step=500)
    guide = _tiny_checkpoint(tmp_path / "guide.pt", (16, 16, 16), seed=2, step=50)
    out = tmp_path / "out"
    export.main(["--checkpoint", str(tmp_path / "main.pt"), "--guide", str(tmp_path / "guide.pt"), "--out", str(out),
                 "--guide-weight", "2.5", "--guide-min-sigma", "0.3"])
    man = json.loads((out / "manifest.json").read_text())
    assert man["guide"] == {"model": "guide.onnx", "weight": 2.5, "minSigma": 0.3, "trainingSteps": 50}
    assert man["training"]["guide"]["channels"] == [16, 16, 16]
    fx = json.loads((out / "parity.json").read_text())
    feeds = {"x": np.array(fx["x"], np.float32).reshape(2, 1, -1), "sigma": np.array(fx["sigma"], np.float32),
             "class_id": np.array(fx["class_id"], np.int64), "velocity": np.array(fx["velocity"], np.float32)}
    d_main = onnx_numpy.run(str(out / "model.onnx"), feeds)["denoised"]
    d_guide = onnx_numpy.run(str(out / "guide.onnx"), feeds)["denoised"]
    want = np.array(fx["denoised"], np.float32).reshape(d_main.shape)
    assert fx["sigma"][0] < 0.3 < fx["sigma"][1]
    assert np.abs(want[0] - d_main[0]).max() < 1e-4                                      # below minSigma: the model
    assert np.abs(want[1] - (d_guide[1] + 2.5 * (d_main[1] - d_guide[1]))).max() < 1e-4  # above: extrapolated
    assert np.abs(want[1] - d_main[1]).max() > 1e-3                                      # ... which is not the model

    export.main(["--checkpoint", str(tmp_path / "main.pt"), "--out", str(out)])
    assert not (out / "guide.onnx").exists() and "guide" not in json.loads((out / "manifest.json").read_text())


def test_a_descriptor_model_exports_a_descriptor_input_its_prior_and_a_parity_fixture_that_uses_them(tmp_path):
    torch.manual_seed(0)
    prior = {"kick": {"mean": [-1.0, 0.0, 0.5], "slope": [0.2, 0.0, 0.0], "chol": [[0.3, 0, 0], [0, 0.3, 0], [0, 0, 0.3]]}}
    m = EDMDenoiser(Params(**TINY, descriptors=3, descriptor_prior=prior)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn_like(p))
    path = str(tmp_path / "model.onnx")
    g = export_onnx(m, path)
    assert [i.name for i in g.graph.input] == ["x", "sigma", "class_id", "velocity", "descriptor"]
    x, s, c, v, d = example_inputs(m.p, batch=3, length=512, seed=4)
    assert d.shape == (3, 4) and d[:, 3].tolist() == [1.0, 0.0, 1.0] and not d[1].any()  # given, none, given
    got = onnx_numpy.run(path, {"x": x.numpy(), "sigma": s.numpy(), "class_id": c.numpy(), "velocity": v.numpy(),
                                "descriptor": d.numpy()})
    with torch.no_grad():
        want = m(x, s, c, v, d).numpy()
        assert np.abs(want - m(x, s, c, v, d.flip(0)).numpy()).max() > 1e-4  # the graph's answer depends on them
    assert np.abs(got["denoised"] - want).max() < 1e-4
    man = json.loads(json.dumps(manifest(m.p, {"heldOutKits": [], "kits": []}, {}, DEFAULTS)))
    assert man["inputs"]["descriptor"] == "descriptor" and man["descriptorPrior"] == prior
    assert man["conditioning"]["descriptors"] == ["brightness", "noisiness", "decay"]
    fx = write_parity(m, str(tmp_path / "parity.json"))
    assert len(fx["descriptor"]) == 2 * 4 and fx["descriptor"][3] == 1.0 and fx["descriptor"][7] == 0.0
    plain = manifest(Params(**TINY), {"heldOutKits": [], "kits": []}, {}, DEFAULTS)
    assert "descriptor" not in plain["inputs"] and "descriptorPrior" not in plain and "descriptors" not in plain["conditioning"]
