// The GPT against PyTorch (a tiny one: forward, loss and every parameter gradient, the
// tied output layer included), the named variants, initialisation, incremental
// decoding with the key/value cache and sampling.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "autograd/ops.h"
#include "core/h5.h"
#include "nn/gpt.h"
#include "nn/gpt_checks.h"
#include "test_util.h"

namespace dapa::test {
namespace {

GptConfig tiny_config() {
  GptConfig c;
  c.model = "tiny", c.vocab = 11, c.context = 8, c.dim = 16, c.depth = 2, c.heads = 2;
  c.mlp_hidden = 64;
  return c;
}

Labels random_ids(int64_t n, int64_t vocab, Rng& rng) {
  Labels ids(n);
  for (int32_t& i : ids) i = static_cast<int32_t>(rng.randint(vocab));
  return ids;
}

TEST(Gpt, TinyGptMatchesPyTorchForwardAndBackward) {
  H5Store store(golden_path("ops.h5"), H5Store::Mode::Read);
  Rng rng(0);
  Gpt model(tiny_config(), rng);
  auto params = model.named_parameters();
  // PyTorch lists the tied lm_head.weight once, as transformer.wte.weight.
  ASSERT_EQ(params.size(), store.children("gpt/params").size());
  for (auto& [name, var] : params) {
    ASSERT_TRUE(store.exists("gpt/params/" + name)) << "PyTorch has no parameter " << name;
    var->value().copy_from(store.read_tensor("gpt/params/" + name));
  }
  Labels ids = store.read_labels("gpt/ids"), labels = store.read_labels("gpt/labels");
  Var logits = model.forward(ids, 2, 6);  // (2, 6, 11)
  EXPECT_TRUE(tensors_close(logits.value(), store.read_tensor("gpt/logits")));
  Var loss = cross_entropy(reshape(logits, {12, 11}), labels);
  EXPECT_NEAR(loss.value().item(), store.read_tensor("gpt/loss").item(), 1e-4);
  backward(loss);
  for (auto& [name, var] : params)
    EXPECT_TRUE(tensors_close(var->grad(), store.read_tensor("gpt/grads/" + name), 2e-4)) << name;
}

TEST(Gpt, NamedVariantsHaveTheirSizesAndNanoGptNames) {
  Rng rng(0);
  // Per block 12 C^2 + 13 C (4C MLP); embeddings V C + context C; final LayerNorm 2C.
  for (auto [name, C, L, ctx] :
       {std::tuple{"gpt-nano", 128, 4, 128}, std::tuple{"gpt-micro", 192, 6, 256},
        std::tuple{"gpt-mini", 256, 8, 256}}) {
    Gpt m(gpt_config(name, 256, "gelu"), rng);
    int64_t D = C;
    EXPECT_EQ(m.parameter_count(), 256 * D + ctx * D + L * (12 * D * D + 13 * D) + 2 * D) << name;
    EXPECT_EQ(m.config.context, ctx);
  }
  Gpt m(gpt_config("gpt-nano", 50257, "gelu"), rng);
  std::vector<std::string> names;
  for (auto& [n, p] : m.named_parameters()) names.push_back(n);
  for (const char* n : {"transformer.wte.weight", "transformer.wpe.weight",
                        "transformer.h.0.ln_1.weight", "transformer.h.0.attn.c_attn.weight",
                        "transformer.h.0.attn.c_proj.bias", "transformer.h.3.mlp.c_fc.weight",
                        "transformer.h.3.mlp.c_proj.weight", "transformer.ln_f.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(m.wte.shape(), (Shape{50257, 128}));
  EXPECT_THROW(gpt_config("gpt-huge", 256, "gelu"), std::invalid_argument);
  EXPECT_THROW(gpt_config("gpt-nano", 1, "gelu"), std::invalid_argument);
  EXPECT_THROW(gpt_config("gpt-nano", 65537, "gelu"), std::invalid_argument);
}

TEST(Gpt, ResidualProjectionsStartSmaller) {
  Rng rng(1);
  Gpt m(gpt_config("gpt-nano", 256, "gelu"), rng);
  auto rms = [](const Tensor& t) {
    double sq = 0;
    for (float x : t.to_vector()) sq += x * x;
    return std::sqrt(sq / static_cast<double>(t.numel()));
  };
  // trunc-normal cut at 2 std has std 0.88 std; c_proj: 0.02 / sqrt(2 x 4 layers).
  EXPECT_NEAR(rms(m.h[0]->attn.qkv.weight.value()), 0.88 * 0.02, 0.001);
  EXPECT_NEAR(rms(m.h[0]->attn.proj.weight.value()), 0.88 * 0.02 / std::sqrt(8.0), 0.0005);
  EXPECT_NEAR(rms(m.h[2]->mlp.fc2.weight.value()), 0.88 * 0.02 / std::sqrt(8.0), 0.0005);
  EXPECT_EQ(rms(m.h[1]->norm1.bias.value()), 0.0);
}

TEST(Gpt, RefusesSequencesLongerThanTheContext) {
  Rng rng(2);
  Gpt m(tiny_config(), rng);
  EXPECT_THROW(m.forward(Labels(9, 0), 1, 9), ShapeError);
  EXPECT_THROW(m.forward(Labels(5, 0), 1, 4), ShapeError);   // ids disagree with B x T
  EXPECT_THROW(m.forward(Labels(4, 11), 1, 4), ShapeError);  // outside the vocabulary
}

// The cache gives every position the logits the full causal forward gives it.
TEST(Gpt, DecoderWithCacheMatchesTheFullForward) {
  Rng rng(3);
  GptConfig c = tiny_config();
  Gpt m(c, rng);
  for (auto& [name, p] : m.named_parameters()) rng.fill_normal(p->value(), 0, 0.3f);
  expect_decoder_matches_forward(m, random_ids(c.context, c.vocab, rng));
}

TEST(Gpt, GreedySamplingFollowsTheArgMaxAndSamplingIsSeeded) {
  Rng rng(4);
  GptConfig c = tiny_config();
  Gpt m(c, rng);
  for (auto& [name, p] : m.named_parameters()) rng.fill_normal(p->value(), 0, 1.5f);
  NoGradGuard no_grad;
  Labels prompt = {3, 1, 4};
  SamplingOptions greedy{14, 0.0, 0};
  Rng r0(0);
  std::vector<int32_t> out = generate(m, prompt, greedy, r0);
  ASSERT_EQ(out.size(), 14u);  // past the context of 8, through two restarts
  // A text that varies, so the windows below matter.
  ASSERT_GE(std::set<int32_t>(out.begin(), out.end()).size(), 2u);
  Labels seq = prompt;
  for (int32_t next : out) {
    // Each token is the arg-max of the full forward on what the decoder sees: the whole
    // text while it fits the context of 8; after that the last 4 tokens at a restart,
    // growing to 8, then a restart again.
    size_t n = seq.size();
    size_t seen = n <= 8 ? n : 4 + (n - 9) % 5;
    Labels window(seq.end() - static_cast<std::ptrdiff_t>(seen), seq.end());
    Tensor logits = m.forward(window, 1, static_cast<int64_t>(seen)).value();
    const float* last = logits.data() + (seen - 1) * c.vocab;
    EXPECT_EQ(next, std::max_element(last, last + c.vocab) - last) << "token " << n;
    seq.push_back(next);
  }
  Rng r1(0);
  EXPECT_EQ(generate(m, prompt, {14, 1.0, 1}, r1), out);  // top-1 is greedy
  Rng r2(9), r3(9), r4(10);
  std::vector<int32_t> a = generate(m, {5}, {7, 1.5, 0}, r2), b = generate(m, {5}, {7, 1.5, 0}, r3),
                       d = generate(m, {5}, {7, 1.5, 0}, r4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, d);  // another seed, another sample (seven draws over 11 symbols)
  Rng r5(0);
  EXPECT_THROW(generate(m, {}, greedy, r5), std::invalid_argument);
  EXPECT_THROW(generate(m, Labels(9, 1), greedy, r5), std::invalid_argument);
  EXPECT_THROW(generate(m, {11}, greedy, r5), std::invalid_argument);
}

}  // namespace
}  // namespace dapa::test
