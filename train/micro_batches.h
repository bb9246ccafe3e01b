// A step's gradient over micro-batches (--micro-batches K; K = 1, the default, is the
// whole batch in one forward and backward): the loaded batch in K
// contiguous parts (Task::part_loss), each part's forward and backward alone, so only
// one part's activations are alive at a time. Part k's gradient (of its mean loss) is
// weighted by its share n_k / n of the batch's examples and the weighted gradients are
// summed part by part in order: the batch's mean gradient, up to rounding. Data-parallel
// training computes the parts on K processes and sums them in the same order with the
// same function (add_part_gradient), so the two give the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/optim.h"
#include "train/trainer.h"

namespace dapa {

// sum (first part: sum = weight * grad; with weight 1, grad itself) += weight * grad,
// elementwise. An undefined grad (the part did not reach the parameter) adds nothing.
void add_part_gradient(Tensor& sum, const Tensor& grad, float weight);

// Forward and backward of each of `parts` parts of the loaded batch of `examples`
// examples; leaves each parameter's grad as the weighted sum. Returns the batch's mean
// loss (the parts' losses weighted alike); a part whose loss is NaN or infinite stops
// the step: that loss is returned and the gradients are left undefined.
float micro_batch_backward(Task& task, Optimizer& opt, int64_t parts, int64_t examples);

}  // namespace dapa
