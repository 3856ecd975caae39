// --llm-prune-magnitude on one 2x8 weight given inline, 2:4: in every 4 consecutive
// inputs of a row the 2 of largest |w| are kept (as the Wanda reference's N:M magnitude
// baseline), stored compressed: the kept values in row order, and per kept value its
// 2-bit position in its group, packed from the low bits of each byte. Then RTN on the
// pruned weight, read back from that file (the norm still inline): the mask is kept.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: midllama-opt --llm-prune-magnitude="pattern=2:4 include=^w output=%t/p.safetensors" %s -o %t/p.mlir 2> %t/progress.txt
// RUN: FileCheck %s --input-file %t/p.mlir
// RUN: FileCheck %s --check-prefix=PROGRESS --input-file %t/progress.txt
// RUN: %python %S/Inputs/dump-params.py %t/p.safetensors | FileCheck %s --check-prefix=TENSORS
// RUN: midllama-opt --llm-verify-params %t/p.mlir -o %t.discard
// RUN: midllama-opt --llm-quantize-rtn="bits=8 group-size=8 symmetric=true include=^w output=q.safetensors" %t/p.mlir -o %t/pq.mlir 2>/dev/null
// RUN: FileCheck %s --check-prefix=QUANTIZED --input-file %t/pq.mlir
// RUN: %python %S/Inputs/dump-params.py %t/q.safetensors | FileCheck %s --check-prefix=QTENSORS
//
// An error about one weight points at its llm.param, and nothing is written.
// RUN: not midllama-opt --llm-prune-magnitude="pattern=2:3 include=^w output=%t/bad.safetensors" %s -o %t/bad.mlir 2>&1 | FileCheck %s --check-prefix=WHERE
// RUN: not ls %t/bad.safetensors %t/bad.mlir
// WHERE: llm-prune-magnitude-inline.mlir:{{[0-9]+}}:3: error: llm-prune-magnitude: weight 'w': M = 3 does not divide K = 8
// WHERE-NEXT: llm.param @w : !llm.weight<2x8xf32> = dense<
//
// CHECK: llm.param @w : !llm.weight<2x8xf32, #llm.n_m<2:4>>{{$}}
// CHECK: llm.param @n : !llm.weight<8xf32> = dense<1.000000e+00>
// PROGRESS: llm-prune-magnitude: w [2 x 8] -> 2:4, 50.0% zero in
//
// Row 0: [0 1 2 3] keeps 2 3 (positions 2 3), [4 5 6 7] keeps 6 7 (2 3):
//        2 | 3 << 2 | 2 << 4 | 3 << 6 = 238.
// Row 1: [-4 -2 0.6 1] keeps -4 -2 (0 1), [-1 3 2.2 -0.25] keeps 3 2.2 (1 2):
//        0 | 1 << 2 | 1 << 4 | 2 << 6 = 148.
// TENSORS: w.indices U8[2x1] = 238 148
// TENSORS-NEXT: w.values F32[2x4] = 2 3 6 7 -4 -2 3 2.2
//
// Symmetric 8-bit over each row's kept values (the zeros count too, as in the GPTQ
// reference's quantizer), zero 128; only the 4 kept values' codes are stored, beside the
// same positions. Row 1 has a negative value: scale 2 * 4 / 255, codes 128 + round(w / s),
// -4 / s being -127.4999924 in fp32 (code 1; not a tie), 2.2 / s = 70.1 (code 198).
// Row 0 has none, so the reference keeps its range [0, 7] (scale 7 / 255) and clips the
// upper half: 2 -> 72.9 -> 201, 3 -> 237, 6 and 7 -> 255. We follow it exactly.
// QUANTIZED: llm.param @w : !llm.weight<2x8xf32, #llm.affine<bits = 8, group_size = 8, symmetric = true>, #llm.n_m<2:4>>{{$}}
// QTENSORS: w.indices U8[2x1] = 238 148
// QTENSORS-NEXT: w.qweight U8[2x4] = 201 237 255 255 1 64 224 198
// QTENSORS-NEXT: w.scales F32[2x1] = 0.027451 0.0313726

module {
  llm.param @w : !llm.weight<2x8xf32> = dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [-4.0, -2.0, 0.6, 1.0, -1.0, 3.0, 2.2, -0.25]]> : tensor<2x8xf32>
  llm.param @n : !llm.weight<8xf32> = dense<1.0> : tensor<8xf32>
  func.func @f(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
    %w = llm.weight @w : !llm.weight<2x8xf32>
    %y = llm.linear %x, %w : tensor<1x8xf32>, !llm.weight<2x8xf32> -> tensor<1x2xf32>
    return %y : tensor<1x2xf32>
  }
}
