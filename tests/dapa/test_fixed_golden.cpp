// The fixed-point unit gives the same bits on every machine: its outputs for fixed
// tables and fixed inputs, digested section by section, are compared with a committed
// file written on x86-64 (tests/golden/fixed_outputs.txt; see golden_digest.h). Under qemu
// the armhf and aarch64 builds (scripts/test-arm.sh) and this build's AVX2 and baseline
// clones of the kernel loops (ctest: FixedGolden_Haswell, FixedGolden_Nehalem) run the
// same test on the same file.
// Regenerate (only when the arithmetic changes on purpose):
//   DAPA_WRITE_GOLDEN=1 build/bin/test_dapa --gtest_filter='FixedGolden.*'
#include <gtest/gtest.h>

#include "dapa/fixed_point.h"
#include "dapa/table_io.h"
#include "golden_digest.h"

namespace dapa {
namespace {

// Everything the unit computes for the committed 16_fitted and 16_slope tables: forward
// and backward of every 16-bit word with gradients from an integer generator, then the
// float32 kernels on floats made from the words (exactly representable inputs, and
// halfway points between them).
test::GoldenDigest outputs() {
  test::GoldenDigest digest;
  for (const char* config : {"16_fitted", "16_slope"}) {
    std::string path = test::golden_path(std::string("hw/") + config + "/table.json");
    FixedTable f = load_tables(path).at(0).fixed;
    uint32_t state = 12345;
    std::vector<float> xs;
    for (int32_t w = INT16_MIN; w <= INT16_MAX; ++w) {
      state = state * 1664525u + 1013904223u;  // Numerical Recipes' LCG
      auto g = static_cast<int16_t>(state >> 16);
      auto x = static_cast<int16_t>(w);
      int16_t out[2] = {f.forward(x), f.backward(x, g)};
      digest.put(out, sizeof out);
      xs.push_back(static_cast<float>(from_fixed(w, f.frac_x)));
      xs.push_back(static_cast<float>(from_fixed(2 * w + 1, f.frac_x + 1)));
    }
    digest.section(std::string(config) + " integer forward+backward");
    Tensor x = Tensor::from(xs, {static_cast<int64_t>(xs.size())});
    FixedKernel k(f);
    std::vector<uint8_t> index;
    Tensor y = fixed_forward(k, x, &index);
    ValueAndDerivative vd = fixed_value_and_derivative(k, x);
    digest.put(y.data(), 4 * y.numel());
    digest.put(index.data(), index.size());
    digest.put(vd.derivative.data(), 4 * vd.derivative.numel());
    digest.section(std::string(config) + " float32 kernels");
  }
  return digest;
}

TEST(FixedGolden, OutputsAreBitIdenticalToTheCommittedFile) {
  test::expect_golden_digest(outputs(), "fixed_outputs.txt");
}

}  // namespace
}  // namespace dapa
