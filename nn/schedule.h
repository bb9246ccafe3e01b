// Learning-rate schedule: linear warmup to the base rate, then cosine decay to min_lr
// at the last step.
#pragma once

#include <cstdint>

namespace dapa {

struct WarmupCosine {
  double base_lr, min_lr;
  int64_t warmup_steps, total_steps;
  double at(int64_t step) const;  // step counts from 0
};

}  // namespace dapa
