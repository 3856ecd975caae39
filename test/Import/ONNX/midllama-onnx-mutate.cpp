//===- midllama-onnx-mutate.cpp - Edit an ONNX model for importer tests ---===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A test tool: reads a committed fixture, applies the edits given on the command line, in
// order, through the onnx protobuf API, and writes the result. The lit tests make their
// hostile variants (an anti-causal mask, a NaN rotary table, two nodes writing one value...)
// at test time with it, so no generated variant is committed and CI needs neither Python
// nor torch.
//
//   midllama-onnx-mutate IN.onnx -o OUT.onnx [edits...]
//     --inline-data               external data copied into the model (self-contained)
//     --strip-metadata            doc strings and metadata_props removed (smaller fuzz seeds)
//     --op SEL=TYPE               the node's op type
//     --attr SEL:NAME=VALUE       an int (or, with a '.', 'nan' or 'inf', a float) attribute
//     --ints SEL:NAME=A,B,...     an ints attribute
//     --input SEL:I=VALUE         the node's input I reads VALUE
//     --swap-inputs SEL:I,J       the node's inputs I and J exchanged
//     --output SEL:I=VALUE        the node's output I renamed (readers not updated)
//     --init NAME:I=VALUE         element I of an initializer (float or int) set
//     --init-dims NAME=D0,D1,...  an initializer's dims replaced (its data kept as it is)
//     --constant SEL[:I]=VALUE    element I (default: every element) of a Constant's tensor
//     --constant-length SEL=N     a 1-D Constant's tensor made N long (new elements copy
//                                 its last one)
//     --input-dim NAME:AXIS=SIZE  a graph input's dimension made static
//     --drop-outputs              the graph's outputs removed
//     --drop-output NAME          one graph output removed
//     --identity VALUE            VALUE passed through an Identity node placed right after
//                                 its producer (which writes VALUE/pre_identity), or first
//                                 when VALUE is an initializer (renamed VALUE/pre_identity)
//   SEL is a node name or, failing that, the name of a value the node produces.
//
//===----------------------------------------------------------------------===//

#include "runtime/params/Half.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string &message) {
  std::cerr << "midllama-onnx-mutate: " << message << "\n";
  std::exit(1);
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    die("cannot read '" + path + "'");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

onnx::NodeProto &select(onnx::GraphProto &graph, const std::string &sel) {
  for (onnx::NodeProto &node : *graph.mutable_node())
    if (node.name() == sel)
      return node;
  for (onnx::NodeProto &node : *graph.mutable_node())
    for (const std::string &out : node.output())
      if (out == sel)
        return node;
  die("no node named or producing '" + sel + "'");
}

/// Splits "A<sep>B" at the first `sep`.
std::pair<std::string, std::string> split(const std::string &s, char sep) {
  size_t p = s.find(sep);
  if (p == std::string::npos)
    die("expected '" + std::string(1, sep) + "' in '" + s + "'");
  return {s.substr(0, p), s.substr(p + 1)};
}

double number(const std::string &s) {
  if (s == "nan")
    return NAN;
  if (s == "inf")
    return INFINITY;
  if (s == "-inf")
    return -INFINITY;
  char *end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end)
    die("not a number: '" + s + "'");
  return v;
}

/// Writes `text` (a number, nan, inf) as element `i` of raw little-endian tensor bytes of
/// ONNX type `type`; integers are parsed as integers, so INT64_MAX stays exact.
void store(std::string &raw, int32_t type, int64_t i, double v);
void storeText(std::string &raw, int32_t type, int64_t i, const std::string &text) {
  if (type == onnx::TensorProto::INT64 && i >= 0 && (i + 1) * 8 <= int64_t(raw.size())) {
    int64_t x = std::stoll(text);
    std::memcpy(&raw[i * 8], &x, 8);
    return;
  }
  store(raw, type, i, number(text));
}

