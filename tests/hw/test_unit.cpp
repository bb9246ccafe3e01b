// The DAPA unit against the integer golden model, for one coefficient set (the build
// compiles this file once per set, with that set's dapa_coeffs.h and Verilog models):
//  - C simulation of the HLS kernel: every one of the 65,536 16-bit inputs, forward and
//    backward with random gradients, equal to FixedTable bit for bit;
//  - Verilator co-simulation of the RTL (fused and forward-only): the same inputs
//    streamed one per cycle, one result per cycle, after exactly the expected latency.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "Vforward.h"
#include "Vfused.h"
#include "core/rng.h"
#include "dapa/table_io.h"
#include "dapa_unit.h"
#include "verilated.h"

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

// Streams the stimulus through a model, one input per cycle, and checks every output
// against the golden model and the cycle it appears on.
template <class Model>
void cosimulate(bool fused, int latency) {
  FixedTable f = golden();
  Stimulus s = all_inputs();
  auto context = std::make_unique<VerilatedContext>();
  auto m = std::make_unique<Model>(context.get());
  m->clk = 0;
  m->in_valid = 0;
  m->eval();
  size_t n = s.x.size(), received = 0;
  for (size_t cycle = 0; cycle < n + latency + 2; ++cycle) {
    bool feeding = cycle < n;
    m->in_valid = feeding;
    m->x = feeding ? s.x[cycle] : 0;
    m->g = feeding ? s.g[cycle] : 0;
    m->clk = 1;
    m->eval();
    m->clk = 0;
    m->eval();
    // After this edge, the input of cycle c - latency + 1 is out.
    int64_t source = static_cast<int64_t>(cycle) - latency + 1;
    bool expect_valid = source >= 0 && source < static_cast<int64_t>(n);
    ASSERT_EQ(static_cast<bool>(m->out_valid), expect_valid) << "cycle " << cycle;
    if (!expect_valid) continue;
    int16_t x = s.x[source];
    ASSERT_EQ(static_cast<int16_t>(m->y), f.forward(x)) << "x = " << x;
    if (fused) {
      ASSERT_EQ(static_cast<int16_t>(m->dx), f.backward(x, s.g[source]))
          << "x = " << x << ", g = " << s.g[source];
    }
    ++received;
  }
  EXPECT_EQ(received, n);  // one result per cycle, none lost
  m->final();
}

TEST(RtlCosim, FusedUnitIsBitExactAtOneResultPerCycle) {
  cosimulate<Vfused>(true, DAPA_HW_LATENCY);
}

TEST(RtlCosim, ForwardOnlyUnitIsBitExact) {
  cosimulate<Vforward>(false, 3);
}

}  // namespace
}  // namespace dapa
