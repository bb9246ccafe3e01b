// Tokenizers of the language models, by the name a token file records: "byte" (one token
// per UTF-8 byte, 256 symbols, an exact round trip).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dapa {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  // The bytes the tokens stand for (a sample cut mid-character is not valid UTF-8).
  virtual std::string decode(const std::vector<int32_t>& tokens) const = 0;
};

// Throws DataError naming the known tokenizers for anything else.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name);
std::string tokenizer_names();  // "byte"

}  // namespace dapa
