#!/usr/bin/env python3
"""Regenerates the ONNX fixtures in test/Import/ONNX/Inputs/ from the embedded stories260K
model, with the tools users export with:

 1. converts the llama2.c checkpoint (models/stories260K/stories260K.bin) to a Hugging Face
    transformers LlamaForCausalLM checkpoint, permuting the q/k rows from llama2.c's
    interleaved rotary pairs to Hugging Face's half-split ones, and checks that the converted
    model still produces models/stories260K/greedy_from_bos_256.tokens greedily from BOS;
 2. exports it with torch.onnx.export (decomposed graph): fp32 without a KV cache, and fp32
    and fp16 with one (past_key_values.N.* inputs, present.N.* outputs);
 3. exports it with onnxruntime-genai's model builder (com.microsoft contrib ops, KV cache)
    in fp32, fp16 and int4 (MatMulNBits).

Writes Inputs/VERSIONS.txt with the package versions used. Not part of CI: the fixtures are
committed. Run it in a virtual environment with: torch transformers onnx onnxruntime
onnxscript onnxruntime-genai safetensors numpy.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
MODEL_DIR = os.path.join(ROOT, "models", "stories260K")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Inputs")


def read_llama2c(path):
    """Returns (config dict, dict of numpy arrays in Hugging Face names)."""
    with open(path, "rb") as f:
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("7i", f.read(28))
        data = np.frombuffer(f.read(), dtype=np.float32)
    shared = vocab > 0
    vocab = abs(vocab)
    head_dim = dim // heads
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        arr = data[pos:pos + n].reshape(shape)
        pos += n
        return arr

    w = {"model.embed_tokens.weight": take(vocab, dim)}
    kinds = [("input_layernorm", (dim,)), ("self_attn.q_proj", (heads * head_dim, dim)),
             ("self_attn.k_proj", (kv_heads * head_dim, dim)),
             ("self_attn.v_proj", (kv_heads * head_dim, dim)),
             ("self_attn.o_proj", (dim, heads * head_dim)),
             ("post_attention_layernorm", (dim,)), ("mlp.gate_proj", (hidden, dim)),
             ("mlp.down_proj", (dim, hidden)), ("mlp.up_proj", (hidden, dim))]
    for kind, shape in kinds:
        for layer in range(layers):
            w[f"model.layers.{layer}.{kind}.weight"] = take(*shape)
    w["model.norm.weight"] = take(dim)
    take(seq_len * head_dim)  # rotary tables, recomputed by transformers
    if not shared:
        w["lm_head.weight"] = take(vocab, dim)
    assert pos == data.size, "checkpoint size does not match its header"
    config = dict(hidden_size=dim, intermediate_size=hidden, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=kv_heads, vocab_size=vocab,
                  max_position_embeddings=seq_len, rms_norm_eps=1e-5, rope_theta=10000.0,
                  tie_word_embeddings=shared, head_dim=head_dim, bos_token_id=1,
                  eos_token_id=2, hidden_act="silu", attention_bias=False, mlp_bias=False)
    return config, w


def interleaved_to_half_split(w, heads):
    """llama2.c rotates pairs (2i, 2i+1) of each head; transformers rotates (i, i + d/2)."""
    rows, cols = w.shape
    return w.reshape(heads, rows // heads // 2, 2, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


def write_tokenizer(hf_dir):
    """tok512.bin (llama2.c: SentencePiece BPE pieces with scores, spaces as ' ') as a
    Hugging Face `tokenizers` BPE with byte fallback, the form LlamaTokenizerFast uses. Merges
    are recovered from the vocabulary the standard way: every split of a piece into two pieces,
    ordered by the merged piece's score. The exports carry this tokenizer.json along."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    with open(os.path.join(MODEL_DIR, "tok512.bin"), "rb") as f:
        struct.unpack("i", f.read(4))
        pieces = []
        for _ in range(512):
            score, n = struct.unpack("fi", f.read(8))
            pieces.append((f.read(n).decode("utf-8"), score))
    vocab = {}
    for i, (piece, _) in enumerate(pieces):
        if i == 1:
            piece = "<s>"
        elif i == 2:
            piece = "</s>"
        elif not piece.startswith("<0x"):
            piece = piece.replace(" ", "\u2581")
        vocab[piece] = i
    merges = []
    for piece, rank in sorted(vocab.items(), key=lambda kv: kv[1]):
        if rank < 259 or len(piece) < 2:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                merges.append((vocab[piece], vocab[left], vocab[right], left, right))
    merges.sort()
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[(l, r) for _, _, _, l, r in merges],
                               unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                           normalizers.Replace(" ", "\u2581")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>",
                                                eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(hf_dir)
    # Round trip on the reference text, as a check of the conversion.
    with open(os.path.join(MODEL_DIR, "greedy_from_bos_256.txt")) as f:
        text = f.read()
    ids = fast.encode(text, add_special_tokens=False)
    assert fast.decode(ids) == text, "tokenizer round trip failed"
    print(f"tokenizer.json: {len(vocab)} pieces, {len(merges)} merges, round trip ok")


