//===- OnnxModel.cpp - Load an ONNX model and its weights safely ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/ONNX/OnnxModel.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/Memory.h"

#include <onnx/onnx_pb.h>

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <unistd.h>

using namespace midllama::onnx_import;

namespace {
/// More elements than this in one tensor is taken as a corrupt or hostile file (2^40: a
/// thousand times a 7B model's largest weight, still far from overflowing byte counts).
constexpr int64_t kMaxElements = int64_t(1) << 40;

std::string quoted(llvm::StringRef s) { return "'" + s.str() + "'"; }

template <typename T>
void appendLE(std::vector<uint8_t> &out, T value, int64_t bytes) {
  for (int64_t i = 0; i < bytes; ++i)
    out.push_back(uint8_t(uint64_t(value) >> (8 * i)));
}
} // namespace

std::optional<int64_t> midllama::onnx_import::onnxDTypeSize(int32_t dataType) {
  switch (OnnxDType(dataType)) {
  case OnnxDType::UInt8:
  case OnnxDType::Int8:
  case OnnxDType::Bool:
    return 1;
  case OnnxDType::UInt16:
  case OnnxDType::Int16:
  case OnnxDType::Float16:
  case OnnxDType::BFloat16:
    return 2;
  case OnnxDType::Float:
  case OnnxDType::Int32:
  case OnnxDType::UInt32:
    return 4;
  case OnnxDType::Int64:
  case OnnxDType::Double:
  case OnnxDType::UInt64:
    return 8;
  }
  return std::nullopt;
}

llvm::StringRef midllama::onnx_import::onnxDTypeName(int32_t dataType) {
  if (onnx::TensorProto_DataType_IsValid(dataType))
    return onnx::TensorProto_DataType_Name(onnx::TensorProto_DataType(dataType));
  return "<invalid>";
}

int64_t OnnxTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

OnnxModel::OnnxModel() = default;
OnnxModel::~OnnxModel() = default;

/// The folders allowDataDirectories named, canonical, each with a trailing '/'.
static std::vector<std::string> &allowedDataDirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

void OnnxModel::allowDataDirectories(const std::vector<std::string> &dirs) {
  allowedDataDirs().clear();
  for (const std::string &d : dirs) {
    llvm::SmallString<256> real;
    if (!llvm::sys::fs::real_path(d, real))
      allowedDataDirs().push_back(std::string(real) + "/");
  }
}

std::unique_ptr<OnnxModel> OnnxModel::load(llvm::StringRef path, std::string &error) {
  // A regular file of at most 2 GiB (protobuf's own limit), before it is mapped or read:
  // a FIFO or a device is refused without blocking.
  if (!midllama::rt::checkInputFile(path.str(), "ONNX model", int64_t(2) << 30, error))
    return nullptr;
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = quoted(path) + ": " + buffer.getError().message();
    return nullptr;
  }
  llvm::SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  return loadFromMemory((*buffer)->getBuffer(), path, dir, error);
}

