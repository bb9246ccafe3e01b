// Vision Transformer; see vit.h.
#include "nn/vit.h"

#include <stdexcept>

#include "autograd/ops.h"
#include "core/strings.h"

namespace dapa {

namespace {
// The named variants: the one list that vit_config, vit_model_names and help texts use.
struct VitSize {
  const char* name;
  int64_t dim, depth, heads, mlp_hidden;
};
constexpr VitSize kVitSizes[] = {
    {"vit-nano", 64, 4, 4, 256}, {"vit-micro", 128, 6, 4, 512}, {"vit-mini", 192, 8, 6, 768}};
}  // namespace

std::vector<std::string> vit_model_names() {
  return names_of(kVitSizes);
}

VitConfig vit_config(const std::string& model, int64_t channels, int64_t height, int64_t width,
                     int64_t classes, const std::string& act, const std::string& softmax) {
  VitConfig c;
  c.model = model;
  const VitSize* size = find_by_name(kVitSizes, model);
  if (!size)
    throw std::invalid_argument("--model: unknown model '" + model + "' (expected " +
                                join_names(vit_model_names()) + ")");
  c.dim = size->dim, c.depth = size->depth, c.heads = size->heads, c.mlp_hidden = size->mlp_hidden;
  if (channels < 1 || height < c.patch || width < c.patch || height % c.patch || width % c.patch)
    throw std::invalid_argument("images of " + std::to_string(channels) + "x" +
                                std::to_string(height) + "x" + std::to_string(width) +
                                " do not split into " + std::to_string(c.patch) + "x" +
                                std::to_string(c.patch) + " patches");
  c.channels = channels, c.height = height, c.width = width, c.classes = classes, c.act = act;
  c.softmax = softmax;
  return c;
}

int64_t VitConfig::step_bytes_per_image() const {
  // Per block and token: the saved LayerNorm, qkv, attention and MLP tensors and their
  // gradients (about 10 x dim + 3 x mlp_hidden floats); per head, the T x T scores and
  // probabilities (twice, for their gradients).
  double tokens = static_cast<double>(patches() + 1);
  double per_block = tokens * (10.0 * dim + 3.0 * mlp_hidden) + 4.0 * heads * tokens * tokens;
  double image = static_cast<double>(channels * height * width);
  return static_cast<int64_t>(4.0 * (depth * per_block + 4.0 * image + tokens * dim));
}

PatchEmbed::PatchEmbed(int64_t channels, int64_t patch_, int64_t dim, Rng& rng) : patch(patch_) {
  register_parameter("proj.weight", weight, trunc_normal({dim, channels, patch, patch}, rng));
  register_parameter("proj.bias", bias, Tensor::zeros({dim}));
}

Var PatchEmbed::forward(const Tensor& images) {
  int64_t B = images.shape()[0], C = images.shape()[1], H = images.shape()[2],
          W = images.shape()[3], p = patch, dim = weight.shape()[0];
  if (C != weight.shape()[1] || H % p || W % p)
    shape_error("PatchEmbed", images.shape(), weight.shape(), "images do not fit the patch weight");
  // patches: (B, Hp*Wp, C*p*p), each patch flattened in (C, p, p) order like the weight.
  Tensor patches = images.reshape({B, C, H / p, p, W / p, p})
                       .permute({0, 2, 4, 1, 3, 5})
                       .reshape({B, (H / p) * (W / p), C * p * p});
  return linear(Var(patches), reshape(weight, {dim, C * p * p}), bias);
}

Vit::Vit(const VitConfig& c, Rng& rng)
    : config(c),
      patch_embed(c.channels, c.patch, c.dim, rng),
      norm(c.dim, c.ln_eps),
      head(c.dim, c.classes, rng) {
  register_parameter("cls_token", cls_token, trunc_normal({1, 1, c.dim}, rng));
  register_parameter("pos_embed", pos_embed, trunc_normal({1, c.patches() + 1, c.dim}, rng));
  register_module("patch_embed", patch_embed);
  for (int i = 0; i < c.depth; ++i) {
    // One activation (and softmax exp) per block: a DAPA site keeps its own distribution
    // and table.
    BlockConfig bc{c.dim, c.heads, c.mlp_hidden, c.ln_eps};
    blocks.push_back(
        std::make_unique<Block>(bc, make_activation(c.act), make_softmax_exp(c.softmax), rng));
    register_module("blocks." + std::to_string(i), *blocks.back());
  }
  register_module("norm", norm);
  register_module("head", head);
}

Var Vit::forward(const Tensor& images) {
  int64_t B = images.shape()[0], D = config.dim;
  Var tokens = patch_embed.forward(images);                 // (B, Np, D)
  Var cls = add(Var(Tensor::zeros({B, 1, D})), cls_token);  // (B, 1, D)
  Var x = add(concat({cls, tokens}, 1), pos_embed);         // (B, T, D)
  for (auto& block : blocks) x = block->forward(x);         // (B, T, D)
  // LayerNorm is per token: normalising only the class token equals timm's norm-then-pick.
  Var c = norm.forward(reshape(slice(x, 1, 0, 1), {B, D}));  // (B, D)
  return head.forward(c);                                    // (B, classes)
}

}  // namespace dapa
