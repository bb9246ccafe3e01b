// libFuzzer harness: data set files (HDF5) as train_vit reads them: loaded for streaming
// and preloaded, and a batch served from each.
#include "core/tensor.h"
#include "data/dataset.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dapa::fuzz::OpenObjectCheck all_closed;
  dapa::fuzz::MemFile file(data, size);
  for (bool preload : {false, true})
    dapa::fuzz::expect_clean([&] {
      dapa::Dataset d = dapa::load_dataset(file.path(), preload);
      dapa::DataLoader loader(d, d.train, 4, true, 1);
      dapa::Tensor x;
      dapa::Labels y;
      loader.batch(0, 0, x, y);
    });
  return 0;
}
