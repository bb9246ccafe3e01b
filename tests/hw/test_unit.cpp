// The DAPA unit against the integer golden model, for one coefficient set (the build
// compiles this file once per set, with that set's dapa_coeffs.h and Verilog models):
//  - C simulation of the HLS kernel: every one of the 65,536 16-bit inputs, forward and
//    backward with random gradients, equal to FixedTable bit for bit;
//  - Verilator co-simulation of the RTL (fused and forward-only): the same inputs
//    streamed one per cycle, results in order at one per cycle; the latency and II are
//    measured and recorded for hw/report.py (tests/hw/cosim.h).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "Vforward.h"
#include "Vfused.h"
#include "core/rng.h"
#include "cosim.h"
#include "dapa/table_io.h"
#include "dapa_unit.h"

namespace dapa {
namespace {

FixedTable golden() {
  std::vector<SiteTable> t = load_tables(DAPA_HW_TABLE);
  return t.at(0).fixed;
}

struct Stimulus {
  std::vector<int16_t> x, g;
};

// All 16-bit inputs in a scrambled order, each with a random gradient.
Stimulus all_inputs() {
  Stimulus s;
  for (int32_t w = INT16_MIN; w <= INT16_MAX; ++w) s.x.push_back(static_cast<int16_t>(w));
  Rng rng(17);
  rng.shuffle(s.x);
  for (size_t i = 0; i < s.x.size(); ++i)
    s.g.push_back(static_cast<int16_t>(static_cast<int32_t>(rng.next_u64() % 65536) - 32768));
  return s;
}

TEST(HlsCsim, EqualsTheGoldenModelOnEveryInput) {
  FixedTable f = golden();
  Stimulus s = all_inputs();
  int n = static_cast<int>(s.x.size());
  std::vector<int16_t> y(n), dx(n), y_fwd(n), dx_untouched(n, 7);
  dapa_unit(s.x.data(), s.g.data(), y.data(), dx.data(), n, 1);
  dapa_unit(s.x.data(), s.g.data(), y_fwd.data(), dx_untouched.data(), n, 0);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(y[i], f.forward(s.x[i])) << "x = " << s.x[i];
    ASSERT_EQ(dx[i], f.backward(s.x[i], s.g[i])) << "x = " << s.x[i] << ", g = " << s.g[i];
    ASSERT_EQ(y_fwd[i], y[i]);
    ASSERT_EQ(dx_untouched[i], 7) << "forward mode wrote the gradient";
  }
}

// Streams every input through a model, one per cycle, checks each result against the
// golden model, and records the measured latency and II for the cost report.
template <class Model>
void cosimulate_unit(bool fused) {
  FixedTable f = golden();
  Stimulus s = all_inputs();
  auto check = [&](size_t i, int16_t y, int16_t dx) {
    ASSERT_EQ(y, f.forward(s.x[i])) << "x = " << s.x[i];
    if (fused) {
      ASSERT_EQ(dx, f.backward(s.x[i], s.g[i])) << "x = " << s.x[i] << ", g = " << s.g[i];
    }
  };
  hw::CosimResult r = hw::cosimulate<Model>(s.x, s.g, check);
  ASSERT_EQ(r.results, static_cast<int64_t>(s.x.size()));  // none lost
  EXPECT_EQ(r.ii, 1.0);                                    // one result per cycle
  EXPECT_GT(r.latency, 0);
  hw::record_cosim(std::string(DAPA_HW_CONFIG) + (fused ? "_fused" : "_forward"), r);
}

TEST(RtlCosim, FusedUnitIsBitExactAtOneResultPerCycle) {
  cosimulate_unit<Vfused>(true);
}

TEST(RtlCosim, ForwardOnlyUnitIsBitExactAtOneResultPerCycle) {
  cosimulate_unit<Vforward>(false);
}

}  // namespace
}  // namespace dapa
