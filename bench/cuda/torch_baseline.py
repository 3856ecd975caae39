"""PyTorch fp16 baselines for the CUDA backend, measured on the same GPU in the same run
(bench/cuda/run-on-device.sh): torch.nn.functional.linear (cuBLAS) on the LLaMA-2-7B
projection shapes at batch 1 and 16, as GB/s of the bytes it must move (as
midllama-cuda-kernel-bench counts them), and eager LlamaForCausalLM decode tokens/s of a
LLaMA-2-7B-shaped model with random weights at batch 1 and 16 (greedy, KV cache, 64 new
tokens after an 8-token prompt; wall time around generate(), CUDA synchronized)."""
import argparse
import json
import time

import torch

SHAPES = [("q/o", 4096, 4096), ("gate/up", 11008, 4096), ("down", 4096, 11008),
          ("lm_head", 32000, 4096)]


def timed(fn, iters=20):
    for _ in range(3):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(iters):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", required=True)
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args()
    dev = torch.device("cuda")
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "linear": []}
    print(f"{'shape':<14} {'batch':>5} {'time us':>10} {'GB/s':>8}")
    for name, n, k in SHAPES:
        w = torch.randn(n, k, device=dev, dtype=torch.float16) * 0.02
        for batch in (1, 16):
            x = torch.randn(batch, k, device=dev, dtype=torch.float16)
            ms = timed(lambda: torch.nn.functional.linear(x, w))
            moved = n * k * 2 + batch * (n + k) * 2
            gbs = moved / (ms * 1e6)
            print(f"{n}x{k:<9} {batch:>5} {ms * 1e3:>10.1f} {gbs:>8.0f}")
            result["linear"].append({"shape": name, "n": n, "k": k, "batch": batch,
                                     "us": ms * 1e3, "gb_s": gbs})
    if not args.skip_model:
        from transformers import LlamaConfig, LlamaForCausalLM
        config = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                             num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                             max_position_embeddings=4096)
        torch.manual_seed(0)
        with torch.device(dev):
            model = LlamaForCausalLM(config).to(torch.float16).eval()
        result["model"] = []
        for batch in (1, 16):
            prompt = torch.randint(3, 32000, (batch, 8), device=dev)
            kwargs = dict(max_new_tokens=64, min_new_tokens=64, do_sample=False, use_cache=True)
            with torch.no_grad():
                model.generate(prompt, max_new_tokens=4, min_new_tokens=4, do_sample=False)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                model.generate(prompt, **kwargs)
                torch.cuda.synchronize()
                seconds = time.perf_counter() - t0
            tps = batch * 64 / seconds
            print(f"LlamaForCausalLM 7B-shaped fp16 eager, batch {batch}: {tps:.1f} tokens/s "
                  f"(64 new tokens, prompt 8, {seconds:.2f} s incl. prefill)")
            result["model"].append({"batch": batch, "tokens_per_s": tps, "seconds": seconds})
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
