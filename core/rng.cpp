// Deterministic RNG; see rng.h. This file is compiled with -ffp-contract=off so that no
// platform fuses multiply-adds differently (bit-identical normals on x86 and ARM).
#include "core/rng.h"

#include <cmath>
#include <stdexcept>

namespace dapa {
namespace {
uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

Rng epoch_rng(uint64_t seed, int64_t epoch) {
  return Rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
}

double portable_log(double x) {
  if (!(x > 0.0)) return x == 0.0 ? -HUGE_VAL : NAN;
  if (std::isinf(x)) return x;
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); ln x = e ln2 + 2 atanh((m-1)/(m+1)).
  int e = 0;
  double m = std::frexp(x, &e);  // m in [0.5, 1): exact on every platform
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    e -= 1;
  }
  double s = (m - 1.0) / (m + 1.0);  // |s| <= 0.1716
  double s2 = s * s;
  // atanh series up to s^23: truncation below 1e-18 relative.
  double poly = 1.0 / 23.0;
  for (int k = 21; k >= 1; k -= 2) poly = poly * s2 + 1.0 / k;
  const double ln2 = 0.69314718055994530942;
  return e * ln2 + 2.0 * s * poly;
}

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& w : s_) w = splitmix64(x);
}

uint64_t Rng::next_u64() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

float Rng::uniform() {
  return static_cast<float>(next_u64() >> 40) * 0x1.0p-24f;
}

float Rng::uniform(float lo, float hi) {
  return lo + (hi - lo) * uniform();
}

double Rng::normal_double() {
  for (;;) {
    double u = static_cast<double>(next_u64() >> 11) * 0x1.0p-52 - 1.0;  // [-1, 1)
    double v = static_cast<double>(next_u64() >> 11) * 0x1.0p-52 - 1.0;
    double s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    return u * std::sqrt(-2.0 * portable_log(s) / s);  // sqrt is exactly rounded (IEEE)
  }
}

float Rng::normal(float mean, float std) {
  return static_cast<float>(mean + std * normal_double());
}

float Rng::trunc_normal(float mean, float std, float lo, float hi) {
  if (!(lo < hi)) throw std::invalid_argument("Rng::trunc_normal: needs lo < hi");
  for (int tries = 0; tries < 1000000; ++tries) {
    float v = normal(mean, std);
    if (v >= lo && v <= hi) return v;
  }
  throw std::invalid_argument("Rng::trunc_normal: [lo, hi] holds almost no probability mass");
}

int64_t Rng::randint(int64_t n) {
  if (n <= 0) throw std::invalid_argument("Rng::randint: needs n > 0");
  uint64_t un = static_cast<uint64_t>(n);
  uint64_t limit = UINT64_MAX - UINT64_MAX % un;  // reject the biased tail
  uint64_t r;
  do r = next_u64();
  while (r >= limit);
  return static_cast<int64_t>(r % un);
}

void Rng::fill_uniform(Tensor& t, float lo, float hi) {
  float* p = t.array().data();  // throws unless contiguous
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = uniform(lo, hi);
}

void Rng::fill_normal(Tensor& t, float mean, float std) {
  float* p = t.array().data();  // throws unless contiguous
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = normal(mean, std);
}

void Rng::fill_trunc_normal(Tensor& t, float mean, float std, float lo, float hi) {
  float* p = t.array().data();  // throws unless contiguous
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = trunc_normal(mean, std, lo, hi);
}

}  // namespace dapa