/// Writes `v` as element `i` of raw little-endian tensor bytes of ONNX type `type`.
void store(std::string &raw, int32_t type, int64_t i, double v) {
  auto put = [&](const void *p, size_t n) {
    if ((i + 1) * int64_t(n) > int64_t(raw.size()))
      die("element " + std::to_string(i) + " is out of range");
    std::memcpy(&raw[i * n], p, n);
  };
  switch (type) {
  case onnx::TensorProto::FLOAT: {
    float f = float(v);
    put(&f, 4);
    break;
  }
  case onnx::TensorProto::FLOAT16: {
    uint16_t h = midllama::rt::floatToHalf(float(v));
    put(&h, 2);
    break;
  }
  case onnx::TensorProto::INT64: {
    int64_t x = int64_t(v);
    put(&x, 8);
    break;
  }
  case onnx::TensorProto::INT32: {
    int32_t x = int32_t(v);
    put(&x, 4);
    break;
  }
  case onnx::TensorProto::BOOL:
  case onnx::TensorProto::UINT8: {
    uint8_t x = uint8_t(v);
    put(&x, 1);
    break;
  }
  default:
    die("unsupported tensor type " + std::to_string(type));
  }
}

int64_t elementSize(int32_t type) {
  switch (type) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
    return 4;
  case onnx::TensorProto::FLOAT16:
    return 2;
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::DOUBLE:
    return 8;
  default:
    return 1;
  }
}

/// Moves a tensor's typed fields into raw_data so that it can be edited in place.
void toRaw(onnx::TensorProto &t) {
  if (t.has_raw_data())
    return;
  int64_t n = 1;
  for (int64_t d : t.dims())
    n *= d;
  std::string raw(n * elementSize(t.data_type()), '\0');
  for (int64_t i = 0; i < n; ++i) {
    double v = t.data_type() == onnx::TensorProto::FLOAT   ? t.float_data(i)
               : t.data_type() == onnx::TensorProto::INT64 ? double(t.int64_data(i))
               : t.data_type() == onnx::TensorProto::DOUBLE ? t.double_data(i)
               : t.data_type() == onnx::TensorProto::FLOAT16
                   ? midllama::rt::halfToFloat(uint16_t(t.int32_data(i)))
                   : double(t.int32_data(i));
    store(raw, t.data_type(), i, v);
  }
  t.clear_float_data();
  t.clear_int64_data();
  t.clear_int32_data();
  t.clear_double_data();
  t.set_raw_data(raw);
}

