// GPT-2-style causal language model (nanoGPT's layout and names, so h5py users map a
// checkpoint one to one onto a PyTorch GPT): token and learned position embeddings,
// pre-LayerNorm blocks with causal multi-head self-attention and a 4x MLP, a final
// LayerNorm and an output layer tied to the token embedding (lm_head.weight is
// transformer.wte.weight; the checkpoint stores it once). Also incremental decoding
// with a key/value cache and sampling, for generating text from a checkpoint.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace dapa {

struct GptConfig {
  std::string model;  // gpt-nano, gpt-micro, gpt-mini
  int64_t vocab = 256, context = 128, dim = 128, depth = 4, heads = 4, mlp_hidden = 512;
  std::string act = "gelu";
  std::string softmax = "exact";  // the attention softmax's exp (make_softmax_exp)
  float ln_eps = 1e-5f;
  // An upper estimate of the bytes a training step holds per sequence of `tokens`
  // tokens (saved activations, their gradients, attention probabilities, logits):
  // for refusing a batch that cannot fit before allocating it.
  int64_t step_bytes_per_sequence(int64_t tokens) const;
};

// The named variants for a vocabulary of `vocab` symbols. Throws std::invalid_argument
// for an unknown name or a vocabulary outside [2, 65536].
GptConfig gpt_config(const std::string& model, int64_t vocab, const std::string& act,
                     const std::string& softmax = "exact");
std::vector<std::string> gpt_model_names();  // gpt-nano, gpt-micro, gpt-mini

class Gpt : public Module {
 public:
  Gpt(const GptConfig& config, Rng& rng);
  // ids: (B, T) token ids, row-major, T <= context -> logits (B, T, vocab).
  Var forward(const Labels& ids, int64_t B, int64_t T);

  GptConfig config;
  Var wte, wpe;  // (vocab, dim), (context, dim)
  std::vector<std::unique_ptr<Block>> h;
  LayerNorm ln_f;
};

// Feeds a model one token at a time, keeping every layer's keys and values of the
// positions seen so far: each token costs one position's work plus attention over the
// cache, so generating n tokens costs O(n) passes, not O(n^2). Inference only.
class GptDecoder {
 public:
  explicit GptDecoder(Gpt& model);
  // Appends `token` at the next position (at most context positions) and returns the
  // logits (vocab) for the token that follows it.
  std::vector<float> next(int32_t token);
  int64_t position() const { return position_; }

 private:
  Gpt& model_;
  int64_t position_ = 0;
  std::vector<Tensor> keys_, values_;  // per layer: (context, dim)
};

struct SamplingOptions {
  int64_t tokens = 100;      // how many to generate
  double temperature = 1.0;  // 0: always the most likely token
  int64_t top_k = 0;         // 0: the whole vocabulary
};
// Continues `prompt` (1 to context tokens) by options.tokens tokens; past the context,
// each token sees the last context/2 to context tokens (the cache restarts from the last
// half). Returns only the new tokens. Deterministic for a given rng state.
std::vector<int32_t> generate(Gpt& model, const std::vector<int32_t>& prompt,
                              const SamplingOptions& options, Rng& rng);

}  // namespace dapa
