// --llm-quantize-rtn on one 2x8 weight given inline: the exact codes, scales and zero
// points, worked out by hand (the convention of the GPTQ reference's quantizer, which RTN
// shares: the range [min(w, 0), max(w, 0)] over a group, scale = range / (2^bits - 1),
// zero = round(-min / scale), code = clamp(round(w / scale) + zero, 0, 2^bits - 1); 4-bit
// codes packed two to a byte, the lower column in the low nibble).
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: midllama-opt --llm-quantize-rtn="bits=4 group-size=4 include=^w output=%t/q.safetensors" %s -o %t/q.mlir 2> %t/progress.txt
// RUN: FileCheck %s --input-file %t/q.mlir
// RUN: FileCheck %s --check-prefix=PROGRESS --input-file %t/progress.txt
// RUN: %python %S/Inputs/dump-params.py %t/q.safetensors | FileCheck %s --check-prefix=TENSORS
// RUN: midllama-opt --llm-verify-params %t/q.mlir -o %t.discard
//
// The quantized weight now lives in the new file; the norm, not selected, stays inline.
// CHECK: module attributes {llm.param_file = "q.safetensors"}
// CHECK: llm.param @w : !llm.weight<2x8xf32, #llm.affine<bits = 4, group_size = 4>>{{$}}
// CHECK: llm.param @n : !llm.weight<8xf32> = dense<1.000000e+00> : tensor<8xf32>
// CHECK: llm.linear %{{.*}}, %{{.*}} : tensor<1x8xf32>, !llm.weight<2x8xf32, #llm.affine<bits = 4, group_size = 4>> -> tensor<1x2xf32>
// PROGRESS: llm-quantize-rtn: w [2 x 8] -> int4 g4 in
//
// Row 0, group [0 1 2 3]: scale 3/15 = 0.2, zero 0, codes 0 5 10 15;
//        group [4 5 6 7]: scale 7/15, zero 0, codes 8.57->9 10.7->11 12.9->13 15.
// Row 1, group [-4 -2 0.6 1]: scale 5/15, zero 12, codes 0 6 14 15;
//        group [-1 3 2.2 -0.25]: scale 4/15, zero round(3.75) = 4, codes 0 15 12 3.
// Bytes (high nibble first in the hex): 0x50 0xFA 0xB9 0xFD | 0x60 0xFE 0xF0 0x3C.
// TENSORS: w.qweight U8[2x4] = 80 250 185 253 96 254 240 60
// TENSORS-NEXT: w.scales F32[2x2] = 0.2 0.466667 0.333333 0.266667
// TENSORS-NEXT: w.zeros U8[2x2] = 0 0 12 4
// TENSORS-NOT: {{^}}n{{ }}

module {
  llm.param @w : !llm.weight<2x8xf32> = dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [-4.0, -2.0, 0.6, 1.0, -1.0, 3.0, 2.2, -0.25]]> : tensor<2x8xf32>
  llm.param @n : !llm.weight<8xf32> = dense<1.0> : tensor<8xf32>
  func.func @f(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
    %w = llm.weight @w : !llm.weight<2x8xf32>
    %y = llm.linear %x, %w : tensor<1x8xf32>, !llm.weight<2x8xf32> -> tensor<1x2xf32>
    return %y : tensor<1x2xf32>
  }
}
