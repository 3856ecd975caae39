#!/usr/bin/env python3
"""The ONNX export matrix (issue 16): tiny random-weight LLaMA configurations exported by
every exporter users reach for, under the transformers version this Python has, each with
ONNX Runtime's logits on the exported file as the reference.

    python make-export-matrix.py OUT_DIR

writes OUT_DIR/<transformers version>/<config>/<exporter>/ with model.onnx (+ data),
ids.txt (the prompt), ort.bin (ONNX Runtime's logits, little-endian float32,
[positions x vocabulary], one forward pass from an empty cache) and meta.json (versions,
ONNX Runtime vs transformers, or why the export itself failed). check-export-matrix.sh
then imports, compiles and runs every cell; export-matrix-report.py writes the table in
docs/onnx-import.md. Run once per transformers version (scripts/onnx-export-matrix.sh
does all of it). Not part of CI; the cells small enough are committed under
Inputs/matrix/ and checked there by export-matrix.test.

Needs torch, transformers, onnx, onnxruntime, onnxscript; optimum-onnx (transformers 4.x
only: it pins <4.58) and onnxruntime-genai where available (0.11 with transformers 4.x,
0.18 with 5.x).
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import torch
import transformers

SEED = 0
VOCAB = 128
COMMON = dict(intermediate_size=96, num_hidden_layers=2, vocab_size=VOCAB,
              max_position_embeddings=256, rms_norm_eps=1e-5, bos_token_id=1,
              eos_token_id=2)
# Head size 16/32/64, GQA and MHA, tied and untied, theta 1e4 and 5e5, and the two
# rope_scaling schemes the issue names (which midllama must refuse precisely).
CONFIGS = {
    "hd16-gqa-tied": dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                          head_dim=16, tie_word_embeddings=True, rope_theta=10000.0),
    "hd32-mha-untied-t500k": dict(hidden_size=64, num_attention_heads=2,
                                  num_key_value_heads=2, head_dim=32,
                                  tie_word_embeddings=False, rope_theta=500000.0),
    "hd64-gqa-tied": dict(hidden_size=128, num_attention_heads=2, num_key_value_heads=1,
                          head_dim=64, tie_word_embeddings=True, rope_theta=10000.0),
    "hd16-rope-llama3": dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                             head_dim=16, tie_word_embeddings=True, rope_theta=500000.0,
                             rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                           "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                           "original_max_position_embeddings": 64}),
    "hd16-rope-linear": dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                             head_dim=16, tie_word_embeddings=True, rope_theta=10000.0,
                             rope_scaling={"rope_type": "linear", "factor": 2.0}),
}
IDS = np.array([[1, 17, 93, 5, 64, 120, 33, 7, 88, 41, 2, 76]], dtype=np.int64)


def build(config_name, hf_dir):
    torch.manual_seed(SEED)
    config = transformers.LlamaConfig(**COMMON, **CONFIGS[config_name])
    model = transformers.LlamaForCausalLM(config).eval()
    # Random init leaves the norms at 1: perturb them so a misread norm weight shows.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(0.1 * torch.randn_like(p))
    model.save_pretrained(hf_dir, safe_serialization=True)
    write_tokenizer(hf_dir)
    return model


def write_tokenizer(hf_dir):
    """A word-level tokenizer over the 128 ids: the GenAI builder saves the model's
    tokenizer and fails without one. (Dropped from the cells: the logits are compared on
    token ids.)"""
    from tokenizers import Tokenizer, models, pre_tokenizers
    vocab = {f"t{i}": i for i in range(VOCAB)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="t1",
                                                eos_token="t2", unk_token="t0")
    fast.save_pretrained(hf_dir)


def reference_logits(model):
    with torch.no_grad():
        return model(input_ids=torch.from_numpy(IDS), use_cache=False).logits[0].float().numpy()


def ort_logits(path, model):
    """ONNX Runtime on the exported file: the prompt from an empty cache."""
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    cfg = model.config
    seq = IDS.shape[1]
    feeds = {}
    for i in session.get_inputs():
        fp16 = "float16" in i.type
        if i.name == "input_ids":
            feeds[i.name] = IDS
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones_like(IDS)
        elif i.name == "position_ids":
            feeds[i.name] = np.arange(seq, dtype=np.int64)[None]
        elif i.name.startswith("past_key_values"):
            feeds[i.name] = np.zeros((1, cfg.num_key_value_heads, 0, cfg.head_dim),
                                     np.float16 if fp16 else np.float32)
        else:
            raise RuntimeError(f"unknown graph input {i.name}")
    out = session.run(None, feeds)
    names = [o.name for o in session.get_outputs()]
    return out[names.index("logits")][0].astype(np.float32)


# Exporters: each writes out_dir/model.onnx from (model, hf_dir) or raises.

def optimum(task, dtype):
    def run(model, hf_dir, out_dir):
        from optimum.exporters.onnx import main_export
        main_export(hf_dir, output=out_dir, task=task, dtype=dtype, device="cpu",
                    no_post_process=False)
    return run


class LogitsOnly(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids=input_ids, use_cache=False).logits


class WithCache(torch.nn.Module):
    """Flat past_key_values tensors in, logits and flat presents out: the interface ONNX
    graphs take, around transformers' DynamicCache."""

    def __init__(self, m):
        super().__init__()
        self.m = m
        self.layers = m.config.num_hidden_layers

    def forward(self, input_ids, position_ids, past):
        from transformers import DynamicCache
        try:
            cache = DynamicCache(config=self.m.config)
        except TypeError:
            cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.m(input_ids=input_ids, position_ids=position_ids, past_key_values=cache,
                     use_cache=True)
        presents = []
        for layer in out.past_key_values.layers[:self.layers]:
            presents += [layer.keys, layer.values]
        return (out.logits, *presents)


