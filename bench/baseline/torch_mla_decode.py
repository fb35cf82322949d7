#!/usr/bin/env python3
"""The unfused PyTorch CPU baseline of issue 24: MLA decode as bmm -> causal mask -> fp32 softmax -> bmm, bf16
matmuls (oneDNN; on AMX machines it runs brg:avx512_core_amx_bf16). Times one call per shape, median of N.

  /usr/bin/python3 bench/baseline/torch_mla_decode.py [--reps 20] [--threads 2]   (Debian: apt-get install python3-torch)
"""
import argparse, statistics, time
import torch

SHAPES = [(8, 8192, 16, 1), (8, 4096, 128, 2)]  # b, s_k, h_q, s_q


def step(q, k, v, scale, mask):
    s = torch.bmm(q, k.transpose(1, 2)).float() * scale       # [b, s_q*h_q, s_k]
    if mask is not None:
        s.masked_fill_(mask, float("-inf"))
    p = torch.softmax(s, dim=-1).to(q.dtype)
    return torch.bmm(p, v)                                      # [b, s_q*h_q, 512]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"],
                    help="fp32: the matmuls in fp32 (what runs well on a CPU without bf16 units)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn {torch.backends.mkldnn.is_available()}")
    for b, sk, hq, sq in SHAPES:
        g = torch.Generator().manual_seed(1)
        dt = torch.bfloat16 if a.dtype == "bf16" else torch.float32
        q = torch.randn(b, sq * hq, 576, generator=g).to(dt)
        kv = torch.randn(b, sk, 576, generator=g).to(dt)
        k, v = kv, kv[:, :, :512]
        mask = None
        if sq > 1:  # bottom-right causal: query i sees keys 0 .. s_k - s_q + i; rows are i*h_q + h
            i = torch.arange(sq).repeat_interleave(hq)[:, None]
            mask = torch.arange(sk)[None, :] > (sk - sq + i)
        with torch.inference_mode():
            for _ in range(3):
                step(q, k, v, 576 ** -0.5, mask)
            ts = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                step(q, k, v, 576 ** -0.5, mask)
                ts.append((time.perf_counter() - t0) * 1e3)
        flops = 2.0 * sq * b * sk * hq * (576 + 512)
        med = statistics.median(ts)
        print(f"b={b} s_k={sk} h_q={hq} s_q={sq} {a.dtype} causal: median {med:.1f} ms (min {min(ts):.1f}), {flops / med / 1e6:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
