"""Diffusion Drums: dataset, denoiser, training, ONNX export and evaluation (one job per module)."""
