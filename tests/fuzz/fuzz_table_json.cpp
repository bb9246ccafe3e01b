// libFuzzer harness: DAPA table files in JSON.
#include <string>

#include "dapa/table_io.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  dapa::fuzz::expect_clean([&] { dapa::parse_tables_json(text, "fuzz.json"); });
  return 0;
}
