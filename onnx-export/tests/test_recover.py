import json

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from diffusion_drums.params import Params
from diffusion_drums.model import EDMDenoiser
from diffusion_drums.export import export_onnx, write_parity
from diffusion_drums.recover import recover_weights, parity_error, save_checkpoint, RecoveryError
from diffusion_drums.train import load_model

TINY = dict(channels=(16, 32, 32), blocks=(1, 1, 1), emb_dim=32, clip_samples=1024)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    torch.manual_seed(3)
    m = EDMDenoiser(Params(**TINY)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    d = tmp_path_factory.mktemp("shipped")
    export_onnx(m, str(d / "model.onnx"))
    write_parity(m, str(d / "parity.json"))
    return m, d


def test_every_weight_and_buffer_comes_back_bit_exact_from_the_exported_graph(shipped):
    m, d = shipped
    back = recover_weights(str(d / "model.onnx"), Params(**TINY))
    want, got = m.state_dict(), back.state_dict()
    assert want.keys() == got.keys()
    for k in want:
        assert torch.equal(want[k], got[k]), k


def test_the_recovered_model_reproduces_the_parity_fixture_and_a_saved_checkpoint_loads(shipped, tmp_path):
    m, d = shipped
    back = recover_weights(str(d / "model.onnx"), Params(**TINY))
    assert parity_error(back, str(d / "parity.json")) < 1e-6
    save_checkpoint(str(tmp_path / "sub" / "last.pt"), back, Params(**TINY), 7, ["kitA"], training_minutes=1.5)
    loaded, p, ck = load_model(str(tmp_path / "sub" / "last.pt"))
    assert list(p.channels) == list(TINY["channels"])
    assert ck["step"] == 7 and ck["elapsed_s"] == 90.0 and ck["data"]["heldOutKits"] == ["kitA"]
    assert parity_error(loaded, str(d / "parity.json")) < 1e-6


def test_a_fresh_untrained_model_misses_the_parity_fixture(shipped):
    _, d = shipped
    torch.manual_seed(99)
    assert parity_error(EDMDenoiser(Params(**TINY)).eval(), str(d / "parity.json")) > 1e-3


def test_a_graph_of_other_hyperparameters_is_refused_with_a_reason(shipped):
    _, d = shipped
    with pytest.raises(RecoveryError, match="other hyperparameters"):
        recover_weights(str(d / "model.onnx"), Params(**{**TINY, "channels": (16, 32, 48)}))


def test_weights_changed_in_the_graph_after_export_are_read_back_as_they_are_and_miss_parity(shipped, tmp_path):
    _, d = shipped
    g = onnx.load(str(d / "model.onnx"))
    init = max(g.graph.initializer, key=lambda i: int(np.prod(i.dims)))  # a large (convolution) weight
    a = numpy_helper.to_array(init) * 1.5
    init.CopyFrom(numpy_helper.from_array(a.astype(np.float32), init.name))
    onnx.save(g, str(tmp_path / "scaled.onnx"))
    back = recover_weights(str(tmp_path / "scaled.onnx"), Params(**TINY))
    assert parity_error(back, str(d / "parity.json")) > 1e-4