std::unique_ptr<OnnxModel> OnnxModel::loadFromMemory(llvm::StringRef bytes,
                                                     llvm::StringRef displayName,
                                                     llvm::StringRef directory,
                                                     std::string &error) {
  auto fail = [&](const std::string &what) -> std::unique_ptr<OnnxModel> {
    error = quoted(displayName) + ": " + what;
    return nullptr;
  };
  if (bytes.size() > size_t(INT_MAX))
    return fail("the protobuf is over 2 GiB; an ONNX model that large must keep its weights "
                "as external data");

  std::unique_ptr<OnnxModel> model(new OnnxModel());
  model->path_ = displayName.str();
  model->proto_ = std::make_unique<onnx::ModelProto>();
  if (!model->proto_->ParseFromArray(bytes.data(), int(bytes.size())))
    return fail("not an ONNX model: the protobuf does not parse (truncated or corrupt?)");
  const onnx::ModelProto &proto = *model->proto_;
  if (proto.ir_version() <= 0 || !proto.has_graph())
    return fail("not an ONNX model: no ir_version or no graph");

  std::optional<int64_t> opset = model->opsetVersion("");
  if (!opset)
    return fail("the model imports no opset of the default ONNX domain");
  if (*opset < kMinOpset || *opset > kMaxOpset)
    return fail("default-domain opset " + std::to_string(*opset) + " is not supported (" +
                std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");

  // External data is resolved against the model's real folder, symlinks resolved.
  llvm::SmallString<256> realDir;
  if (std::error_code ec = llvm::sys::fs::real_path(directory, realDir))
    return fail("cannot resolve the model's folder: " + ec.message());
  model->directory_ = std::string(realDir);

  const onnx::GraphProto &graph = proto.graph();
  model->initializers_.reserve(graph.initializer_size());
  for (const onnx::TensorProto &tensor : graph.initializer()) {
    OnnxTensor decoded;
    if (!model->decode(tensor, /*allowExternal=*/true, decoded, error)) {
      error = quoted(displayName) + ": " + error;
      return nullptr;
    }
    if (!model->initializerIndex_.try_emplace(decoded.name, model->initializers_.size())
             .second)
      return fail("initializer " + quoted(decoded.name) + " is defined twice");
    model->initializers_.push_back(std::move(decoded));
  }
  // raw_data spans point into the parsed protobuf, which the model owns.
  return model;
}

void OnnxModel::evict(const OnnxTensor &tensor) const {
  if (!tensor.external || tensor.bytes.empty())
    return;
  for (const auto &entry : externalFiles_) {
    const llvm::MemoryBuffer &buffer = *entry.second;
    const uint8_t *start = reinterpret_cast<const uint8_t *>(buffer.getBufferStart());
    if (buffer.getBufferKind() != llvm::MemoryBuffer::MemoryBuffer_MMap ||
        tensor.bytes.data() < start ||
        tensor.bytes.data() + tensor.bytes.size() > start + buffer.getBufferSize())
      continue;
    rt::dropWholePages(tensor.bytes.data(), tensor.bytes.size());
    return;
  }
}

std::optional<int64_t> OnnxModel::opsetVersion(llvm::StringRef domain) const {
  bool wantDefault = domain.empty() || domain == "ai.onnx";
  for (const onnx::OperatorSetIdProto &opset : proto_->opset_import()) {
    llvm::StringRef d = opset.domain();
    if (wantDefault ? (d.empty() || d == "ai.onnx") : d == domain)
      return opset.version();
  }
  return std::nullopt;
}

const OnnxTensor *OnnxModel::initializer(llvm::StringRef name) const {
  auto it = initializerIndex_.find(name);
  return it == initializerIndex_.end() ? nullptr : &initializers_[it->second];
}

bool OnnxModel::decodeInline(const onnx::TensorProto &tensor, OnnxTensor &out,
                             std::string &error) {
  return decode(tensor, /*allowExternal=*/false, out, error);
}

bool OnnxModel::decode(const onnx::TensorProto &tensor, bool allowExternal, OnnxTensor &out,
                       std::string &error) {
  out.name = tensor.name();
  out.dataType = tensor.data_type();
  std::string what = "tensor " + quoted(out.name);
  std::optional<int64_t> elemSize = onnxDTypeSize(out.dataType);
  if (!elemSize) {
    error = what + " has an element type midllama does not read (" +
            onnxDTypeName(out.dataType).str() + ")";
    return false;
  }
  int64_t numElements = 1;
  for (int64_t d : tensor.dims()) {
    if (d < 0) {
      error = what + " has a negative dimension (" + std::to_string(d) + ")";
      return false;
    }
    if (d != 0 && numElements > kMaxElements / d) {
      error = what + " has absurd dimensions (more than 2^40 elements)";
      return false;
    }
    numElements *= d;
    out.dims.push_back(d);
  }
  int64_t expected = numElements * *elemSize;

  if (tensor.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    if (!allowExternal) {
      error = what + " uses external data, which ONNX allows only for initializers";
      return false;
    }
    return readExternal(tensor, expected, out, error);
  }
  if (tensor.has_raw_data()) {
    if (int64_t(tensor.raw_data().size()) != expected) {
      error = what + " has " + std::to_string(tensor.raw_data().size()) +
              " bytes of raw data but its dims need " + std::to_string(expected);
      return false;
    }
    out.bytes = llvm::ArrayRef<uint8_t>(
        reinterpret_cast<const uint8_t *>(tensor.raw_data().data()), expected);
    return true;
  }

  // Typed fields: ONNX stores 8- and 16-bit types one per int32, unsigned 32/64-bit ones in
  // uint64_data. The value count is checked before anything is allocated: the dims of a
  // hostile file may promise terabytes.
  OnnxDType type = OnnxDType(out.dataType);
  int64_t count = type == OnnxDType::Float    ? tensor.float_data_size()
                  : type == OnnxDType::Double ? tensor.double_data_size()
                  : type == OnnxDType::Int64  ? tensor.int64_data_size()
                  : (type == OnnxDType::UInt32 || type == OnnxDType::UInt64)
                      ? tensor.uint64_data_size()
                      : tensor.int32_data_size();
  if (count != numElements) {
    error = what + " holds " + std::to_string(count) + " values but its dims need " +
            std::to_string(numElements);
    return false;
  }
  std::vector<uint8_t> bytes;
  bytes.reserve(expected);
  switch (type) {
  case OnnxDType::Float:
    for (float v : tensor.float_data()) {
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      appendLE(bytes, bits, 4);
    }
    break;
  case OnnxDType::Double:
    for (double v : tensor.double_data()) {
      uint64_t bits;
      std::memcpy(&bits, &v, 8);
      appendLE(bytes, bits, 8);
    }
    break;
  case OnnxDType::Int64:
    for (int64_t v : tensor.int64_data())
      appendLE(bytes, v, 8);
    break;
  case OnnxDType::UInt32:
  case OnnxDType::UInt64:
    for (uint64_t v : tensor.uint64_data())
      appendLE(bytes, v, *elemSize);
    break;
  default: // int32_data carries Int32, Int16/UInt16, Int8/UInt8, Bool, Float16, BFloat16
    for (int32_t v : tensor.int32_data())
      appendLE(bytes, v, *elemSize);
    break;
  }
  ownedData_.push_back(std::move(bytes));
  out.bytes = ownedData_.back();
  return true;
}

bool OnnxModel::readExternal(const onnx::TensorProto &tensor, int64_t expectedBytes,
                             OnnxTensor &out, std::string &error) {
  std::string what = "initializer " + quoted(out.name);
  std::string location;
  std::optional<uint64_t> offset, length;
  for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
    llvm::StringRef key = entry.key(), value = entry.value();
    if (key == "location") {
      location = value.str();
    } else if (key == "offset" || key == "length") {
      uint64_t v;
      if (value.getAsInteger(10, v)) {
        error = what + " has an invalid external-data " + key.str() + " " + quoted(value);
        return false;
      }
      (key == "offset" ? offset : length) = v;
    }
  }
  // The location must name a file inside the model's folder.
  llvm::StringRef loc(location);
  if (loc.empty() || loc.contains('\0')) {
    error = what + " has no external-data location";
    return false;
  }
  // Windows separators count too: a model written there may say `..\weights.bin`.
  std::string normalized = location;
  std::replace(normalized.begin(), normalized.end(), '\\', '/');
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(normalized).split(parts, '/');
  bool absolute = normalized.front() == '/' || (loc.size() > 1 && loc[1] == ':');
  bool parent = llvm::is_contained(parts, "..");
  if (absolute || parent) {
    error = what + " refers to external data at " + quoted(loc) +
            ", outside the model's folder; refused";
    return false;
  }
  llvm::SmallString<256> full(directory_);
  llvm::sys::path::append(full, loc);
  llvm::SmallString<256> real;
  if (std::error_code ec = llvm::sys::fs::real_path(full, real)) {
    error = what + ": external data file " + quoted(loc) + " not found next to the model (" +
            ec.message() + ")";
    return false;
  }
  bool allowed = llvm::StringRef(real).starts_with(directory_ + "/") ||
                 llvm::any_of(allowedDataDirs(), [&](const std::string &dir) {
                   return llvm::StringRef(real).starts_with(dir);
                 });
  if (!allowed) {
    error = what + ": external data " + quoted(loc) + " resolves to " + quoted(real) +
            ", outside the model's folder (a symlink?); refused: name its folder with "
            "--allow-data-dir DIR (a Hugging Face cache's blobs/) to allow it";
    return false;
  }
  if (!midllama::rt::checkInputFile(std::string(real), "external data", midllama::rt::kNoInputLimit, error))
    return false;
  if (length && int64_t(*length) != expectedBytes) {
    error = what + ": external-data length " + std::to_string(*length) +
            " does not match its dims, which need " + std::to_string(expectedBytes) + " bytes";
    return false;
  }

  auto it = externalFiles_.find(real);
  if (it == externalFiles_.end()) {
    auto buffer = llvm::MemoryBuffer::getFile(real, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!buffer) {
      error = what + ": cannot read external data " + quoted(loc) + ": " +
              buffer.getError().message();
      return false;
    }
    it = externalFiles_.try_emplace(real, std::move(*buffer)).first;
  }
  uint64_t fileSize = it->second->getBufferSize();
  uint64_t start = offset.value_or(0);
  if (start > fileSize || uint64_t(expectedBytes) > fileSize - start) {
    error = what + ": external data runs past the end of " + quoted(loc) + " (offset " +
            std::to_string(start) + " + " + std::to_string(expectedBytes) + " bytes > " +
            std::to_string(fileSize) + ")";
    return false;
  }
  out.bytes = llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(it->second->getBufferStart()) + start, expectedBytes);
  out.external = true;
  return true;
}

