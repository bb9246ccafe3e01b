// Warmup + cosine schedule; see schedule.h.
#include "nn/schedule.h"

#include <algorithm>
#include <cmath>

namespace dapa {

double WarmupCosine::at(int64_t step) const {
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / warmup_steps;
  int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace dapa
