// The registry of elementwise functions; see functions.h. Each function's float kernels
// and double reference sit together, then one line in the table registers them. Compiled
// with -fno-trapping-math -ffp-contract=off (see core/fast_math.h).
#include "core/functions.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/fast_math.h"
#include "core/map_kernels.h"

namespace dapa {

namespace {
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluCubic = 0.044715;
constexpr float kSqrt2OverPiF = static_cast<float>(kSqrt2OverPi);
constexpr float kGeluCubicF = static_cast<float>(kGeluCubic);
const Line kZero{0.0, 0.0}, kIdentity{1.0, 0.0};

// ---- gelu: x Phi(x), derivative Phi(x) + x phi(x) (one normal_cdf_pdf per element) ----
DAPA_VECTOR_CLONES void gelu_value(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * normal_cdf_pdf(x[i]).cdf;
}
DAPA_VECTOR_CLONES void gelu_both(const float* x, float* y, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    NormalCdfPdf p = normal_cdf_pdf(x[i]);
    y[i] = x[i] * p.cdf;
    d[i] = p.cdf + x[i] * p.pdf;
  }
}
double gelu_ref(double x) {
  return 0.5 * x * (1.0 + std::erf(x * kInvSqrt2));
}
double gelu_ref_derivative(double x) {
  return 0.5 * (1.0 + std::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
}

// ---- gelu-tanh: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), exact derivative ----
// 0.5 (1 + tanh(u)) is the logistic sigmoid of 2u, computed from exp(-|2u|) <= 1 (no
// cancellation in 1 + tanh near saturation, where a tanh's last bits would be amplified
// by the derivative's x^3 factor): plain arithmetic, the same bits on every CPU.
inline float logistic(float z) {
  float e = fast_exp<false>(-std::fabs(z));
  float inv = 1.0f / (1.0f + e);
  return z >= 0.0f ? inv : e * inv;
}
DAPA_VECTOR_CLONES void gelu_tanh_value(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float x2 = x[i] * x[i];  // as in gelu_tanh_both: the same bits
    float u = kSqrt2OverPiF * (x[i] + kGeluCubicF * x2 * x[i]);
    y[i] = x[i] * logistic(2.0f * u);
  }
}
DAPA_VECTOR_CLONES void gelu_tanh_both(const float* x, float* y, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float x2 = x[i] * x[i];
    float u = kSqrt2OverPiF * (x[i] + kGeluCubicF * x2 * x[i]);
    float s = logistic(2.0f * u);  // 0.5 (1 + tanh(u)); d/du = 2 s (1 - s)
    y[i] = x[i] * s;
    d[i] = s + x[i] * 2.0f * s * (1.0f - s) * kSqrt2OverPiF * (1.0f + 3.0f * kGeluCubicF * x2);
  }
}
double gelu_tanh_ref(double x) {
  return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
}
double gelu_tanh_ref_derivative(double x) {
  double th = std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
  return 0.5 * (1.0 + th) +
         0.5 * x * (1.0 - th * th) * kSqrt2OverPi * (1.0 + 3 * kGeluCubic * x * x);
}

// ---- relu: max(x, 0), NaN kept; derivative 1 for x > 0, else 0 (0 at the kink, as PyTorch) ----
void relu_value(const float* x, float* y, int64_t n) {
  ConstArrayMap in(x, n);
  ArrayMap(y, n) = (in < 0.0f).select(0.0f, in);
}
void relu_both(const float* x, float* y, float* d, int64_t n) {
  ConstArrayMap in(x, n);
  ArrayMap(y, n) = (in < 0.0f).select(0.0f, in);
  ArrayMap(d, n) = (in > 0.0f).select(Eigen::ArrayXf::Ones(n), 0.0f);
}
double relu_ref(double x) {
  return x > 0 ? x : 0.0;
}
double relu_ref_derivative(double x) {
  return x > 0 ? 1.0 : 0.0;
}

// ---- silu (swish): x s(x) with s the logistic sigmoid; derivative s (1 + x (1 - s)) ----
DAPA_VECTOR_CLONES void silu_value(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * logistic(x[i]);
}
DAPA_VECTOR_CLONES void silu_both(const float* x, float* y, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float s = logistic(x[i]);
    y[i] = x[i] * s;
    d[i] = s * (1.0f + x[i] * (1.0f - s));
  }
}
double silu_ref(double x) {
  return x / (1.0 + std::exp(-x));
}
double silu_ref_derivative(double x) {
  double s = 1.0 / (1.0 + std::exp(-x));
  return s * (1.0 + x * (1.0 - s));
}

