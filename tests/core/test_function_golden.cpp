// Registered functions give the same bits on every machine where their registry entry
// says so (portable_bits: plain arithmetic without contraction, compiled for AVX-512 and
// AVX2 too and picked at load time). The outputs over a fixed set of inputs, digested,
// must equal the committed file (tests/golden/function_outputs.txt). ctest also runs this
// test under qemu-x86_64 as a Haswell (the AVX2 clones; FunctionGolden_Haswell) and a
// Nehalem (the baseline), and test-arm.sh on armhf and aarch64. Regenerate (only when
// the arithmetic changes on purpose, or a function is added):
//   DAPA_WRITE_GOLDEN=1 build/bin/test_core --gtest_filter='FunctionGolden.*'
#include <gtest/gtest.h>

#include <cmath>

#include "core/kernels.h"
#include "golden_digest.h"

namespace dapa {
namespace {

TEST(FunctionGolden, OutputsAreBitIdenticalToTheCommittedFile) {
  // x: every multiple of 2^-9 in [-16, 16] (GELU's left end reaches the denormal range),
  // then odd sizes so every vector width leaves a tail.
  std::vector<float> xs;
  for (int i = -16 * 512; i <= 16 * 512; ++i) xs.push_back(std::ldexp(static_cast<float>(i), -9));
  test::GoldenDigest digest;
  for (const ElementwiseFunction& f : elementwise_functions()) {
    if (!f.portable_bits) continue;
    for (int64_t n : {static_cast<int64_t>(xs.size()), int64_t{1}, int64_t{15}, int64_t{37}}) {
      Tensor x = Tensor::from(std::vector<float>(xs.end() - n, xs.end()), {n});
      // The registry's two kernels. Not the backward's product by the upstream gradient:
      // that is Eigen's multiply, whose NEON form on armhf flushes denormal products to
      // zero where x86 keeps them (GELU's left tail makes such products).
      Tensor y = apply(f, x);
      ValueAndDerivative vd = apply_with_derivative(f, x);
      for (const Tensor* t : {&y, &vd.value, &vd.derivative}) digest.put(t->data(), 4 * n);
      digest.section(f.name + ": value, value and derivative, n = " + std::to_string(n));
    }
  }
  test::expect_golden_digest(digest, "function_outputs.txt");
}

}  // namespace
}  // namespace dapa