def torch_export(dynamo, kv):
    def run(model, hf_dir, out_dir):
        path = os.path.join(out_dir, "model.onnx")
        cfg = model.config
        layers = cfg.num_hidden_layers
        if not kv:
            ids = torch.from_numpy(IDS[:, :8])
            kwargs = (dict(dynamic_shapes={"input_ids": {0: "batch", 1: "sequence"}})
                      if dynamo else dict(dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                                        "logits": {0: "batch", 1: "sequence"}}))
            torch.onnx.export(LogitsOnly(model).eval(), (ids,), path, input_names=["input_ids"],
                              output_names=["logits"], opset_version=18, dynamo=dynamo,
                              **kwargs)
            return
        wrapper = WithCache(model).eval()
        past = tuple(torch.full((1, cfg.num_key_value_heads, 3, cfg.head_dim), 0.1)
                     for _ in range(2 * layers))
        ids = torch.from_numpy(IDS[:, :5])
        pos = torch.arange(3, 8)[None]
        names = ["input_ids", "position_ids"] + [f"past_key_values.{i}.{kv_}"
                                                 for i in range(layers) for kv_ in ("key", "value")]
        outs = ["logits"] + [f"present.{i}.{kv_}" for i in range(layers)
                             for kv_ in ("key", "value")]
        if dynamo:
            batch, seq, plen = (torch.export.Dim("batch"), torch.export.Dim("sequence"),
                                torch.export.Dim("past_sequence"))
            dyn = dict(dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq},
                                       tuple({0: batch, 2: plen} for _ in range(2 * layers))))
        else:
            axes = {"input_ids": {0: "batch", 1: "sequence"},
                    "position_ids": {0: "batch", 1: "sequence"},
                    "logits": {0: "batch", 1: "sequence"}}
            for n in names[2:]:
                axes[n] = {0: "batch", 2: "past_sequence"}
            for n in outs[1:]:
                axes[n] = {0: "batch", 2: "total_sequence"}
            dyn = dict(dynamic_axes=axes)
        torch.onnx.export(wrapper, (ids, pos, past), path, input_names=names,
                          output_names=outs, opset_version=18, dynamo=dynamo, **dyn)
    return run