// ---- exp: its own derivative (the attention softmax's exponential) ----
DAPA_VECTOR_CLONES void exp_value(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fast_exp(x[i]);
}
DAPA_VECTOR_CLONES void exp_both(const float* x, float* y, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = d[i] = fast_exp(x[i]);
}
double exp_ref(double x) {
  return std::exp(x);
}
}  // namespace

const std::vector<ElementwiseFunction>& elementwise_functions() {
  static const std::vector<ElementwiseFunction> functions = {
      // name, kernels, references, kinks, portable bits, asymptotes
      {"gelu", gelu_value, gelu_both, gelu_ref, gelu_ref_derivative, {}, true, kZero, kIdentity},
      {"gelu-tanh",
       gelu_tanh_value,
       gelu_tanh_both,
       gelu_tanh_ref,
       gelu_tanh_ref_derivative,
       {},
       true,
       kZero,
       kIdentity},
      {"relu", relu_value, relu_both, relu_ref, relu_ref_derivative, {0.0}, true, kZero, kIdentity},
      {"silu", silu_value, silu_both, silu_ref, silu_ref_derivative, {}, true, kZero, kIdentity},
      {"exp", exp_value, exp_both, exp_ref, exp_ref, {}, true, kZero, std::nullopt},
  };
  return functions;
}

const ElementwiseFunction& find_function(const std::string& name) {
  for (const ElementwiseFunction& f : elementwise_functions())
    if (f.name == name) return f;
  throw std::invalid_argument("unknown function '" + name + "' (expected " + function_names() +
                              ")");
}

std::string function_names() {
  std::string names;
  for (const ElementwiseFunction& f : elementwise_functions())
    names += (names.empty() ? "" : ", ") + f.name;
  return names;
}

Tensor apply(const ElementwiseFunction& f, const Tensor& x) {
  return map_flat(x, [&f](auto in, auto out) { f.value(in.data(), out.data(), in.size()); });
}

ValueAndDerivative apply_with_derivative(const ElementwiseFunction& f, const Tensor& x) {
  return map_value_and_derivative(x, [&f](auto in, auto v, auto d) {
    f.value_and_derivative(in.data(), v.data(), d.data(), in.size());
  });
}

void value_prefetched(const RowFunction& f, const float* x, float* y, int64_t n) {
  for (int64_t at = 0; at < n; at += kPrefetchAhead) {
    const int64_t m = std::min(kPrefetchAhead, n - at);
    prefetch_floats(x + at + m, std::min(kPrefetchAhead, n - at - m));  // the next block
    f.value(x + at, y + at, m);
  }
}

// Cloned for its own loops (the product and the copy run at the CPU's width).
DAPA_VECTOR_CLONES void value_in_place_scaling_gradient(const RowFunction& f, float* x, float* g,
                                                        int64_t n) {
  alignas(64) float value[kPrefetchAhead], derivative[kPrefetchAhead];
  for (int64_t at = 0; at < n; at += kPrefetchAhead) {
    const int64_t m = std::min(kPrefetchAhead, n - at);
    prefetch_floats(x + at + m, std::min(kPrefetchAhead, n - at - m));  // the next block
    // Into the buffers first: the kernels do not promise to allow y == x.
    f.value_and_derivative(x + at, value, derivative, m);
    if (g)
      for (int64_t i = 0; i < m; ++i) g[at + i] *= derivative[i];
    std::copy(value, value + m, x + at);
  }
}

void value_in_place_scaling_gradient(const RowFunction& f, Tensor& x, Tensor& g) {
  if (g.defined() && g.shape() != x.shape())
    shape_error("value_in_place_scaling_gradient", x.shape(), g.shape(), "x and grad differ");
  if (!x.is_contiguous() || (g.defined() && !g.is_contiguous()))
    throw std::invalid_argument("value_in_place_scaling_gradient: x and grad must be contiguous");
  float* px = x.data();
  float* pg = g.defined() ? g.data() : nullptr;
  parallel_for(x.numel(), kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    value_in_place_scaling_gradient(f, px + i0, pg ? pg + i0 : nullptr, i1 - i0);
  });
}

}  // namespace dapa
