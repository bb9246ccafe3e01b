// libFuzzer harness: checkpoints as train_vit reads them: the metadata, then weights and
// optimiser state into a small ViT (the seed corpus holds checkpoints of this model).
#include "fuzz_input.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/vit.h"

namespace {
dapa::VitConfig small_vit() {
  dapa::VitConfig c;
  c.model = "fuzz", c.height = 8, c.width = 8, c.dim = 8, c.depth = 1, c.heads = 2;
  c.mlp_hidden = 16, c.classes = 3;
  return c;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dapa::fuzz::OpenObjectCheck all_closed;
  dapa::fuzz::MemFile file(data, size);
  static dapa::Rng rng(1);
  static dapa::Vit model(small_vit(), rng);
  static dapa::AdamW optimizer(dapa::param_groups(model), 0.05);
  dapa::fuzz::expect_clean([&] { dapa::read_checkpoint_meta(file.path()); });
  dapa::fuzz::expect_clean([&] { dapa::load_checkpoint(file.path(), model, &optimizer); });
  return 0;
}