def genai(precision):
    def run(model, hf_dir, out_dir):
        with tempfile.TemporaryDirectory() as cache:
            subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder",
                            "-m", hf_dir, "-i", hf_dir, "-o", out_dir, "-p", precision,
                            "-e", "cpu", "-c", cache], check=True, capture_output=True,
                           text=True)
    return run


EXPORTERS = {
    "optimum-kv-fp32": ("optimum", optimum("text-generation-with-past", "fp32")),
    "optimum-nokv-fp32": ("optimum", optimum("text-generation", "fp32")),
    "optimum-kv-fp16": ("optimum", optimum("text-generation-with-past", "fp16")),
    "torch-dynamo-nokv-fp32": ("torch", torch_export(True, False)),
    "torch-dynamo-kv-fp32": ("torch", torch_export(True, True)),
    "torch-script-nokv-fp32": ("torch", torch_export(False, False)),
    "torch-script-kv-fp32": ("torch", torch_export(False, True)),
    "genai-fp32": ("onnxruntime_genai", genai("fp32")),
    "genai-fp16": ("onnxruntime_genai", genai("fp16")),
    "genai-int4": ("onnxruntime_genai", genai("int4")),
}


def version(module):
    from importlib import metadata
    try:
        return metadata.version(module.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return None


def first_line(e):
    text = str(e).strip() or type(e).__name__
    if isinstance(e, subprocess.CalledProcessError):
        text = (e.stderr or "").strip().splitlines()[-1:] or [text]
        text = text[0]
    return text.splitlines()[0][:300]


def main():
    out_root = os.path.join(sys.argv[1], "transformers-" + transformers.__version__)
    only = set(sys.argv[2:])
    versions = {m: version(m) for m in ("transformers", "torch", "onnx", "onnxruntime",
                                        "onnxscript", "optimum", "onnxruntime_genai")}
    if importlib.util.find_spec("optimum.exporters.onnx") is None:
        versions["optimum"] = None
    for config_name in CONFIGS:
        with tempfile.TemporaryDirectory() as tmp:
            hf_dir = os.path.join(tmp, "hf")
            model = build(config_name, hf_dir)
            want = reference_logits(model)
            for exporter, (needs, fn) in EXPORTERS.items():
                cell = f"{config_name}/{exporter}"
                if only and exporter not in only and config_name not in only:
                    continue
                out_dir = os.path.join(out_root, config_name, exporter)
                shutil.rmtree(out_dir, ignore_errors=True)
                os.makedirs(out_dir)
                meta = dict(config=config_name, exporter=exporter, versions=versions,
                            hf_config=CONFIGS[config_name])
                if not versions.get(needs):
                    meta["export"] = f"not available: {needs} is not installed with " \
                                     f"transformers {transformers.__version__}"
                else:
                    try:
                        fn(model, hf_dir, out_dir)
                        # Only the graph: midllama reads its tokenizer, and these models
                        # have none.
                        for f in os.listdir(out_dir):
                            if not f.startswith("model.onnx"):
                                os.remove(os.path.join(out_dir, f))
                        got = ort_logits(os.path.join(out_dir, "model.onnx"), model)
                        got.tofile(os.path.join(out_dir, "ort.bin"))
                        with open(os.path.join(out_dir, "ids.txt"), "w") as f:
                            f.write(" ".join(str(int(t)) for t in IDS[0]) + "\n")
                        meta["export"] = "ok"
                        meta["ort_vs_transformers"] = float(np.abs(got - want).max())
                    except Exception as e:  # the exporter's failure, recorded as such
                        meta["export"] = "failed: " + first_line(e)
                        traceback.print_exc(limit=1)
                        for f in os.listdir(out_dir):
                            os.remove(os.path.join(out_dir, f))
                with open(os.path.join(out_dir, "meta.json"), "w") as f:
                    json.dump(meta, f, indent=1)
                print(f"{cell}: {meta['export']}", flush=True)


if __name__ == "__main__":
    main()
