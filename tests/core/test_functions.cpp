// The registry of elementwise functions (core/functions.h): every double reference
// against values computed independently (PyTorch in float64 for every registered
// function, tests/golden/ops.h5; mpmath to 30 digits for some), every float kernel
// against its reference over a wide range, the one-pass value-and-derivative and the
// block-by-block passes against the value kernel, NaN propagation, names and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "core/functions.h"
#include "core/h5.h"
#include "core/kernels.h"
#include "test_util.h"

namespace dapa {
namespace {

// mpmath.mp.dps = 30: x Phi(x); 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
// x / (1 + e^-x); e^x; derivatives by mpmath.diff or in closed form.
struct Known {
  const char* name;
  double x, value, derivative;
};
const Known kKnown[] = {
    {"gelu", -2.5, -0.015524163314440338, -0.037611085908145208},
    {"gelu", -0.75, -0.16997051428265115, 0.00077427826076489563},
    {"gelu", 1.0, 0.84134474606854295, 1.0833154705876863},
    {"gelu", 3.0, 2.9959503059051097, 1.0119456472041839},
    {"gelu-tanh", -2.5, -0.015084266089998582, -0.037951576212666183},
    {"gelu-tanh", -0.75, -0.1700394448343797, 0.0010617438625857023},
    {"gelu-tanh", 1.0, 0.8411919906082767, 1.0829640838457826},
    {"gelu-tanh", 3.0, 2.996362607918227, 1.0115841666309697},
    {"relu", -2.5, 0.0, 0.0},
    {"relu", 3.0, 3.0, 1.0},
    {"silu", -2.5, -0.18964545005310888, -0.099401111341526841},
    {"silu", -0.75, -0.24061597561845527, 0.1574000555032465},
    {"silu", 1.0, 0.73105857863000488, 0.92767051187148673},
    {"silu", 3.0, 2.8577223804672997, 1.0881041060151696},
    {"exp", -2.5, 0.082084998623898795, 0.082084998623898795},
    {"exp", 1.0, 2.7182818284590452, 2.7182818284590452},
    {"exp", 3.0, 20.085536923187668, 20.085536923187668},
};

TEST(Functions, ReferencesMatchKnownValues) {
  for (const Known& k : kKnown) {
    const ElementwiseFunction& f = find_function(k.name);
    EXPECT_NEAR(f.reference(k.x), k.value, 1e-14 * (1 + std::abs(k.value))) << k.name << " " << k.x;
    EXPECT_NEAR(f.reference_derivative(k.x), k.derivative, 1e-13 * (1 + std::abs(k.derivative)))
        << k.name << "' at " << k.x;
  }
}

// Every registered function against PyTorch in float64 (make_golden.py's /references:
// 97 points on [-6, 6], derivatives by autograd). A function without them fails here:
// its line in make_golden.py is missing.
TEST(Functions, ReferencesMatchPyTorchInDoublePrecision) {
  H5Store store(test::golden_path("ops.h5"), H5Store::Mode::Read);
  for (const ElementwiseFunction& f : elementwise_functions()) {
    std::string g = "references/" + f.name;
    ASSERT_TRUE(store.exists(g)) << "no PyTorch reference values for '" << f.name
                                 << "': add it to tests/golden/make_golden.py and rerun it";
    std::vector<double> x = store.read_doubles(g + "/x"), v = store.read_doubles(g + "/value"),
                        d = store.read_doubles(g + "/derivative");
    ASSERT_EQ(x.size(), 97u);
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_NEAR(f.reference(x[i]), v[i], 1e-13 * (1 + std::abs(v[i])))
          << f.name << " at " << x[i];
      EXPECT_NEAR(f.reference_derivative(x[i]), d[i], 1e-12 * (1 + std::abs(d[i])))
          << f.name << "' at " << x[i];
    }
  }
}

// The float kernels against the double references on [-20, 8] in steps of 0.01 (GELU's
// and exp's left tails underflow there): relative error 5e-6, plus 1e-5 absolute where
// a derivative's terms cancel (GELU's near x = -0.75) or a tanh saturates early (Eigen's
// NEON tanh on armhf leaves 0.5 x (1 + tanh) at -5.4e-6 for x = -20).
TEST(Functions, KernelsMatchTheirReferences) {
  std::vector<float> xs;
  for (float x = -20.0f; x <= 8.0f; x += 0.01f) xs.push_back(x);
  Tensor x = Tensor::from(xs, {static_cast<int64_t>(xs.size())});
  for (const ElementwiseFunction& f : elementwise_functions()) {
    std::vector<float> y = apply(f, x).to_vector();
    ValueAndDerivative vd = apply_with_derivative(f, x);
    EXPECT_EQ(vd.value.to_vector(), y) << f.name << ": the one-pass value differs";
    std::vector<float> d = vd.derivative.to_vector();
    // The block-by-block passes (several blocks and a ragged tail) give the same bits.
    const FunctionRows rows(f);
    std::vector<float> blocked(xs.size()), in_place = xs, g(xs.size(), 3.0f);
    value_prefetched(rows, xs.data(), blocked.data(), static_cast<int64_t>(xs.size()));
    EXPECT_EQ(blocked, y) << f.name << ": value_prefetched differs";
    value_in_place_scaling_gradient(rows, in_place.data(), g.data(),
                                    static_cast<int64_t>(xs.size()));
    EXPECT_EQ(in_place, y) << f.name << ": the in-place value differs";
    for (size_t i = 0; i < xs.size(); ++i)
      ASSERT_EQ(g[i], 3.0f * d[i]) << f.name << ": the scaled gradient at " << xs[i];
    for (size_t i = 0; i < xs.size(); ++i) {
      double v = f.reference(xs[i]), dv = f.reference_derivative(xs[i]);
      ASSERT_NEAR(y[i], v, 5e-6 * std::abs(v) + 1e-5) << f.name << " at " << xs[i];
      ASSERT_NEAR(d[i], dv, 5e-6 * std::abs(dv) + 1e-5) << f.name << "' at " << xs[i];
    }
  }
}

TEST(Functions, GeluValueAndDerivativeAcrossTheWholeRange) {
  // Our own normal CDF (fast_math.h) against libm in double, relative error, over the
  // range where Phi and phi underflow too. The reference takes erfc for the left tail,
  // where 1 + erf(x) would lose every digit.
  std::vector<float> xs;
  for (float x = -20.0f; x <= 8.0f; x += 0.01f) xs.push_back(x);
  Tensor x = Tensor::from(xs, {static_cast<int64_t>(xs.size())});
  ValueAndDerivative vd = apply_with_derivative(find_function("gelu"), x);
  std::vector<float> y = vd.value.to_vector(), d = vd.derivative.to_vector();
  for (size_t i = 0; i < xs.size(); ++i) {
    double v = xs[i];
    double cdf = 0.5 * std::erfc(-v / std::sqrt(2.0));
    double pdf = std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI);
    double value = v * cdf, slope = cdf + v * pdf;
    if (cdf > 1e-37) {  // below, float32 is denormal or zero
      // 5e-6: the fit is good to 4e-6 relative (core/fit_mills_ratio.py), mostly from
      // rounding x*x inside the exponent.
      ASSERT_NEAR(y[i], value, 5e-6 * std::abs(value) + 1e-37) << "x = " << v;
    } else {
      ASSERT_NEAR(y[i], value, 1e-35) << "x = " << v;
    }
    // The derivative's two terms cancel near x = -0.75: relative to their size.
    ASSERT_NEAR(d[i], slope, 5e-6 * (cdf + std::abs(v) * pdf) + 1e-37) << "x = " << v;
  }
}

