// GPT-2-style language model; see gpt.h.
#include "nn/gpt.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "autograd/ops.h"
#include "core/fast_math.h"
#include "core/gemm.h"
#include "core/kernels.h"
#include "core/strings.h"

namespace dapa {

namespace {
// The named variants: the one list gpt_config, gpt_model_names and help texts use.
struct GptSize {
  const char* name;
  int64_t depth, heads, dim, context;
};
constexpr GptSize kGptSizes[] = {
    {"gpt-nano", 4, 4, 128, 128}, {"gpt-micro", 6, 6, 192, 256}, {"gpt-mini", 8, 8, 256, 256}};
}  // namespace

std::vector<std::string> gpt_model_names() {
  return names_of(kGptSizes);
}

GptConfig gpt_config(const std::string& model, int64_t vocab, const std::string& act,
                     const std::string& softmax) {
  const GptSize* size = find_by_name(kGptSizes, model);
  if (!size)
    throw std::invalid_argument("--model: unknown model '" + model + "' (expected " +
                                join_names(gpt_model_names()) + ")");
  if (vocab < 2 || vocab > 65536)
    throw std::invalid_argument("a vocabulary of " + std::to_string(vocab) +
                                " symbols (expected 2 to 65536)");
  GptConfig c;
  c.model = model, c.vocab = vocab, c.act = act, c.softmax = softmax;
  c.depth = size->depth, c.heads = size->heads, c.dim = size->dim, c.context = size->context;
  c.mlp_hidden = 4 * c.dim;
  return c;
}

int64_t GptConfig::step_bytes_per_sequence(int64_t tokens) const {
  // Per block and token as for the ViT (about 10 x dim + 3 x mlp_hidden floats saved or
  // their gradients), per head the T x T probabilities and their gradients; the logits,
  // their gradient and the softmax inside cross-entropy (3 x vocab per token).
  double t = static_cast<double>(tokens);
  double per_block = t * (10.0 * dim + 3.0 * mlp_hidden) + 2.0 * heads * t * t;
  return static_cast<int64_t>(4.0 * (depth * per_block + t * (3.0 * vocab + 4.0 * dim)));
}

Gpt::Gpt(const GptConfig& c, Rng& rng) : config(c), ln_f(c.dim, c.ln_eps) {
  register_parameter("transformer.wte.weight", wte, trunc_normal({c.vocab, c.dim}, rng));
  register_parameter("transformer.wpe.weight", wpe, trunc_normal({c.context, c.dim}, rng));
  BlockConfig bc{c.dim,     c.heads, c.mlp_hidden,
                 c.ln_eps,  true,    0.02f / std::sqrt(2.0f * static_cast<float>(c.depth)),
                 kGpt2Names};
  for (int i = 0; i < c.depth; ++i) {
    // One activation (and softmax exp) per block: a DAPA site keeps its own distribution
    // and table.
    h.push_back(
        std::make_unique<Block>(bc, make_activation(c.act), make_softmax_exp(c.softmax), rng));
    register_module("transformer.h." + std::to_string(i), *h.back());
  }
  register_module("transformer.ln_f", ln_f);
}

Var Gpt::forward(const Labels& ids, int64_t B, int64_t T) {
  if (T < 1 || T > config.context || static_cast<int64_t>(ids.size()) != B * T)
    shape_error("Gpt", "expected (B, T) token ids with 1 <= T <= " +
                           std::to_string(config.context) + ", got " + std::to_string(ids.size()) +
                           " ids for B=" + std::to_string(B) + ", T=" + std::to_string(T));
  Var tok = embedding(wte, ids, {B, T});        // (B, T, C)
  Var x = add(tok, slice(wpe, 0, 0, T));        // (B, T, C) + (T, C)
  for (auto& block : h) x = block->forward(x);  // (B, T, C)
  x = ln_f.forward(x);                          // (B, T, C)
  return linear(x, wte, Var());                 // (B, T, vocab): lm_head tied to wte
}

namespace {
// The attention's softmax over one row of scores in place: exact, or with the table exp
// of the max-shifted scores as in training (core/kernels.h, attention_with_exp).
void attention_softmax_row(const RowFunction* exp, float* scores, int64_t n) {
  if (!exp) {
    softmax_row(scores, scores, n);
    return;
  }
  Eigen::Map<Eigen::ArrayXf> z(scores, n);
  z -= z.maxCoeff();
  exp->value(scores, scores, n);
  normalize_exp_row(scores, scores, lane_padded(n));  // zeros past n: see next()
}
}  // namespace

GptDecoder::GptDecoder(Gpt& model) : model_(model) {
  const GptConfig& c = model.config;
  for (int64_t l = 0; l < c.depth; ++l) {
    keys_.push_back(Tensor::zeros({c.context, c.dim}));
    values_.push_back(Tensor::zeros({c.context, c.dim}));
  }
}

std::vector<float> GptDecoder::next(int32_t token) {
  const GptConfig& c = model_.config;
  if (position_ >= c.context)
    throw std::invalid_argument("the context of " + std::to_string(c.context) + " tokens is full");
  const int64_t C = c.dim, D = c.dim / c.heads, t = position_;
  Tensor x = add(embedding(model_.wte.value(), {token}, {1}),
                 model_.wpe.value().slice(0, t, t + 1));  // x: (1, C)
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  // One head's scores at a time, then its probabilities; zeros to whole lane blocks.
  std::vector<float> scores(static_cast<size_t>(lane_padded(t + 1)), 0.0f);
  for (size_t l = 0; l < model_.h.size(); ++l) {
    Block& b = *model_.h[l];
    Tensor a = layer_norm(x, b.norm1.weight.value(), b.norm1.bias.value(), b.norm1.eps).y;
    Tensor qkv = linear_forward(a, b.attn.qkv.weight.value(), b.attn.qkv.bias.value());  // (1, 3C)
    std::copy_n(qkv.data() + C, C, keys_[l].data() + t * C);
    std::copy_n(qkv.data() + 2 * C, C, values_[l].data() + t * C);
    Tensor heads = Tensor::zeros({1, C});  // (1, C): each head's output side by side
    // The table softmax's exp, if any: the same row function for every head.
    std::shared_ptr<const RowFunction> exp =
        b.attn.softmax_exp ? b.attn.softmax_exp->rows() : nullptr;
    for (int64_t hd = 0; hd < c.heads; ++hd) {
      const float* q = qkv.data() + hd * D;
      for (int64_t s = 0; s <= t; ++s) {
        const float* k = keys_[l].data() + s * C + hd * D;
        scores[s] = scale * std::inner_product(q, q + D, k, 0.0f);
      }
      attention_softmax_row(exp.get(), scores.data(), t + 1);
      float* out = heads.data() + hd * D;
      for (int64_t s = 0; s <= t; ++s) {
        const float* v = values_[l].data() + s * C + hd * D;
        for (int64_t d = 0; d < D; ++d) out[d] += scores[s] * v[d];
      }
    }
    // The residual connections as the training forward adds them (linear_forward's
    // residual): x + proj(heads), then x + fc2(act(fc1(...))).
    x = linear_forward(heads, b.attn.proj.weight.value(), b.attn.proj.bias.value(), {}, x);
    Tensor m = layer_norm(x, b.norm2.weight.value(), b.norm2.bias.value(), b.norm2.eps).y;
    Tensor hidden = linear_forward(m, b.mlp.fc1.weight.value(), b.mlp.fc1.bias.value());
    x = linear_forward(b.mlp.act->value(hidden), b.mlp.fc2.weight.value(), b.mlp.fc2.bias.value(),
                       {}, x);
  }
  Tensor f = layer_norm(x, model_.ln_f.weight.value(), model_.ln_f.bias.value(), model_.ln_f.eps).y;
  Tensor logits = linear_forward(f, model_.wte.value(), Tensor());  // (1, vocab)
  ++position_;
  return {logits.data(), logits.data() + c.vocab};
}

namespace {
// A token drawn from softmax(logits / temperature) restricted to the top_k largest.
int32_t sample_token(const std::vector<float>& logits, const SamplingOptions& o, Rng& rng) {
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  // Ties go to the lower id, so the draw does not depend on the sort's implementation.
  auto larger = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  if (o.temperature <= 0) return *std::min_element(order.begin(), order.end(), larger);
  size_t k = o.top_k > 0 ? std::min(order.size(), static_cast<size_t>(o.top_k)) : order.size();
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    larger);
  std::vector<double> p(k);
  double top = logits[order[0]], total = 0;
  for (size_t i = 0; i < k; ++i)
    total += p[i] = std::exp((static_cast<double>(logits[order[i]]) - top) / o.temperature);
  double u = static_cast<double>(rng.uniform()) * total;
  for (size_t i = 0; i < k; ++i) {
    if (u < p[i]) return order[i];
    u -= p[i];
  }
  return order[k - 1];
}
}  // namespace

