// --llm-quantize-nf4 on one 4x8 weight given inline, a single block of 32: absmax 2, each
// value / 2 mapped to the nearest of the 16 NormalFloat levels (QLoRA; bitsandbytes'
// table: -1, -0.6962, -0.5251, -0.3949, -0.2844, -0.1848, -0.0911, 0, 0.0796, 0.1609,
// 0.2461, 0.3379, 0.4407, 0.5626, 0.7230, 1), two codes per byte with the first in the
// high nibble, as bitsandbytes packs them.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: midllama-opt --llm-quantize-nf4="block-size=32 include=^w output=%t/n.safetensors" %s -o %t/n.mlir 2> %t/progress.txt
// RUN: FileCheck %s --input-file %t/n.mlir
// RUN: FileCheck %s --check-prefix=PROGRESS --input-file %t/progress.txt
// RUN: %python %S/Inputs/dump-params.py %t/n.safetensors | FileCheck %s --check-prefix=TENSORS
// RUN: midllama-opt --llm-verify-params %t/n.mlir -o %t.discard
//
// CHECK: llm.param @w : !llm.weight<4x8xf32, #llm.nf4<block_size = 32>>{{$}}
// PROGRESS: llm-quantize-nf4: w [4 x 8] -> nf4 b32 in
//
// Rows 0 and 1 are 2 x every level in order: codes 0..15, bytes 0x01 0x23 ... 0xEF.
// Row 2, halved: 0.25 -> 0.2461 (10), -0.25 -> -0.2844 (4), 0.5 -> 0.4407 (12; the
// midpoint to 0.5626 is 0.50165), -0.5 -> -0.5251 (2), +-0.025 -> 0 (7, 7),
// 0.95 -> 1 (15), -0.95 -> -1 (0): 0xA4 0xC2 0x77 0xF0. Row 3, zeros: 0x77.
// TENSORS: w.absmax F32[1] = 2
// TENSORS-NEXT: w.qweight U8[16] = 1 35 69 103 137 171 205 239 164 194 119 240 119 119 119 119

module {
  llm.param @w : !llm.weight<4x8xf32> = dense<[[-2.0, -1.3924, -1.0502, -0.7898, -0.5688, -0.3696, -0.1822, 0.0], [0.1592, 0.3218, 0.4922, 0.6758, 0.8814, 1.1252, 1.446, 2.0], [0.5, -0.5, 1.0, -1.0, 0.05, -0.05, 1.9, -1.9], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  func.func @f(%x: tensor<1x8xf32>) -> tensor<1x4xf32> {
    %w = llm.weight @w : !llm.weight<4x8xf32>
    %y = llm.linear %x, %w : tensor<1x8xf32>, !llm.weight<4x8xf32> -> tensor<1x4xf32>
    return %y : tensor<1x4xf32>
  }
}