def build_hf(hf_dir):
    cfg, weights = read_llama2c(os.path.join(MODEL_DIR, "stories260K.bin"))
    for name in list(weights):
        if name.endswith("q_proj.weight"):
            weights[name] = interleaved_to_half_split(weights[name], cfg["num_attention_heads"])
        elif name.endswith("k_proj.weight"):
            weights[name] = interleaved_to_half_split(weights[name], cfg["num_key_value_heads"])
    config = transformers.LlamaConfig(**cfg)
    model = transformers.LlamaForCausalLM(config)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()}
    if cfg["tie_word_embeddings"]:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    model.eval()

    # The conversion is right only if greedy decoding still matches the reference text.
    with open(os.path.join(MODEL_DIR, "greedy_from_bos_256.tokens")) as f:
        expected = [int(t) for t in f.read().split()]
    with torch.no_grad():
        out = model.generate(torch.tensor([[1]]), max_new_tokens=len(expected) - 1,
                             do_sample=False, eos_token_id=None, pad_token_id=0)
    got = out[0].tolist()
    assert got == expected[:len(got)], f"greedy tokens differ at {next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)}"
    print(f"converted checkpoint reproduces the {len(got)} greedy reference tokens")
    model.save_pretrained(hf_dir, safe_serialization=True)
    write_tokenizer(hf_dir)
    return model


def export_torch(model, out_dir):
    """transformers LlamaForCausalLM through torch.onnx.export, no KV cache, fp32."""
    os.makedirs(out_dir, exist_ok=True)

    class LogitsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False).logits

    ids = torch.tensor([[1, 403, 407, 261, 378, 432, 383, 286]])
    path = os.path.join(out_dir, "model.onnx")
    torch.onnx.export(LogitsOnly(model).eval(), (ids,), path, input_names=["input_ids"],
                      output_names=["logits"], opset_version=18,
                      dynamic_shapes={"input_ids": {0: "batch", 1: "sequence"}},
                      external_data=True)
    # The export must compute what transformers computes.
    import onnxruntime
    got = onnxruntime.InferenceSession(path).run(None, {"input_ids": ids.numpy()})[0]
    with torch.no_grad():
        want = model(input_ids=ids, use_cache=False).logits.numpy()
    err = float(np.abs(got - want).max())
    assert err < 1e-4, f"torch export differs from transformers by {err}"
    print("wrote", path, f"(ONNX Runtime vs transformers: max |diff| {err:.2e})")


def export_torch_kv(model, out_dir, dtype):
    """The same exporter with a KV cache: inputs input_ids, position_ids and
    past_key_values.N.key/value ([batch, kv_heads, past, head_dim]); outputs logits and
    present.N.key/value. transformers 5 keeps the cache in a DynamicCache object, so a
    wrapper rebuilds it from the flat tensors that ONNX graphs take."""
    from transformers import DynamicCache
    os.makedirs(out_dir, exist_ok=True)
    model = model.to(dtype)
    layers = model.config.num_hidden_layers

    class WithCache(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, position_ids, past):
            cache = DynamicCache(config=self.m.config)
            for i in range(layers):
                cache.update(past[2 * i], past[2 * i + 1], i)
            out = self.m(input_ids=input_ids, position_ids=position_ids, past_key_values=cache,
                         use_cache=True)
            presents = []
            for layer in out.past_key_values.layers[:layers]:
                presents += [layer.keys, layer.values]
            return (out.logits, *presents)

    wrapper = WithCache(model).eval()
    with torch.no_grad():  # a real cache of 3 positions to trace with
        prefix = model(input_ids=torch.tensor([[1, 403, 407]]), use_cache=True).past_key_values
    past = tuple(t.contiguous() for layer in prefix.layers[:layers]
                 for t in (layer.keys, layer.values))
    ids = torch.tensor([[261, 378, 432, 383, 286]])
    pos = torch.arange(3, 8)[None]
    names = ["input_ids", "position_ids"] + [f"past_key_values.{i}.{kv}" for i in range(layers)
                                             for kv in ("key", "value")]
    outs = ["logits"] + [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    batch, seq, past_len = (torch.export.Dim("batch"), torch.export.Dim("sequence"),
                            torch.export.Dim("past_sequence"))
    dynamic = ({0: batch, 1: seq}, {0: batch, 1: seq},
               tuple({0: batch, 2: past_len} for _ in range(2 * layers)))
    path = os.path.join(out_dir, "model.onnx")
    torch.onnx.export(wrapper, (ids, pos, past), path, input_names=names, output_names=outs,
                      opset_version=18, dynamic_shapes=dynamic, external_data=True)
    # Check against transformers for several cache lengths, including an empty cache.
    import onnxruntime
    session = onnxruntime.InferenceSession(path)
    worst = 0.0
    for cached in [0, 1, 3, 7]:
        cache = [np.full((1, model.config.num_key_value_heads, cached, model.config.head_dim), 0.1,
                         dtype=np.float16 if dtype == torch.float16 else np.float32)
                 for _ in range(2 * layers)]
        positions = np.arange(cached, cached + 5, dtype=np.int64)[None]
        got = session.run(None, dict(zip(names, [ids.numpy(), positions] + cache)))[0]
        with torch.no_grad():
            want = wrapper(ids, torch.from_numpy(positions),
                           tuple(torch.from_numpy(c) for c in cache))[0].float().numpy()
        worst = max(worst, float(np.abs(got.astype(np.float32) - want).max()))
    limit = 1e-4 if dtype == torch.float32 else 5e-2
    assert worst < limit, f"KV-cache export differs from transformers by {worst}"
    print("wrote", path, f"(ONNX Runtime vs transformers, caches of 0-7: max |diff| {worst:.2e})")
    model.to(torch.float32)


def export_genai(hf_dir, out_dir, precision):
    """onnxruntime-genai's model builder: contrib ops, KV cache."""
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as cache:
        subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-m", hf_dir,
                        "-i", hf_dir, "-o", out_dir, "-p", precision, "-e", "cpu",
                        "-c", cache], check=True)
    print("wrote", out_dir)


