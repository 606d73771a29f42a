"""PyTorch CPU timing of one denoiser call (batch 8 and 16 x 22528 samples, 1 and 2 threads): a proxy for ORT.
Run from onnx-export/: /usr/bin/python3 bench_torch.py [checkpoint]"""
import sys, time, torch
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
from diffusion_drums.train import load_model
m, p, ck = load_model(sys.argv[1] if len(sys.argv) > 1 else "checkpoints/last.pt")
for th in [1, 2]:
    torch.set_num_threads(th)
    for b in [8, 16]:
        x = torch.randn(b,1,22528); s = torch.full((b,), 1.0); c = torch.zeros(b, dtype=torch.long); v = torch.full((b,), .8)
        with torch.no_grad():
            for _ in range(2): m(x,s,c,v)
            ts = []
            for _ in range(7):
                t = time.perf_counter(); m(x,s,c,v); ts.append(time.perf_counter() - t)
        ts.sort(); print(f"threads {th} batch {b}: median {ts[3]*1000:.0f} ms, best {ts[0]*1000:.0f} ms")
