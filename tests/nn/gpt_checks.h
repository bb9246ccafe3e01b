// A check shared by the GPT tests: the KV-cache decoder against the full forward.
#pragma once

#include <gtest/gtest.h>

#include "autograd/variable.h"
#include "nn/gpt.h"

namespace dapa::test {

// Fed `ids` (one context's worth) one at a time, the decoder gives every position the
// logits the full causal forward gives it; then the context is full.
inline void expect_decoder_matches_forward(Gpt& m, const Labels& ids) {
  const int64_t T = m.config.context, vocab = m.config.vocab;
  ASSERT_EQ(static_cast<int64_t>(ids.size()), T);
  NoGradGuard no_grad;
  Tensor full = m.forward(ids, 1, T).value();  // (1, T, vocab)
  GptDecoder decoder(m);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<float> logits = decoder.next(ids[t]);
    for (int64_t v = 0; v < vocab; ++v)
      EXPECT_NEAR(logits[v], full.data()[t * vocab + v], 2e-5) << "position " << t;
  }
  EXPECT_THROW(decoder.next(0), std::invalid_argument);  // the context is full
}

}  // namespace dapa::test
