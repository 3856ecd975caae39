//===- Recipe.cpp - Per-layer compression recipes -------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "Recipe.h"

#include "runtime/support/Json.h"

#include <cmath>
#include <regex>
#include <sstream>

using namespace midllama;

namespace {

struct Method {
  const char *name, *pass;
  bool calibrates;
};
constexpr Method kMethods[] = {
    {"rtn", "llm-quantize-rtn", false},  {"gptq", "llm-quantize-gptq", true},
    {"awq", "llm-quantize-awq", true},   {"nf4", "llm-quantize-nf4", false},
    {"int8", "llm-quantize-int8", true}, {"cast", "llm-cast-weights", false},
    {"keep", "", false},
};

const Method *findMethod(const std::string &name) {
  for (const Method &m : kMethods)
    if (name == m.name)
      return &m;
  return nullptr;
}

/// A JSON scalar as pass option text; false for arrays, objects and null.
bool optionText(const rt::Json &v, std::string &out) {
  std::ostringstream os;
  switch (v.kind) {
  case rt::Json::Bool:
    out = v.boolean ? "true" : "false";
    return true;
  case rt::Json::Int:
    out = std::to_string(v.integer);
    return true;
  case rt::Json::Number:
    os << v.number;
    out = os.str();
    return true;
  case rt::Json::String:
    out = v.string;
    return true;
  default:
    return false;
  }
}

/// `group_size` and `group-size` both name the option `group-size`.
std::string optionName(std::string key) {
  for (char &c : key)
    if (c == '_')
      c = '-';
  return key;
}

// Built-in recipes. Group size 128 is the reference setting of GPTQ and AWQ; on a model
// whose K is smaller, a group is the whole row.
struct Builtin {
  const char *name, *json;
};
constexpr Builtin kBuiltins[] = {
    {"rtn-w8g128", R"({"rules": [{"match": "^model\\.layers\\.", "method": "rtn", "bits": 8, "group-size": 128}]})"},
    {"rtn-w4g128", R"({"rules": [{"match": "^model\\.layers\\.", "method": "rtn", "bits": 4, "group-size": 128}]})"},
    {"gptq-w4g128", R"({"rules": [{"match": "^model\\.layers\\.", "method": "gptq", "bits": 4, "group-size": 128}]})"},
    {"gptq-w3g128", R"({"rules": [{"match": "^model\\.layers\\.", "method": "gptq", "bits": 3, "group-size": 128}]})"},
    {"awq-w4g128", R"({"rules": [{"match": "^model\\.layers\\.", "method": "awq", "bits": 4, "group-size": 128}]})"},
    {"nf4", R"({"rules": [{"match": "^model\\.layers\\.", "method": "nf4", "block-size": 64}]})"},
    {"nf4-dq", R"({"rules": [{"match": "^model\\.layers\\.", "method": "nf4", "block-size": 64, "double-quant": true}]})"},
    {"int8", R"({"rules": [{"match": "^model\\.layers\\.", "method": "int8", "threshold": 6.0}]})"},
    // GPTQ 4-bit with the first layer's down projection in 8 bits (often the projection
    // most sensitive to quantization in LLaMA-family models).
    {"gptq-w4g128-mixed", R"({"rules": [
       {"match": "^model\\.layers\\.0\\.mlp\\.down_proj\\.", "method": "rtn", "bits": 8, "group-size": 128},
       {"match": "^model\\.layers\\.", "method": "gptq", "bits": 4, "group-size": 128}]})"},
};

} // namespace

std::string midllama::builtinRecipe(const std::string &name) {
  for (const Builtin &b : kBuiltins)
    if (name == b.name)
      return b.json;
  return "";
}

std::vector<std::string> midllama::builtinRecipeNames() {
  std::vector<std::string> names;
  for (const Builtin &b : kBuiltins)
    names.push_back(b.name);
  return names;
}

std::string midllama::recipeMethodPass(const std::string &method) {
  const Method *m = findMethod(method);
  return m ? m->pass : "";
}

bool midllama::recipeMethodCalibrates(const std::string &method) {
  const Method *m = findMethod(method);
  return m && m->calibrates;
}

bool midllama::parseRecipe(const std::string &text, const std::string &what, Recipe &recipe,
                           std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "recipe " + what + ": " + why;
    return false;
  };
  rt::Json root;
  std::string jsonError;
  if (!rt::parseJson(text.data(), text.data() + text.size(), root, jsonError, "recipe"))
    return fail(jsonError);
  if (root.kind != rt::Json::Object)
    return fail("must be a JSON object with \"rules\"");
  recipe = Recipe();
  for (const auto &[key, value] : root.members) {
    if (key == "name") {
      if (value.kind != rt::Json::String)
        return fail("\"name\" must be a string");
      recipe.name = value.string;
    } else if (key == "calibration") {
      if (value.kind != rt::Json::Object)
        return fail("\"calibration\" must be an object (calib, samples, seq-len, seed, ...)");
      for (const auto &[k, v] : value.members) {
        std::string text;
        if (!optionText(v, text))
          return fail("calibration setting '" + k + "' must be a string, number or bool");
        recipe.calibration.push_back({optionName(k), text});
      }
    } else if (key != "rules" && key != "description") {
      return fail("unknown key '" + key + "' (name, description, calibration, rules)");
    }
  }
  const rt::Json *rules = root.find("rules");
  if (!rules || rules->kind != rt::Json::Array || rules->items.empty())
    return fail("\"rules\" must be a non-empty array");
  for (size_t i = 0; i < rules->items.size(); ++i) {
    const rt::Json &r = rules->items[i];
    std::string where = "rule " + std::to_string(i + 1);
    if (r.kind != rt::Json::Object)
      return fail(where + " must be an object with \"match\" and \"method\"");
    RecipeRule rule;
    const rt::Json *match = r.find("match"), *method = r.find("method");
    if (!match || match->kind != rt::Json::String || match->string.empty())
      return fail(where + ": \"match\" must be a non-empty regular expression");
    if (!method || method->kind != rt::Json::String)
      return fail(where + ": \"method\" must be one of rtn, gptq, awq, nf4, int8, cast, keep");
    rule.match = match->string;
    rule.method = method->string;
    if (!findMethod(rule.method))
      return fail(where + ": unknown method '" + rule.method +
                  "' (rtn, gptq, awq, nf4, int8, cast, keep)");
    try {
      std::regex check(rule.match, std::regex::ECMAScript);
    } catch (const std::regex_error &e) {
      return fail(where + ": \"match\" is not a valid regular expression: " + e.what());
    }
    for (const auto &[key, value] : r.members) {
      if (key == "match" || key == "method")
        continue;
      std::string name = optionName(key);
      if (name == "include" || name == "exclude" || name == "output")
        return fail(where + ": '" + key + "' is set by the recipe itself (use \"match\")");
      if (rule.method == "keep")
        return fail(where + ": 'keep' takes no options (got '" + key + "')");
      std::string text;
      if (!optionText(value, text))
        return fail(where + ": option '" + key + "' must be a string, number or bool");
      if (text.find_first_of(" {}\"'") != std::string::npos)
        return fail(where + ": option '" + key + "' holds a space, brace or quote");
      rule.options.push_back({name, text});
    }
    recipe.rules.push_back(std::move(rule));
  }
  return true;
}
