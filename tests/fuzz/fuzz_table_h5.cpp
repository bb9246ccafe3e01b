// libFuzzer harness: DAPA table files in HDF5, opened as an in-memory HDF5 file image,
// as the root of a table file and as a checkpoint's /dapa group.
#include "core/h5.h"
#include "dapa/table_io.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dapa::fuzz::OpenObjectCheck all_closed;
  dapa::fuzz::expect_clean([&] {
    dapa::H5Store h5("fuzz.h5", data, size);
    for (const char* group : {"", "dapa"})
      dapa::fuzz::expect_clean([&] { dapa::read_tables(h5, group, "fuzz.h5"); });
  });
  return 0;
}