void inlineData(onnx::GraphProto &graph, const std::string &dir) {
  for (onnx::TensorProto &t : *graph.mutable_initializer()) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL)
      continue;
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto &e : t.external_data()) {
      if (e.key() == "location")
        location = e.value();
      else if (e.key() == "offset")
        offset = std::stoll(e.value());
      else if (e.key() == "length")
        length = std::stoll(e.value());
    }
    std::string data = readFile(dir + "/" + location);
    if (length < 0)
      length = int64_t(data.size()) - offset;
    if (offset < 0 || offset + length > int64_t(data.size()))
      die("external data of '" + t.name() + "' is out of range");
    t.set_raw_data(data.substr(offset, length));
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::DEFAULT);
  }
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 4)
    die("usage: midllama-onnx-mutate IN.onnx -o OUT.onnx [edits...]");
  std::string in = argv[1], out;
  onnx::ModelProto model;
  std::string bytes = readFile(in);
  if (!model.ParseFromString(bytes))
    die("'" + in + "' is not an ONNX model");
  std::string dir = in.find('/') == std::string::npos ? "." : in.substr(0, in.rfind('/'));
  onnx::GraphProto &graph = *model.mutable_graph();
  auto initializerNamed = [&](const std::string &name) {
    for (onnx::TensorProto &x : *graph.mutable_initializer())
      if (x.name() == name)
        return &x;
    die("no initializer '" + name + "'");
    return static_cast<onnx::TensorProto *>(nullptr);
  };
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--inline-data") {
      inlineData(graph, dir);
      continue;
    }
    if (flag == "--strip-metadata") {
      // Newer IR versions' metadata_props of nodes, values and tensors are unknown fields
      // to libonnx 1.12's protobuf classes.
      model.clear_doc_string();
      model.clear_metadata_props();
      graph.clear_doc_string();
      graph.mutable_unknown_fields()->Clear();
      for (onnx::NodeProto &node : *graph.mutable_node()) {
        node.clear_doc_string();
        node.mutable_unknown_fields()->Clear();
      }
      for (auto *list : {graph.mutable_input(), graph.mutable_output(), graph.mutable_value_info()})
        for (onnx::ValueInfoProto &v : *list) {
          v.clear_doc_string();
          v.mutable_unknown_fields()->Clear();
        }
      for (onnx::TensorProto &t : *graph.mutable_initializer())
        t.mutable_unknown_fields()->Clear();
      continue;
    }
    if (flag == "--drop-outputs") {
      graph.clear_output();
      continue;
    }
    if (i + 1 >= argc)
      die("'" + flag + "' needs a value");
    std::string arg = argv[++i];
    if (flag == "-o") {
      out = arg;
    } else if (flag == "--op") {
      auto [sel, type] = split(arg, '=');
      select(graph, sel).set_op_type(type);
    } else if (flag == "--attr" || flag == "--ints") {
      auto [target, value] = split(arg, '=');
      auto [sel, name] = split(target, ':');
      onnx::NodeProto &node = select(graph, sel);
      onnx::AttributeProto *a = nullptr;
      for (onnx::AttributeProto &x : *node.mutable_attribute())
        if (x.name() == name)
          a = &x;
      if (!a) {
        a = node.add_attribute();
        a->set_name(name);
      }
      if (flag == "--ints") {
        a->Clear();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        std::stringstream s(value);
        for (std::string item; std::getline(s, item, ',');)
          a->add_ints(std::stoll(item));
      } else if (value.find_first_of(".ni") != std::string::npos) {
        a->clear_i();
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(float(number(value)));
      } else {
        a->clear_f();
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(std::stoll(value));
      }
    } else if (flag == "--input" || flag == "--output") {
      auto [target, value] = split(arg, '=');
      auto [sel, index] = split(target, ':');
      onnx::NodeProto &node = select(graph, sel);
      int k = std::stoi(index);
      auto *list = flag == "--input" ? node.mutable_input() : node.mutable_output();
      if (k < 0 || k >= list->size())
        die("node '" + sel + "' has no " + flag.substr(2) + " #" + index);
      *list->Mutable(k) = value;
    } else if (flag == "--identity") {
      bool initializer = false;
      for (onnx::TensorProto &t : *graph.mutable_initializer())
        if (t.name() == arg) {
          t.set_name(arg + "/pre_identity");
          initializer = true;
        }
      if (initializer) { // an Identity of the initializer, first in the graph
        onnx::NodeProto *identity = graph.add_node();
        identity->set_name("identity_" + arg);
        identity->set_op_type("Identity");
        identity->add_input(arg + "/pre_identity");
        identity->add_output(arg);
        for (int k = graph.node_size() - 1; k > 0; --k)
          graph.mutable_node()->SwapElements(k, k - 1);
        continue;
      }
      onnx::NodeProto &producer = select(graph, arg);
      int at = 0;
      while (&graph.node(at) != &producer)
        ++at;
      for (std::string &o : *producer.mutable_output())
        if (o == arg)
          o = arg + "/pre_identity";
      onnx::NodeProto *identity = graph.add_node();
      identity->set_name("identity_" + arg);
      identity->set_op_type("Identity");
      identity->add_input(arg + "/pre_identity");
      identity->add_output(arg);
      // Topological order: the new node moves up to just after its producer.
      for (int k = graph.node_size() - 1; k > at + 1; --k)
        graph.mutable_node()->SwapElements(k, k - 1);
    } else if (flag == "--drop-output") {
      auto *outputs = graph.mutable_output();
      int k = 0;
      while (k < outputs->size() && outputs->Get(k).name() != arg)
        ++k;
      if (k == outputs->size())
        die("no graph output '" + arg + "'");
      outputs->DeleteSubrange(k, 1);
    } else if (flag == "--input-dim") {
      auto [target, value] = split(arg, '=');
      auto [name, axis] = split(target, ':');
      onnx::ValueInfoProto *in = nullptr;
      for (onnx::ValueInfoProto &x : *graph.mutable_input())
        if (x.name() == name)
          in = &x;
      int k = std::stoi(axis);
      auto *shape = in ? in->mutable_type()->mutable_tensor_type()->mutable_shape() : nullptr;
      if (!shape || k < 0 || k >= shape->dim_size())
        die("no graph input '" + name + "' with axis " + axis);
      shape->mutable_dim(k)->set_dim_value(std::stoll(value));
    } else if (flag == "--swap-inputs") {
      auto [sel, pair] = split(arg, ':');
      auto [a, b] = split(pair, ',');
      onnx::NodeProto &node = select(graph, sel);
      int x = std::stoi(a), y = std::stoi(b);
      if (x < 0 || y < 0 || x >= node.input_size() || y >= node.input_size())
        die("node '" + sel + "' has no such inputs");
      std::swap(*node.mutable_input(x), *node.mutable_input(y));
    } else if (flag == "--init") {
      auto [target, value] = split(arg, '=');
      auto [name, index] = split(target, ':');
      onnx::TensorProto *t = initializerNamed(name);
      if (t->data_location() == onnx::TensorProto::EXTERNAL)
        die("initializer '" + name + "' is external: use --inline-data first");
      toRaw(*t);
      storeText(*t->mutable_raw_data(), t->data_type(), std::stoll(index), value);
    } else if (flag == "--init-dims") {
      auto [name, dims] = split(arg, '=');
      onnx::TensorProto *t = initializerNamed(name);
      t->clear_dims();
      for (size_t at = 0; at < dims.size();) {
        size_t comma = dims.find(',', at);
        t->add_dims(std::stoll(dims.substr(at, comma - at)));
        at = comma == std::string::npos ? dims.size() : comma + 1;
      }
    } else if (flag == "--constant") {
      auto [target, value] = split(arg, '=');
      std::string sel = target;
      int64_t only = -1;
      if (size_t colon = target.rfind(':'); colon != std::string::npos) {
        sel = target.substr(0, colon);
        only = std::stoll(target.substr(colon + 1));
      }
      onnx::NodeProto &node = select(graph, sel);
      onnx::TensorProto *t = nullptr;
      for (onnx::AttributeProto &a : *node.mutable_attribute())
        if (a.name() == "value" && a.has_t())
          t = a.mutable_t();
      if (node.op_type() != "Constant" || !t)
        die("'" + sel + "' is not a Constant with a tensor value");
      toRaw(*t);
      int64_t n = int64_t(t->raw_data().size()) / elementSize(t->data_type());
      for (int64_t k = 0; k < n; ++k)
        if (only < 0 || k == only)
          storeText(*t->mutable_raw_data(), t->data_type(), k, value);
    } else if (flag == "--constant-length") {
      auto [sel, length] = split(arg, '=');
      onnx::NodeProto &node = select(graph, sel);
      onnx::TensorProto *t = nullptr;
      for (onnx::AttributeProto &a : *node.mutable_attribute())
        if (a.name() == "value" && a.has_t())
          t = a.mutable_t();
      if (node.op_type() != "Constant" || !t || t->dims_size() != 1 || t->dims(0) < 1)
        die("'" + sel + "' is not a Constant with a non-empty 1-D tensor value");
      toRaw(*t);
      size_t size = size_t(elementSize(t->data_type()));
      std::string last = t->raw_data().substr(t->raw_data().size() - size);
      int64_t n = std::stoll(length);
      t->mutable_raw_data()->resize(size * size_t(std::min<int64_t>(n, t->dims(0))));
      for (int64_t k = t->dims(0); k < n; ++k)
        t->mutable_raw_data()->append(last);
      t->set_dims(0, n);
    } else {
      die("unknown edit '" + flag + "'");
    }
  }
  if (out.empty())
    die("no output (-o)");
  std::ofstream os(out, std::ios::binary);
  if (!os || !model.SerializeToOstream(&os))
    die("cannot write '" + out + "'");
  return 0;
}