std::vector<int32_t> generate(Gpt& model, const std::vector<int32_t>& prompt,
                              const SamplingOptions& options, Rng& rng) {
  const int64_t context = model.config.context;
  if (prompt.empty() || static_cast<int64_t>(prompt.size()) > context)
    throw std::invalid_argument("a prompt of " + std::to_string(prompt.size()) +
                                " tokens (expected 1 to the model's context of " +
                                std::to_string(context) + ")");
  for (int32_t t : prompt)
    if (t < 0 || t >= model.config.vocab)
      throw std::invalid_argument("prompt token " + std::to_string(t) + " is outside the " +
                                  std::to_string(model.config.vocab) + "-symbol vocabulary");
  // When the context is full, the decoder starts over from the last half of the text:
  // one re-encoding of context/2 tokens per context/2 new tokens, so the cost per token
  // stays constant however long the sample.
  std::vector<int32_t> text = prompt, out;
  auto decoder = std::make_unique<GptDecoder>(model);
  std::vector<float> logits;
  for (int32_t t : prompt) logits = decoder->next(t);
  while (static_cast<int64_t>(out.size()) < options.tokens) {
    out.push_back(sample_token(logits, options, rng));
    text.push_back(out.back());
    if (decoder->position() == context) {
      decoder = std::make_unique<GptDecoder>(model);
      for (size_t i = text.size() - static_cast<size_t>(context / 2); i + 1 < text.size(); ++i)
        decoder->next(text[i]);
    }
    logits = decoder->next(out.back());
  }
  return out;
}

}  // namespace dapa
