// Seeded, deterministic random numbers: the same seed gives the same numbers on every
// platform (x86, ARM). xoshiro256** seeded by splitmix64; uniforms from the top bits;
// normals by the polar method with a portable logarithm (libm's log may differ in the
// last bit between platforms, our own does not).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace dapa {

class Rng {
 public:
  using State = std::array<uint64_t, 4>;

  explicit Rng(uint64_t seed = 0);

  uint64_t next_u64();
  float uniform();                    // [0, 1)
  float uniform(float lo, float hi);  // [lo, hi)
  double normal_double();             // N(0, 1)
  float normal(float mean = 0.0f, float std = 1.0f);
  // N(mean, std) redrawn until it falls inside [lo, hi].
  float trunc_normal(float mean, float std, float lo, float hi);
  int64_t randint(int64_t n);  // uniform in [0, n), unbiased

  template <class T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[randint(static_cast<int64_t>(i))]);
  }

  void fill_uniform(Tensor& t, float lo, float hi);
  void fill_normal(Tensor& t, float mean, float std);
  void fill_trunc_normal(Tensor& t, float mean, float std, float lo, float hi);

  State state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  State s_;
};

// The generator of epoch `epoch` of a run seeded with `seed`: an epoch's order (and
// anything else it draws) comes from (seed, epoch) alone, so any epoch can be served
// again after a resume.
Rng epoch_rng(uint64_t seed, int64_t epoch);

// Natural logarithm from IEEE arithmetic only: bit-identical on every platform.
double portable_log(double x);

}  // namespace dapa
