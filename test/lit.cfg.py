# lit configuration of the midllama test suite (test/, mirroring the source tree).
import os
import sys
import shutil

import lit.formats
import lit.util

config.name = "midllama"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.midllama_obj_root, "test")
# unittests/ is its own suite (GoogleTest format); Inputs/ hold data, not tests.
config.excludes = ["unittests", "Inputs", "CMakeLists.txt", "lit.cfg.py", "README.md"]

config.substitutions.append(("%midllama_src", config.midllama_src_root))
config.substitutions.append(("%midllama_obj", config.midllama_obj_root))
config.substitutions.append(("%models", os.path.join(config.midllama_src_root, "models")))
config.substitutions.append(("%python", sys.executable))
config.environment["PATH"] = os.pathsep.join(
    [config.midllama_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")]
)
# FileCheck, not, count come from LLVM's tools directory (Debian: /usr/lib/llvm-22/bin).
for tool in ["FileCheck", "not", "count"]:
    if not shutil.which(tool, path=config.environment["PATH"]):
        lit_config.fatal(f"{tool} not found in {config.llvm_tools_dir}")

# The libFuzzer target is built when Debian's clang and its fuzzer runtime are installed.
if config.onnx_fuzzer:
    config.available_features.add("libfuzzer")
    config.substitutions.append(("%onnx_fuzzer", config.onnx_fuzzer))
    config.substitutions.append(("%onnx_converter_fuzzer", config.onnx_converter_fuzzer))
    config.substitutions.append(("%gguf_fuzzer", config.gguf_fuzzer))
    config.substitutions.append(
        ("%fuzz_seconds", os.environ.get("MIDLLAMA_FUZZ_SECONDS", "30"))
    )
else:
    lit_config.note("libFuzzer not available (clang-14, libclang-rt-14-dev): fuzz tests skip")

if config.have_cuda:
    config.available_features.add("cuda-build")
# A usable GPU (the probe runs a kernel): the CUDA end-to-end tests, for the GPU's target.
import subprocess
probe = subprocess.run([os.path.join(config.midllama_tools_dir, "midllama-run"), "--probe-gpu"],
                       capture_output=True, text=True)
if probe.returncode == 0:
    config.available_features.add("cuda")
    arch = probe.stdout.split()[-3] if len(probe.stdout.split()) >= 3 else "sm_90"
    config.substitutions.append(("%cuda_target", arch if arch in ("sm_80", "sm_86", "sm_89", "sm_90") else "sm_90"))
    lit_config.note("GPU: " + probe.stdout.strip())
else:
    lit_config.note("CUDA end-to-end tests skipped: " + (probe.stdout.strip() or probe.stderr.strip()))

# SmolLM2-135M (scripts/get-model.sh smollm2 puts it in the cache; never in the repository):
# its tests run where it has been fetched and skip, with a note, elsewhere (CI).
smollm2 = os.path.join(os.environ.get("MIDLLAMA_CACHE",
                                      os.path.join(os.path.expanduser("~"), ".cache", "midllama")),
                       "models", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
if os.path.isfile(smollm2):
    config.available_features.add("smollm2")
    config.substitutions.append(("%smollm2_gguf", smollm2))
    # Its ONNX export (scripts/export-smollm2-onnx.py, needs torch: never in CI).
    onnx_dir = os.path.join(os.path.dirname(smollm2), "onnx-genai-fp32")
    if os.path.isfile(os.path.join(onnx_dir, "model.onnx")):
        config.available_features.add("smollm2-onnx")
        config.substitutions.append(("%smollm2_onnx_dir", onnx_dir))
    # Its optimum-cli exports, with and without the KV cache (the same script).
    optimum_dirs = [os.path.join(os.path.dirname(smollm2), "optimum-text-generation" + task)
                    for task in ("-with-past", "")]
    if all(os.path.isfile(os.path.join(d, "ort-logits-capital-of-france.f32"))
           for d in optimum_dirs):
        config.available_features.add("smollm2-optimum")
        config.substitutions.append(("%smollm2_optimum_kv", optimum_dirs[0]))
        config.substitutions.append(("%smollm2_optimum_nokv", optimum_dirs[1]))
else:
    lit_config.note("SmolLM2 tests skipped: run scripts/get-model.sh smollm2 to fetch it")
if "MIDLLAMA_CACHE" in os.environ:
    config.environment["MIDLLAMA_CACHE"] = os.environ["MIDLLAMA_CACHE"]
