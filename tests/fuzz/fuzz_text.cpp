// libFuzzer harness: the text readers of the language models: the input as a token file
// (HDF5, as train_gpt will load it), as a text file (UTF-8 check, read_text_files) and as
// Brown corpus markup (brown_plain_text).
#include "data/idx.h"
#include "data/text.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dapa::fuzz::OpenObjectCheck all_closed;
  dapa::fuzz::MemFile file(data, size);
  dapa::fuzz::expect_clean([&] { dapa::load_text(file.path()); });
  dapa::fuzz::expect_clean([&] { dapa::read_text_files({file.path()}); });
  std::string text(reinterpret_cast<const char*>(data), size);
  int64_t bad = dapa::invalid_utf8_offset(text);
  if (bad >= static_cast<int64_t>(size)) __builtin_trap();  // an offset inside the input
  dapa::brown_plain_text(text);
  return 0;
}