TEST(Functions, ExpOverflowsAndUnderflowsCleanly) {
  const ElementwiseFunction& e = find_function("exp");
  std::vector<float> y =
      apply(e, Tensor::from({-100.0f, -87.5f, 88.0f, 88.5f, 1e30f}, {5})).to_vector();
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_NEAR(y[2], std::exp(88.0), 1e-5 * std::exp(88.0));
  EXPECT_TRUE(std::isinf(y[3]) && std::isinf(y[4]));
}

TEST(Functions, NonFiniteInputsPropagate) {
  // A diverging run must see NaN, not a finite value made up by the kernels.
  for (const ElementwiseFunction& f : elementwise_functions()) {
    ValueAndDerivative vd = apply_with_derivative(f, Tensor::from({NAN, 1.0f}, {2}));
    EXPECT_TRUE(std::isnan(vd.value.to_vector()[0])) << f.name;
    EXPECT_TRUE(std::isnan(apply(f, Tensor::from({NAN}, {1})).item())) << f.name;
  }
  EXPECT_EQ(
      apply_with_derivative(find_function("gelu"), Tensor::from({-1e30f}, {1})).derivative.item(),
      0.0f);
}

TEST(Functions, NamesAndErrors) {
  EXPECT_EQ(function_names(), "gelu, gelu-tanh, relu, silu, exp");
  EXPECT_EQ(find_function("silu").name, "silu");
  try {
    find_function("swish");
    FAIL() << "no error for an unknown function";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "unknown function 'swish' (expected gelu, gelu-tanh, relu, silu, exp)");
  }
}

}  // namespace
}  // namespace dapa
