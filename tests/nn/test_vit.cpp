// The ViT against PyTorch (a tiny one, forward, loss and every parameter gradient),
// the named variants, the schedule and checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "autograd/ops.h"
#include "core/h5.h"
#include "nn/checkpoint.h"
#include "nn/schedule.h"
#include "nn/vit.h"
#include "test_util.h"

namespace dapa::test {
namespace {

VitConfig tiny_config() {
  VitConfig c;
  c.model = "tiny", c.channels = 1, c.height = 8, c.width = 8, c.patch = 4;
  c.dim = 16, c.depth = 2, c.heads = 2, c.mlp_hidden = 32, c.classes = 3;
  return c;
}

TEST(Vit, TinyVitMatchesPyTorchForwardAndBackward) {
  H5Store store(golden_path("ops.h5"), H5Store::Mode::Read);
  Rng rng(0);
  Vit model(tiny_config(), rng);
  auto params = model.named_parameters();
  ASSERT_EQ(params.size(), store.children("vit/params").size());
  for (auto& [name, var] : params) {
    ASSERT_TRUE(store.exists("vit/params/" + name)) << "PyTorch has no parameter " << name;
    var->value().copy_from(store.read_tensor("vit/params/" + name));
  }
  Var logits = model.forward(store.read_tensor("vit/images"));
  EXPECT_TRUE(tensors_close(logits.value(), store.read_tensor("vit/logits")));
  Var loss = cross_entropy(logits, store.read_labels("vit/labels"));
  EXPECT_NEAR(loss.value().item(), store.read_tensor("vit/loss").item(), 1e-4);
  backward(loss);
  for (auto& [name, var] : params)
    EXPECT_TRUE(tensors_close(var->grad(), store.read_tensor("vit/grads/" + name), 2e-4)) << name;
}

TEST(Vit, NamedVariantsHaveTheirSizes) {
  Rng rng(0);
  // Parameter counts of timm-style ViTs on 28x28x1 with 4x4 patches and 10 classes:
  // patch 16*D+D, cls D, pos 50*D, per block 12*D^2+13*D (MLP 4D), norm 2D, head 10*D+10.
  for (auto [name, dim, depth] : {std::tuple{"vit-nano", 64, 4}, std::tuple{"vit-micro", 128, 6},
                                  std::tuple{"vit-mini", 192, 8}}) {
    Vit m(vit_config(name, 1, 28, 28, 10, "gelu"), rng);
    int64_t D = dim;
    int64_t expect = 17 * D + D + 50 * D + depth * (12 * D * D + 13 * D) + 2 * D + 10 * D + 10;
    EXPECT_EQ(m.parameter_count(), expect) << name;
    EXPECT_EQ(m.forward(Tensor::zeros({2, 1, 28, 28})).shape(), (Shape{2, 10}));
    clear_tape();
  }
  EXPECT_EQ(vit_config("vit-nano", 3, 32, 32, 100, "relu").patches(), 64);
  EXPECT_THROW(vit_config("vit-huge", 1, 28, 28, 10, "gelu"), std::invalid_argument);
  EXPECT_THROW(vit_config("vit-nano", 1, 30, 28, 10, "gelu"), std::invalid_argument);
}

TEST(Vit, AnyChannelCountAndDivisibleImageSize) {
  Rng rng(2);
  VitConfig c = vit_config("vit-nano", 3, 12, 16, 7, "relu");
  EXPECT_EQ(c.patches(), 12);
  Vit m(c, rng);
  EXPECT_EQ(m.patch_embed.weight.shape(), (Shape{64, 3, 4, 4}));
  EXPECT_EQ(m.pos_embed.shape(), (Shape{1, 13, 64}));
  Tensor images = Tensor::empty({2, 3, 12, 16});
  rng.fill_normal(images, 0, 1);
  Var loss = cross_entropy(m.forward(images), {1, 6});
  backward(loss);
  EXPECT_TRUE(std::isfinite(loss.value().item()));
  EXPECT_EQ(m.patch_embed.weight.grad().shape(), (Shape{64, 3, 4, 4}));
}

TEST(Vit, InitialisationIsPyTorchStyle) {
  Rng rng(1);
  Vit m(vit_config("vit-nano", 1, 28, 28, 10, "gelu"), rng);
  for (auto& [name, p] : m.named_parameters()) {
    std::vector<float> v = p->value().to_vector();
    double sq = 0;
    for (float x : v) sq += x * x;
    double rms = std::sqrt(sq / v.size());
    if (name.find("norm") != std::string::npos && name.find("weight") != std::string::npos) {
      EXPECT_EQ(rms, 1.0) << name;
    } else if (name.find("bias") != std::string::npos) {
      EXPECT_EQ(rms, 0.0) << name;
    } else if (v.size() > 1000) {  // trunc-normal(0.02) cut at 2 std: std about 0.0176
      EXPECT_NEAR(rms, 0.0176, 0.0015) << name;
    }
  }
}

TEST(Schedule, WarmupThenCosine) {
  WarmupCosine s{1e-3, 1e-5, 10, 110};
  EXPECT_DOUBLE_EQ(s.at(0), 1e-4);
  EXPECT_DOUBLE_EQ(s.at(9), 1e-3);
  EXPECT_DOUBLE_EQ(s.at(10), 1e-3);
  EXPECT_NEAR(s.at(60), 1e-5 + 0.5 * (1e-3 - 1e-5), 1e-12);
  EXPECT_NEAR(s.at(110), 1e-5, 1e-12);
}

TEST(Checkpoint, RoundTripsWeightsOptimiserAndMeta) {
  std::string path = ::testing::TempDir() + "/ckpt_roundtrip.h5";
  Rng rng(3);
  Vit a(tiny_config(), rng);
  AdamW opt_a(param_groups(a), 0.05f);
  Var loss = cross_entropy(a.forward(Tensor::ones({2, 1, 8, 8})), {0, 2});
  backward(loss);
  opt_a.step(1e-3f);
  CheckpointMeta meta{7, 1, rng.state(), "tiny", "{\"x\": 1}"};
  save_checkpoint(path, a, &opt_a, meta);

  Rng other(99);
  Vit b(tiny_config(), other);
  AdamW opt_b(param_groups(b), 0.05f);
  CheckpointMeta got = load_checkpoint(path, b, &opt_b);
  EXPECT_EQ(got.step, 7);
  EXPECT_EQ(got.epoch, 1);
  EXPECT_EQ(got.rng, rng.state());
  EXPECT_EQ(got.config, "{\"x\": 1}");
  EXPECT_EQ(opt_b.steps(), 1);
  auto pa = a.named_parameters(), pb = b.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_EQ(pa[i].second->value().to_vector(), pb[i].second->value().to_vector()) << pa[i].first;
  for (size_t i = 0; i < opt_a.m.size(); ++i) {
    EXPECT_EQ(opt_a.m[i].to_vector(), opt_b.m[i].to_vector());
    EXPECT_EQ(opt_a.v[i].to_vector(), opt_b.v[i].to_vector());
  }
  std::remove(path.c_str());
}

TEST(Checkpoint, OtherConfigurationIsRejectedAndChangesNothing) {
  std::string path = ::testing::TempDir() + "/ckpt_other.h5";
  Rng rng(3);
  VitConfig wide = tiny_config();
  wide.dim = 32;
  Vit a(wide, rng);
  save_checkpoint(path, a, nullptr, {});
  Vit b(tiny_config(), rng);
  std::vector<float> before = b.patch_embed.weight.value().to_vector();
  try {
    load_checkpoint(path, b, nullptr);
    FAIL() << "loading a dim-32 checkpoint into a dim-16 model must fail";
  } catch (const std::runtime_error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find("another model configuration"), std::string::npos) << m;
  }
  EXPECT_EQ(b.patch_embed.weight.value().to_vector(), before);
  AdamW opt(param_groups(a), 0.0f);
  EXPECT_THROW(load_checkpoint(path, a, &opt), std::runtime_error);  // saved without optimiser
  std::remove(path.c_str());
}

TEST(Checkpoint, FailedWriteKeepsThePreviousFile) {
  std::string path = ::testing::TempDir() + "/ckpt_atomic.h5";
  Rng rng(3);
  Vit a(tiny_config(), rng);
  save_checkpoint(path, a, nullptr, {5, 0, {}, "tiny", "{}"});
  EXPECT_THROW(write_h5_atomically(path,
                                   [](H5Store& s) {
                                     s.write_tensor("model/partial", Tensor::zeros({3}));
                                     throw std::runtime_error("disk full (simulated)");
                                   }),
               std::runtime_error);
  EXPECT_EQ(read_checkpoint_meta(path).step, 5);
  std::remove(path.c_str());
}

TEST(Checkpoint, NonFiniteWeightsAreRefusedAndChangeNothing) {
  std::string path = ::testing::TempDir() + "/ckpt_nan.h5";
  Rng rng(3);
  Vit a(tiny_config(), rng);
  a.head.weight.value().data()[5] = std::nanf("");
  save_checkpoint(path, a, nullptr, {5, 0, {}, "tiny", "{}"});
  Vit b(tiny_config(), rng);
  std::vector<float> before = b.head.weight.value().to_vector();
  try {
    load_checkpoint(path, b, nullptr);
    FAIL() << "a NaN weight must not load";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'model/head.weight' holds a non-finite value"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(b.head.weight.value().to_vector(), before);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace dapa::test
