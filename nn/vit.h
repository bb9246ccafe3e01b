// Vision Transformer (timm layout and names): patch embedding, class token, learned
// position embedding, pre-norm blocks, final LayerNorm on the class token, linear head.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace dapa {

struct VitConfig {
  std::string model;  // vit-nano, vit-micro, vit-mini
  int64_t channels = 1, height = 28, width = 28, patch = 4;
  int64_t dim = 64, depth = 4, heads = 4, mlp_hidden = 256, classes = 10;
  std::string act = "gelu";
  std::string softmax = "exact";  // the attention softmax's exp (make_softmax_exp)
  float ln_eps = 1e-6f;
  int64_t patches() const { return (height / patch) * (width / patch); }
  // An upper estimate of the bytes a training step holds per image (activations saved
  // for backward, their gradients, the attention scores): for refusing a batch that
  // cannot fit before allocating it. Within 2x above the allocator's measured peak.
  int64_t step_bytes_per_image() const;
};

// The named variants, for images of the given shape and class count. Throws
// std::invalid_argument for an unknown name or an image size the patch does not divide.
VitConfig vit_config(const std::string& model, int64_t channels, int64_t height, int64_t width,
                     int64_t classes, const std::string& act, const std::string& softmax = "exact");
std::vector<std::string> vit_model_names();  // vit-nano, vit-micro, vit-mini

// Conv with kernel = stride = patch, as a matrix product on flattened patches; its
// weight keeps PyTorch's Conv2d shape (dim, C, p, p).
class PatchEmbed : public Module {
 public:
  PatchEmbed(int64_t channels, int64_t patch, int64_t dim, Rng& rng);
  Var forward(const Tensor& images);  // (B, C, H, W) -> (B, patches, dim)
  int64_t patch;
  Var weight, bias;
};

class Vit : public Module {
 public:
  Vit(const VitConfig& config, Rng& rng);
  Var forward(const Tensor& images);  // (B, C, H, W) -> logits (B, classes)

  VitConfig config;
  PatchEmbed patch_embed;
  Var cls_token, pos_embed;  // (1, 1, dim), (1, patches + 1, dim)
  std::vector<std::unique_ptr<Block>> blocks;
  LayerNorm norm;
  Linear head;
};

}  // namespace dapa