int OnnxModel::elideIdentities() {
  onnx::GraphProto &graph = *proto_->mutable_graph();
  llvm::StringMap<int> written;
  for (const onnx::NodeProto &node : graph.node())
    for (const std::string &out : node.output())
      ++written[out];
  llvm::StringSet<> kept; // names the graph's interface gives: never aliased away
  for (const onnx::ValueInfoProto &v : graph.output())
    kept.insert(v.name());
  for (const onnx::ValueInfoProto &v : graph.input())
    kept.insert(v.name());
  for (const onnx::TensorProto &t : graph.initializer())
    kept.insert(t.name());
  llvm::StringMap<std::string> alias;
  for (const onnx::NodeProto &node : graph.node())
    if (node.op_type() == "Identity" && (node.domain().empty() || node.domain() == "ai.onnx") &&
        node.input_size() == 1 && node.output_size() == 1 && !node.input(0).empty() &&
        written[node.output(0)] == 1 && !kept.contains(node.output(0)))
      alias[node.output(0)] = node.input(0);
  if (alias.empty())
    return 0;
  // Chains of Identity resolve to their first input; a cycle (refused by validation
  // already) stops after as many steps as there are aliases.
  auto resolve = [&](std::string name) {
    for (size_t steps = 0; steps <= alias.size(); ++steps) {
      auto it = alias.find(name);
      if (it == alias.end())
        break;
      name = it->second;
    }
    return name;
  };
  auto *nodes = graph.mutable_node();
  int removed = 0;
  for (int i = 0; i < nodes->size();) {
    onnx::NodeProto &node = *nodes->Mutable(i);
    if (node.output_size() == 1 && alias.count(node.output(0)) && node.op_type() == "Identity") {
      nodes->DeleteSubrange(i, 1);
      ++removed;
      continue;
    }
    for (std::string &in : *node.mutable_input())
      if (!in.empty() && alias.count(in))
        in = resolve(in);
    ++i;
  }
  return removed;
}