def run_genai_export(out_dir, ids, head_dim):
    """Logits of a GenAI export under ONNX Runtime (empty KV cache), as a check it executes."""
    import onnxruntime
    session = onnxruntime.InferenceSession(os.path.join(out_dir, "model.onnx"))
    feeds = {}
    for i in session.get_inputs():
        if i.name == "input_ids":
            feeds[i.name] = ids
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones_like(ids)
        elif i.name == "position_ids":
            feeds[i.name] = np.arange(ids.shape[1], dtype=np.int64)[None]
        else:  # past_key_values.N.key/value: [batch, kv_heads, 0, head_dim]
            shape = [ids.shape[0], i.shape[1], 0, head_dim]
            feeds[i.name] = np.zeros(shape, np.float16 if "float16" in i.type else np.float32)
    return session.run(["logits"], feeds)[0].astype(np.float32)


def synthetic_hd16(hf_dir):
    """A LLaMA with stories260K's vocabulary and tokenizer but head size 16, which ONNX
    Runtime's CPU GroupQueryAttention needs (stories260K's is 8). Deterministic random
    weights (seed 0): for logit comparisons, not for text."""
    torch.manual_seed(0)
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=172,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, head_dim=16, vocab_size=512,
                                      max_position_embeddings=512, rms_norm_eps=1e-5,
                                      rope_theta=10000.0, tie_word_embeddings=False,
                                      bos_token_id=1, eos_token_id=2)
    model = transformers.LlamaForCausalLM(config).eval()
    model.save_pretrained(hf_dir, safe_serialization=True)
    write_tokenizer(hf_dir)
    return model


def main():
    os.makedirs(OUT, exist_ok=True)
    ids = np.array([[1, 403, 407, 261, 378, 432, 383, 286]], dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = os.path.join(tmp, "hf")
        model = build_hf(hf_dir)
        export_torch(model, os.path.join(OUT, "stories260K-torch-fp32"))
        export_torch_kv(model, os.path.join(OUT, "stories260K-torch-kv-fp32"), torch.float32)
        export_torch_kv(model, os.path.join(OUT, "stories260K-torch-kv-fp16"), torch.float16)
        for precision in ["fp32", "fp16", "int4"]:
            export_genai(hf_dir, os.path.join(OUT, f"stories260K-genai-{precision}"), precision)

        hd16_dir = os.path.join(tmp, "hd16")
        hd16 = synthetic_hd16(hd16_dir)
        with torch.no_grad():
            want = hd16(input_ids=torch.from_numpy(ids), use_cache=False).logits.numpy()
        for precision in ["fp32", "int4"]:
            out_dir = os.path.join(OUT, f"synthetic-hd16-genai-{precision}")
            export_genai(hd16_dir, out_dir, precision)
            err = float(np.abs(run_genai_export(out_dir, ids, 16) - want).max())
            print(f"  ONNX Runtime vs transformers on {precision}: max |diff| {err:.2e}")
            if precision == "fp32":
                assert err < 1e-4, f"GenAI fp32 export differs from transformers by {err}"
    import onnx, onnxruntime, onnxruntime_genai, onnxscript
    with open(os.path.join(OUT, "VERSIONS.txt"), "w") as f:
        f.write("Generated by test/Import/ONNX/make-fixtures.py with:\n")
        for mod in [torch, transformers, onnx, onnxruntime, onnxruntime_genai, onnxscript, np]:
            f.write(f"{mod.__name__} {mod.__version__}\n")
        f.write(f"python {sys.version.split()[0]}\n")


if __name__ == "__main__":
    main()
