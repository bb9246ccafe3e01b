// Text corpora and the token file (data/text.h): the Brown layout back to plain text,
// UTF-8 validation, the document split, and prepare/load round trips and refusals.
#include <gtest/gtest.h>

#include <zlib.h>

#include <fstream>

#include "core/h5.h"
#include "data/idx.h"
#include "data/text.h"
#include "data/tokenizer.h"
#include "test_util.h"

namespace dapa {
namespace {

std::string tmp(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

std::string error_of(const std::function<void()>& f) {
  return test::thrown_message<DataError>(f);
}

TEST(BrownText, TagsGoAndSpacingFollowsPunctuation) {
  std::string tagged =
      "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, (/( so/rb )/) ./.\n"
      "\n\n\tIt/pps cost/vbd 1/2/cd dollars/nns ?/.\n";
  EXPECT_EQ(brown_plain_text(tagged),
            "The jury said \"no evidence\", (so).\nIt cost 1/2 dollars?\n");
}

TEST(BrownText, Utf8Validation) {
  EXPECT_EQ(invalid_utf8_offset("plain ASCII"), -1);
  EXPECT_EQ(invalid_utf8_offset("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), -1);  // é € 😀
  EXPECT_EQ(invalid_utf8_offset("ab\xff"), 2);                                      // never valid
  EXPECT_EQ(invalid_utf8_offset("a\xc3"), 1);                                       // truncated
  EXPECT_EQ(invalid_utf8_offset("a\xc0\xaf"), 1);                                   // overlong '/'
  EXPECT_EQ(invalid_utf8_offset("x\xed\xa0\x80"), 1);     // a UTF-16 surrogate
  EXPECT_EQ(invalid_utf8_offset("\xf4\x90\x80\x80"), 0);  // past U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("ok\xe2\x82(x"), 2);      // bad continuation
}

TEST(BrownText, SplitByDocumentNumber) {
  EXPECT_EQ(split_of({"ca09", ""}, 0), TextSplit::Val);
  EXPECT_EQ(split_of({"cr10", ""}, 0), TextSplit::Test);
  EXPECT_EQ(split_of({"ca01", ""}, 9), TextSplit::Train);      // the name's number decides
  EXPECT_EQ(split_of({"notes.txt", ""}, 19), TextSplit::Val);  // no number: the position
  EXPECT_EQ(split_of({"notes.txt", ""}, 20), TextSplit::Test);
}

std::vector<TextDocument> numbered_docs(int n) {
  std::vector<TextDocument> docs;
  for (int i = 1; i <= n; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "d%02d", i);
    docs.push_back({name, "document " + std::to_string(i) + " \xc3\xa9\n"});
  }
  return docs;
}

TEST(TokenFile, PrepareAndLoadRoundTrip) {
  std::vector<TextDocument> docs = numbered_docs(20);
  std::string path = tmp("text.h5");
  prepare_text(docs, "twenty documents", path, *make_tokenizer("byte"));
  TextData t = load_text(path);
  EXPECT_EQ(t.tokenizer, "byte");
  EXPECT_EQ(t.vocab_size, 256);
  EXPECT_EQ(t.source, "twenty documents");
  std::string expect[3], all;
  for (size_t i = 0; i < docs.size(); ++i) {
    expect[static_cast<int>(split_of(docs[i], i))] += docs[i].text;
    all += docs[i].text;
  }
  const TextSplitData* splits[3] = {&t.train, &t.val, &t.test};
  for (int s = 0; s < 3; ++s) {
    std::string decoded(splits[s]->tokens.begin(), splits[s]->tokens.end());
    EXPECT_EQ(decoded, expect[s]) << "split " << s;
    EXPECT_EQ(splits[s]->bytes, static_cast<int64_t>(expect[s].size()));
  }
  EXPECT_EQ(t.train.documents, 16);  // d09 and d19 validation, d10 and d20 test
  EXPECT_EQ(t.val.documents, 2);
  EXPECT_EQ(t.test.documents, 2);
  EXPECT_EQ(t.source_crc32,
            crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(all.data()), all.size()));
}

TEST(TokenFile, BadInputsAreRefusedNamingTheFile) {
  // Too few documents for a validation split.
  EXPECT_NE(error_of([] {
              prepare_text(numbered_docs(5), "five", tmp("five.h5"), *make_tokenizer("byte"));
            }).find("the val split would be empty"),
            std::string::npos);
  std::ofstream(tmp("latin1.txt")) << "caf\xe9\n";
  EXPECT_NE(error_of([] {
              read_text_files({tmp("latin1.txt")});
            }).find("latin1.txt: is not UTF-8 text (invalid byte sequence at offset 3)"),
            std::string::npos);
  std::ofstream(tmp("empty.txt")).flush();
  EXPECT_NE(error_of([] { read_text_files({tmp("empty.txt")}); }).find("empty.txt: is empty"),
            std::string::npos);
  EXPECT_NE(error_of([] { read_text_files({tmp("nowhere.txt")}); }).find("cannot open"),
            std::string::npos);
  EXPECT_NE(error_of([] { read_brown(::testing::TempDir()); }).find("no Brown corpus files"),
            std::string::npos);
  // A token outside the vocabulary, and a file of another kind.
  std::string path = tmp("badtoken.h5");
  prepare_text(numbered_docs(20), "twenty", path, *make_tokenizer("byte"));
  {
    TextData t = load_text(path);
    write_h5_atomically(path, [&](H5Store& h5) {
      std::vector<uint16_t> bad = t.train.tokens;
      bad[3] = 300;
      h5.write_u16("train/tokens", bad);
      h5.write_u16("val/tokens", t.val.tokens);
      h5.write_u16("test/tokens", t.test.tokens);
      for (const char* g : {"train", "val", "test"}) {
        h5.write_attr(g, "bytes", 1.0);
        h5.write_attr(g, "documents", 1.0);
      }
      h5.write_attr("/", "tokenizer", "byte");
      h5.write_attr("/", "vocab_size", 256.0);
      h5.write_attr("/", "source", "x");
      h5.write_attr("/", "source_crc32", 0.0);
      h5.write_attr("/", "format_version", 1.0);
    });
  }
  EXPECT_NE(error_of([&] { load_text(path); }).find("holds token 300 outside [0, 256)"),
            std::string::npos);
  write_h5_atomically(tmp("other.h5"), [](H5Store& h5) {
    h5.write_attr("/", "format_version", 1.0);
    h5.write_attr("/", "tokenizer", "byte");
    h5.write_attr("/", "vocab_size", 256.0);
    h5.write_attr("/", "source", "x");
    h5.write_attr("/", "source_crc32", 0.0);
  });
  EXPECT_NE(error_of([] { load_text(tmp("other.h5")); }).find("missing dataset 'train/tokens'"),
            std::string::npos);
}

}  // namespace
}  // namespace dapa
