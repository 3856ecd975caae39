//===- Json.cpp - A small strict JSON reader for the runtime --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/Json.h"

#include <cstdlib>
#include <cstring>
#include <limits>

namespace midllama::rt {
namespace {

class JsonParser {
public:
  /// `what` names the document in messages ("JSON header"); numbers with a fraction or an
  /// exponent are refused unless `allowFloat`; nesting is limited to `maxDepth`.
  JsonParser(const char *begin, const char *end, std::string what = "JSON", bool allowFloat = true,
             int maxDepth = 64)
      : p_(begin), end_(end), what_(std::move(what)), allowFloat_(allowFloat),
        maxDepth_(maxDepth) {}

  bool parseDocument(Json &out, std::string &error) {
    if (!parseValue(out, 0))
      return fail(error);
    skipSpace();
    if (p_ != end_) {
      error_ = "trailing characters after the " + what_;
      return fail(error);
    }
    return true;
  }

private:
  bool fail(std::string &error) {
    error = error_.empty() ? "malformed " + what_ : error_;
    return false;
  }
  bool err(const std::string &msg) {
    if (error_.empty())
      error_ = msg;
    return false;
  }
  void skipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\t' || *p_ == '\r'))
      ++p_;
  }
  bool parseValue(Json &out, int depth) {
    if (depth > maxDepth_)
      return err(std::string() + what_ + " nested too deeply");
    skipSpace();
    if (p_ == end_)
      return err(std::string() + what_ + " ends early");
    char c = *p_;
    if (c == '{')
      return parseObject(out, depth);
    if (c == '[')
      return parseArray(out, depth);
    if (c == '"') {
      out.kind = Json::String;
      return parseString(out.string);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
      return parseInt(out);
    if (matchWord("true") || matchWord("false")) {
      out.kind = Json::Bool;
      out.boolean = p_[-1] == 'e' && p_[-2] == 'u';
      return true;
    }
    if (matchWord("null")) {
      out.kind = Json::Null;
      return true;
    }
    return err("unexpected character in " + what_);
  }
  bool matchWord(const char *word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
      p_ += n;
      return true;
    }
    return false;
  }
  bool parseInt(Json &out) {
    const char *numberStart = p_;
    bool negative = *p_ == '-';
    if (negative)
      ++p_;
    if (p_ == end_ || *p_ < '0' || *p_ > '9')
      return err("malformed number in " + what_);
    uint64_t v = 0;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
      uint64_t digit = *p_++ - '0';
      if (v > (uint64_t(std::numeric_limits<int64_t>::max()) - digit) / 10)
        return err("number too large in " + what_);
      v = v * 10 + digit;
    }
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) {
      if (!allowFloat_)
        return err("non-integer number in " + what_);
      const char *begin = numberStart;
      if (*p_ == '.') {
        ++p_;
        if (p_ == end_ || *p_ < '0' || *p_ > '9')
          return err("malformed number in " + what_);
        while (p_ != end_ && *p_ >= '0' && *p_ <= '9')
          ++p_;
      }
      if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
        ++p_;
        if (p_ != end_ && (*p_ == '+' || *p_ == '-'))
          ++p_;
        if (p_ == end_ || *p_ < '0' || *p_ > '9')
          return err("malformed number in " + what_);
        while (p_ != end_ && *p_ >= '0' && *p_ <= '9')
          ++p_;
      }
      out.kind = Json::Number;
      out.number = std::strtod(std::string(begin, p_).c_str(), nullptr);
      return true;
    }
    out.kind = Json::Int;
    out.integer = negative ? -int64_t(v) : int64_t(v);
    out.number = double(out.integer);
    return true;
  }
  static void appendUtf8(std::string &s, uint32_t cp) {
    if (cp < 0x80) {
      s += char(cp);
    } else if (cp < 0x800) {
      s += char(0xC0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += char(0xE0 | (cp >> 12));
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    } else {
      s += char(0xF0 | (cp >> 18));
      s += char(0x80 | ((cp >> 12) & 0x3F));
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    }
  }
  bool parseHex4(uint32_t &cp) {
    if (end_ - p_ < 4)
      return err("truncated \\u escape in " + what_);
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      char h = *p_++;
      cp <<= 4;
      if (h >= '0' && h <= '9')
        cp |= h - '0';
      else if (h >= 'a' && h <= 'f')
        cp |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F')
        cp |= h - 'A' + 10;
      else
        return err("bad \\u escape in " + what_);
    }
    return true;
  }
  bool parseString(std::string &out) {
    ++p_; // opening quote
    while (true) {
      if (p_ == end_)
        return err("unterminated string in " + what_);
      char c = *p_++;
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return err("control character in JSON string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ == end_)
        return err("unterminated escape in " + what_);
      char e = *p_++;
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp;
        if (!parseHex4(cp))
          return false;
        if (cp >= 0xD800 && cp < 0xDC00) { // surrogate pair
          uint32_t lo;
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u')
            return err("unpaired surrogate in " + what_);
          p_ += 2;
          if (!parseHex4(lo) || lo < 0xDC00 || lo > 0xDFFF)
            return err("unpaired surrogate in " + what_);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return err("bad escape in " + what_);
      }
    }
  }
  bool parseArray(Json &out, int depth) {
    ++p_;
    out.kind = Json::Array;
    skipSpace();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    while (true) {
      out.items.emplace_back();
      if (!parseValue(out.items.back(), depth + 1))
        return false;
      skipSpace();
      if (p_ == end_)
        return err("unterminated array in " + what_);
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      return err("expected ',' or ']' in " + what_);
    }
  }
  bool parseObject(Json &out, int depth) {
    ++p_;
    out.kind = Json::Object;
    skipSpace();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    while (true) {
      skipSpace();
      if (p_ == end_ || *p_ != '"')
        return err("expected a string key in " + what_);
      std::string key;
      if (!parseString(key))
        return false;
      skipSpace();
      if (p_ == end_ || *p_ != ':')
        return err("expected ':' in " + what_);
      ++p_;
      out.members.emplace_back(std::move(key), Json());
      if (!parseValue(out.members.back().second, depth + 1))
        return false;
      skipSpace();
      if (p_ == end_)
        return err("unterminated object in " + what_);
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return err("expected ',' or '}' in " + what_);
    }
  }

  const char *p_;
  const char *end_;
  std::string what_;
  bool allowFloat_;
  int maxDepth_;
  std::string error_;
};


} // namespace

const Json *Json::find(const std::string &key) const {
  for (const auto &[k, v] : members)
    if (k == key)
      return &v;
  return nullptr;
}

bool parseJson(const char *begin, const char *end, Json &out, std::string &error,
               const std::string &what, bool allowFloat, int maxDepth) {
  JsonParser parser(begin, end, what, allowFloat, maxDepth);
  return parser.parseDocument(out, error);
}

} // namespace midllama::rt
