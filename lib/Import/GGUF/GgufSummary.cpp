//===- GgufSummary.cpp - What a GGUF file holds, in words ------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// `midllama-import --list FILE.gguf`: the header, every metadata entry (long arrays and
// strings shortened) and every tensor with its type, ggml shape, bytes and data offset.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/GGUF/GgufSummary.h"

#include <cstdio>
#include <sstream>

using namespace midllama::gguf;

namespace {

constexpr size_t kShownElements = 6;
constexpr size_t kShownChars = 64;

std::string quoted(const std::string &s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kShownChars; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out += char(c);
    }
  }
  return out + (s.size() > kShownChars ? "\"..." : "\"");
}

std::string number(double f) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", f);
  return text;
}

std::string scalarText(const Value &v) {
  switch (v.type) {
  case ValueType::String: return quoted(v.string);
  case ValueType::F32: case ValueType::F64: return number(v.f);
  case ValueType::Bool: return v.i ? "true" : "false";
  case ValueType::U64: return std::to_string(v.u);
  default: return std::to_string(v.i);
  }
}

std::string arrayText(const Value &v) {
  std::string out = std::string("ARRAY<") + valueTypeName(v.elementType) + ">[" +
                    std::to_string(v.count) + "]";
  size_t shown = 0;
  auto more = [&](const std::string &item) {
    out += (shown++ ? ", " : " ") + item;
  };
  for (size_t i = 0; i < v.strings.size() && shown < kShownElements; ++i)
    more(quoted(v.strings[i]));
  for (size_t i = 0; i < v.ints.size() && shown < kShownElements; ++i)
    more(std::to_string(v.ints[i]));
  for (size_t i = 0; i < v.floats.size() && shown < kShownElements; ++i)
    more(number(v.floats[i]));
  if (v.count > shown && shown)
    out += ", ...";
  return out;
}

} // namespace

std::string midllama::gguf::summarize(const GgufFile &file) {
  std::ostringstream os;
  int64_t dataBytes = 0;
  for (const TensorInfo &t : file.tensors())
    dataBytes += t.numBytes;
  os << "GGUF v" << file.version() << ", alignment " << file.alignment() << ", "
     << file.metadata().size() << " metadata entries, " << file.tensors().size()
     << " tensors (" << dataBytes << " bytes of tensor data)\n";
  os << "metadata:\n";
  for (const auto &[key, v] : file.metadata())
    os << "  " << key << ": "
       << (v.type == ValueType::Array ? arrayText(v)
                                      : std::string(valueTypeName(v.type)) + " " + scalarText(v))
       << "\n";
  os << "tensors (ggml shape: columns first):\n";
  for (const TensorInfo &t : file.tensors()) {
    os << "  " << t.name << " " << tensorTypeName(t.type) << " [";
    for (size_t d = 0; d < t.dims.size(); ++d)
      os << (d ? ", " : "") << t.dims[d];
    os << "] " << t.numBytes << " bytes at " << t.offset << "\n";
  }
  return os.str();
}
