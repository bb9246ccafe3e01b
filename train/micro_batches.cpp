// Gradients over micro-batches; see micro_batches.h.
#include "train/micro_batches.h"

#include <cmath>

namespace dapa {

void add_part_gradient(Tensor& sum, const Tensor& grad, float weight) {
  if (!grad.defined()) return;
  if (!sum.defined() && weight == 1.0f) {  // a whole batch: 1 * grad is grad, no copy
    sum = grad;
    return;
  }
  if (!sum.defined()) {
    sum = Tensor::empty(grad.shape());
    sum.array() = grad.array() * weight;
    return;
  }
  sum.array() += grad.array() * weight;
}

float micro_batch_backward(Task& task, Optimizer& opt, int64_t parts, int64_t examples) {
  const std::vector<ParamGroup>& groups = opt.groups();
  std::vector<Tensor> sums(groups.size());
  double loss = 0;
  for (int64_t part = 0; part < parts; ++part) {
    int64_t n = 0;
    Var part_loss = task.part_loss(part, parts, &n);
    if (n == 0) continue;  // a short last batch with fewer rows than parts
    const float value = part_loss.value().item();
    if (!std::isfinite(value)) {
      clear_tape();
      opt.zero_grad();
      return value;
    }
    const double share = static_cast<double>(n) / static_cast<double>(examples);
    loss += share * value;
    opt.zero_grad();
    backward(part_loss);
    for (size_t i = 0; i < groups.size(); ++i)
      add_part_gradient(sums[i], groups[i].param->grad(), static_cast<float>(share));
  }
  for (size_t i = 0; i < groups.size(); ++i) groups[i].param->grad() = std::move(sums[i]);
  return static_cast<float>(loss);
}

}  // namespace dapa
