//===- BindWeight.h - A compiled weight's tensors, as kernels read them -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The loader's half of the format definition: every weight's tensors are checked against
// componentsOf (dtype and shape of each, a bitmask's row offsets against its bits, int8
// outlier columns sorted and in range) before a kernel may index them, then the kernels'
// view (runtime/format/WeightView.h) is pointed at them.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_FORMAT_BINDWEIGHT_H
#define MIDLLAMA_RUNTIME_FORMAT_BINDWEIGHT_H

#include "runtime/artifact/Program.h"
#include "runtime/format/WeightView.h"
#include "runtime/params/ParamFile.h"

#include <string>
#include <vector>

namespace midllama::rt {

/// Binds the tensors of weight `info` in `file` to `ref`. Scales the format decodes at load
/// (double-quantized NF4 absmax; NF4's fp32 absmax copied) go to `decoded`, which `ref`
/// points into: keep it alive, and do not resize it, as long as `ref` is used. False with
/// `why` (the sentence after the weight's name) when the tensors do not fit the format.
bool bindWeight(const ParamFile &file, const WeightInfo &info, WeightView &ref,
                std::vector<float> &decoded, std::string &why);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_FORMAT_BINDWEIGHT_H
