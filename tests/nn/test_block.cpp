// Parity with PyTorch for one whole pre-norm transformer block (timm naming), forward
// and backward, against the fixture written by tests/golden/make_golden.py.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "core/h5.h"
#include "nn/layers.h"
#include "test_util.h"

namespace dapa::test {
namespace {

TEST(GoldenBlock, PreNormTransformerBlockMatchesPyTorch) {
  H5Store store(golden_path("ops.h5"), H5Store::Mode::Read);
  Tensor x = store.read_tensor("block/x");
  int64_t dim = x.shape()[2];
  auto heads = static_cast<int64_t>(store.read_attr_double("block", "heads"));
  auto hidden = static_cast<int64_t>(store.read_attr_double("block", "hidden"));
  auto eps = static_cast<float>(store.read_attr_double("block", "ln_eps"));
  Rng rng(0);
  Block block(BlockConfig{dim, heads, hidden, eps}, make_activation("gelu"), nullptr, rng);
  auto params = block.named_parameters();
  ASSERT_EQ(params.size(), store.children("block/params").size());
  for (auto& [name, var] : params) {
    Tensor w = store.read_tensor("block/params/" + name);
    ASSERT_EQ(w.shape(), var->shape()) << name;
    var->value().copy_from(w);
  }
  Var xv(x, true);
  Var y = block.forward(xv);
  EXPECT_TRUE(tensors_close(y.value(), store.read_tensor("block/y")));
  backward(y, store.read_tensor("block/gy"));
  EXPECT_TRUE(tensors_close(xv.grad(), store.read_tensor("block/gx"))) << "input gradient";
  for (auto& [name, var] : params)
    EXPECT_TRUE(tensors_close(var->grad(), store.read_tensor("block/grads/" + name))) << name;
  EXPECT_EQ(tape_size(), 0u) << "the tape must be released after backward";
}

}  // namespace
}  // namespace dapa::test
