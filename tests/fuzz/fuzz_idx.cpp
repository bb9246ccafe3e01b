// libFuzzer harness: the IDX reader (raw and gzip) on arbitrary bytes.
#include "data/idx.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dapa::fuzz::MemFile file(data, size);
  dapa::fuzz::expect_clean([&] { dapa::read_idx(file.path()); });
  return 0;
}
