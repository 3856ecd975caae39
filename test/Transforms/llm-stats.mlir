// The stats pass on a hand-written two-layer module. Every number is worked out by hand
// below from the layout in docs/weights.md (N = rows, K = columns).
//
// RUN: midllama-opt --llm-stats %S/Inputs/two-layer.mlir -o %t.discard | FileCheck %s
// RUN: midllama-opt --llm-stats=per-param %S/Inputs/two-layer.mlir -o %t.discard | FileCheck %s --check-prefix=PARAM
// RUN: midllama-opt --llm-stats='format=json' %S/Inputs/two-layer.mlir -o %t.discard | FileCheck %s --check-prefix=JSON
// RUN: rm -f %t.json
// RUN: midllama-opt --llm-stats='format=json output=%t.json' %S/Inputs/two-layer.mlir | FileCheck %s --check-prefix=IR
// RUN: FileCheck %s --check-prefix=JSON --input-file %t.json
// RUN: not midllama-opt --llm-stats='format=xml' %S/Inputs/two-layer.mlir -o %t.discard 2>&1 | FileCheck %s --check-prefix=BADFORMAT
// RUN: not midllama-opt --llm-stats='output=%t.missing-dir/stats.txt' %S/Inputs/two-layer.mlir -o %t.discard 2>&1 | FileCheck %s --check-prefix=BADOUTPUT
// RUN: not midllama-opt --llm-stats='colour=red' %S/Inputs/two-layer.mlir -o %t.discard 2>&1 | FileCheck %s --check-prefix=BADOPTION
// RUN: not midllama-opt --llm-stats='output=' %S/Inputs/two-layer.mlir -o %t.ir 2> %t.err
// RUN: FileCheck %s --check-prefix=EMPTYOUTPUT --input-file %t.err
// RUN: count 1 < %t.err
// EMPTYOUTPUT: error: llm-stats: output (the report file, or - for stdout) is required and may not be empty

// This file only holds checks; the module is Inputs/two-layer.mlir.

// Layer 0, dense f32, 8 tensors (its attention norm is the shared one):
//   wq 64*64 + wk 32*64 + wv 32*64 + wo 64*64 + ffn_norm 64 + w1,w2,w3 3*172*64
//   = 4096 + 2048 + 2048 + 4096 + 64 + 33024 = 45376 params, *4 = 181504 bytes.
// Layer 1, same 45376 params, one tensor per encoding:
//   wq  int4 g32 asym   64x64:  qweight 64*32 + scales 64*2*2 + zeros 64*2      = 2432
//   wk  nf4 b64 dq      32x64:  codes 2048/2 + absmax 32 + dq scale 4 + offset 4 = 1064
//   wv  int8 + 2 cols   32x64:  int8 32*64 + row scales 32*4 + fp16 cols 32*2*2 = 2304
//   wo  f16 2:4         64x64:  values 64*32*2 + 2-bit indices 64*8            = 4608
//   ffn_norm            64 f32                                                  =  256
//   w1  int4 g32 2:4   172x64:  qweight 172*16 + scales 688 + zeros 344 + idx 1376 = 5160
//   w2  int3 g32 sym act-order 64x172: qweight 64*ceil(516/8)=4160 + scales 64*6*4=1536
//                                      + g_idx 172*4=688                       = 6384
//   w3  f32 unstructured 5504 of 11008: values 22016 + mask 172*8 + row_ptr 173*4 = 24084
//   total 46292 bytes; 8 * 46292 / 45376 = 8.161 bits per parameter.
// Outside layers: tok_embeddings 512*64 (tied to the LM head) + norm 64 = 32832 params, 131328 bytes.
// Shared by both layers: shared.attention_norm, 64 params, 256 bytes. Unused: unused.bias 172, 688.
// Total: 45376*2 + 32832 + 64 + 172 = 123820 params; 181504 + 46292 + 131328 + 256 + 688 = 360068 bytes.

// CHECK: midllama weight statistics
// CHECK-NEXT: group tensors params bytes bits/param
// CHECK-NEXT: layer 0 8 45376 181504 32.000
// CHECK-NEXT: layer 1 8 45376 46292 8.161
// CHECK-NEXT: outside layers 2 32832 131328 32.000
// CHECK-NEXT: shared 1 64 256 32.000
// CHECK-NEXT: unused 1 172 688 32.000
// CHECK-NEXT: total 20 123820 360068 23.264
// CHECK-EMPTY:
// CHECK-NEXT: storage format tensors params bytes bits/param
// f32: 13 tensors, 32768 + 64 + 45376 + 64 + 64 + 172 = 78508 params.
// CHECK-NEXT: f32 13 78508 314032 32.000
// CHECK-NEXT: int4 g32 asym 1 4096 2432 4.750
// CHECK-NEXT: nf4 b64 dq 1 2048 1064 4.156
// CHECK-NEXT: int8 + 2 fp16 cols 1 2048 2304 9.000
// CHECK-NEXT: f16 2:4 1 4096 4608 9.000
// CHECK-NEXT: int4 g32 asym 2:4 1 11008 5160 3.750
// CHECK-NEXT: int3 g32 sym act-order 1 11008 6384 4.640
// CHECK-NEXT: f32 sparse-bitmask 1 11008 24084 17.503
// Mapped: each tensor padded to 64 bytes. Only these grow: nf4 32->64, 4->64, 4->64 (+152);
// w1 scales 688->704, zeros 344->384, indices 1376->1408 (+88); w2 g_idx 688->704 (+16);
// w3 mask 1376->1408, row_ptr 692->704 (+44); unused.bias 688->704 (+16): 360068 + 316 = 360384.
// CHECK: weight memory: 360068 bytes stored, 360384 bytes mapped (0.34 MiB, tensors aligned to 64 bytes)
// CHECK-NEXT: vs fp16: 247640 bytes, stored/fp16 = 1.454

// PARAM: parameter [format]
// PARAM-NEXT: tok_embeddings [f32] 1 32768 131072 32.000
// PARAM: layers.1.attention.wk [nf4 b64 dq] 1 2048 1064 4.156
// PARAM: layers.1.feed_forward.w3 [f32 sparse-bitmask] 1 11008 24084 17.503

// JSON: "formats": [
// JSON: "format": "f32"
// JSON: "groups": [
// JSON: "aligned_bytes": 181504,
// JSON-NEXT: "bits_per_param": 32,
// JSON-NEXT: "bytes": 181504,
// JSON-NEXT: "group": "layer 0",
// JSON-NEXT: "layer": 0,
// JSON-NEXT: "params": 45376,
// JSON-NEXT: "tensors": 8
// JSON: "parameters": [
// JSON: "aligned_bytes": 1216,
// JSON-NEXT: "bits_per_param": 4.15625,
// JSON-NEXT: "bytes": 1064,
// JSON-NEXT: "format": "nf4 b64 dq",
// JSON-NEXT: "group": "layer 1",
// JSON-NEXT: "name": "layers.1.attention.wk",
// JSON-NEXT: "params": 2048
// JSON: "total": {
// JSON-NEXT: "aligned_bytes": 360384,
// JSON: "bytes": 360068,
// JSON-NEXT: "params": 123820,
// JSON-NEXT: "tensors": 20

// The pass leaves the IR alone.
// IR: llm.param @tok_embeddings : !llm.weight<512x64xf32>
// IR: llm.decoder_layer 1

// BADFORMAT: error: llm-stats: format must be table or json (got 'xml')
// BADOUTPUT: error: llm-stats: llm-stats output '{{.*}}missing-dir/stats.txt': its directory '{{.*}}missing-dir' does not exist
// BADOPTION: no such option colour
