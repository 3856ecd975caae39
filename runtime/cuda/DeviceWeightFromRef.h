//===- DeviceWeightFromRef.h - A CPU weight view as the GPU reads it -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The CUDA backend describes each weight to its kernels with the fields the CPU backend
// decoded at load (runtime/cpu/Kernels.h's WeightRef), its pointers moved to where the
// bytes live on the device by `place`. Host-only; shared by the backend and the CPU test
// of the device decoders (test/unittests/runtime/CudaDecodeTest.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CUDA_DEVICEWEIGHTFROMREF_H
#define MIDLLAMA_RUNTIME_CUDA_DEVICEWEIGHTFROMREF_H

#include "runtime/cpu/Kernels.h"
#include "runtime/cuda/kernels/DeviceWeight.h"

#include <type_traits>

namespace midllama::rt::cuda {

/// `place(p)`: the device address of host pointer p (null for null). False when a non-null
/// pointer has no place (a buffer the device never received).
template <typename Place>
bool toDeviceWeight(const cpu::WeightRef &w, Place place, DeviceWeight &d) {
  d = DeviceWeight();
  d.dtype = w.dtype == DType::F16 ? kF16 : w.dtype == DType::BF16 ? kBF16 : kF32;
  d.rows = w.rows;
  d.cols = w.cols;
  d.bits = w.bits;
  d.nf4 = w.nf4;
  d.int8 = w.int8;
  d.groupSize = w.groupSize;
  d.groups = w.groups;
  d.codeRowBytes = w.codeRowBytes;
  d.sparse = w.sparse == cpu::WeightRef::Sparse::NM        ? kNM
             : w.sparse == cpu::WeightRef::Sparse::Bitmask ? kBitmask
                                                           : kDense;
  d.nmN = w.nmN;
  d.nmM = w.nmM;
  d.indexRowBytes = w.indexRowBytes;
  d.numOutliers = w.numOutliers;
  bool ok = true;
  auto move = [&](const auto *p, auto &field) {
    const void *q = place(static_cast<const void *>(p));
    ok = ok && (!p || q);
    field = static_cast<std::remove_reference_t<decltype(field)>>(q);
  };
  move(w.data, d.data);
  move(w.codes, d.codes);
  move(w.zeros, d.zeros);
  move(w.scales, d.scales);
  move(w.index, d.index);
  move(w.rowPtr, d.rowPtr);
  move(w.outlierColumns, d.outlierColumns);
  move(w.outliers, d.outliers);
  return ok && !w.panels; // panels are the CPU's layout; GPU artifacts store rows
}

} // namespace midllama::rt::cuda

#endif // MIDLLAMA_RUNTIME_CUDA_DEVICEWEIGHTFROMREF_H
