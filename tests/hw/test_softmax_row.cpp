// The softmax row unit (hw/hls/softmax_row, hw/rtl/softmax_row.v) with the softmax exp
// coefficient set of tests/golden/hw/16_exp, against the golden model in
// dapa/softmax_row.h:
//  - the direct exp of the baseline against std::exp on every input word;
//  - C simulation of both HLS variants (the DAPA table's exp, the direct exp) on many
//    rows, and of the reciprocal on every sum up to 2^20;
//  - Verilator co-simulation of both RTL variants, rows streamed back to back, every
//    probability equal; the cycles per row measured at several lengths and recorded for
//    hw/report.py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "Vsoftmax_dapa.h"
#include "Vsoftmax_direct.h"
#include "core/rng.h"
#include "dapa/softmax_row.h"
#include "dapa/table_io.h"
#include "exp_direct.h"
#include "softmax_row.h"
#include "verilated.h"

namespace dapa {
namespace {

FixedTable golden() {
  return load_tables(DAPA_HW_TABLE).at(0).fixed;
}

// The golden model with the baseline's exp in place of the table.
ExpWord direct_exp(const FixedTable& f) {
  return [fx = f.frac_x, fy = f.frac_y](int16_t z) { return exp_direct_element(z, fx, fy); };
}

using Rows = std::vector<std::vector<int16_t>>;

static_assert(::kSoftmaxScoreFrac == kSoftmaxScoreFrac, "the HLS unit's score format");
// The units take the differences of Q7.8 scores into the table's input format.
int score_shift(const FixedTable& f) {
  return kSoftmaxScoreFrac - f.frac_x;
}

// Rows of scores N(0, sd^2) (sd from 0.25 to 64, so some differences saturate) in the
// units' score format, the lengths given, plus the edge rows: one score, equal scores, the
// extreme words.
Rows test_rows(const std::vector<int>& lengths) {
  Rng rng(11);
  Rows rows = {{42}, std::vector<int16_t>(77, -300), {INT16_MIN, INT16_MAX, 0, -1}};
  for (size_t r = 0; r < lengths.size(); ++r) {
    float sd = 0.25f * static_cast<float>(1 << (r % 9));
    std::vector<int16_t> s(lengths[r]);
    for (int16_t& w : s) w = to_fixed(rng.normal(0.0f, sd), kSoftmaxScoreFrac);
    rows.push_back(s);
  }
  return rows;
}

std::vector<int> mixed_lengths() {
  std::vector<int> n = {64, 128, 256, 1024, 1, 2, 1023, 5};
  Rng rng(12);
  for (int i = 0; i < 40; ++i) n.push_back(1 + static_cast<int>(rng.next_u64() % 400));
  return n;
}

// Every input word, into the table's output format and into a coarser one: the direct exp
// is exp rounded to the output word, up to its Q14 cubic's relative error (9.1e-5).
TEST(SoftmaxRowUnit, DirectExpRoundsExpOnEveryInput) {
  FixedTable f = golden();
  for (int frac_y : {f.frac_y, 9}) {
    double worst = 0;
    for (int32_t w = INT16_MIN; w <= 0; ++w) {
      int16_t y = exp_direct_element(static_cast<int16_t>(w), f.frac_x, frac_y);
      double exact = std::exp(from_fixed(w, f.frac_x));
      worst = std::max(worst, std::abs(from_fixed(y, frac_y) - exact));
    }
    // measured: 1.03e-4 in Q15 (the cubic's error dominates), 0.51 ulp in Q9
    EXPECT_LE(worst, 0.52 * std::ldexp(1.0, -frac_y) + 9.1e-5) << "Q" << frac_y;
  }
}

TEST(SoftmaxRowUnit, HlsReciprocalEqualsTheGoldenModel) {
  for (uint32_t sum = 1; sum <= (1u << 20); ++sum) {
    uint32_t r;
    int shift;
    softmax_reciprocal(sum, &r, &shift);
    Reciprocal g = reciprocal_of(sum);
    ASSERT_EQ(r, g.r) << sum;
    ASSERT_EQ(shift, g.shift) << sum;
  }
}

TEST(SoftmaxRowUnit, HlsCsimEqualsTheGoldenModel) {
  FixedTable f = golden();
  for (const std::vector<int16_t>& s : test_rows(mixed_lengths())) {
    int n = static_cast<int>(s.size());
    std::vector<uint16_t> p(n), q(n);
    ASSERT_EQ(softmax_row_dapa(s.data(), p.data(), n), 0);
    ASSERT_EQ(p, softmax_row_words(f, s.data(), n)) << "row of " << n;
    ASSERT_EQ(softmax_row_direct(s.data(), q.data(), n), 0);
    ASSERT_EQ(q, softmax_row_words(direct_exp(f), s.data(), n, score_shift(f))) << "row of " << n;
  }
}

TEST(SoftmaxRowUnit, HlsCutsARowLongerThanTheBufferAndSaysSo) {
  FixedTable f = golden();
  std::vector<int16_t> s = test_rows({kSoftmaxRowBuffer + 6}).back();
  s.back() = INT16_MAX;  // dropped: it must not become the maximum
  std::vector<uint16_t> p(kSoftmaxRowBuffer + 6, 7);
  EXPECT_EQ(softmax_row_dapa(s.data(), p.data(), static_cast<int>(s.size())), 1);
  std::vector<uint16_t> head(p.begin(), p.begin() + kSoftmaxRowBuffer);
  EXPECT_EQ(head, softmax_row_words(f, s.data(), kSoftmaxRowBuffer));
  EXPECT_EQ(p.back(), 7) << "wrote past the buffer's length";
}

struct RowResult {
  std::vector<uint16_t> p;
  bool overflow = false;
  int64_t first_in = -1, last_out = -1;  // cycles
};

// Streams the rows into the unit back to back (a score offered every cycle, taken while
// in_ready) and collects each row's probabilities and timing.
template <class Model>
std::vector<RowResult> stream_rows(const Rows& rows) {
  auto context = std::make_unique<VerilatedContext>();
  auto m = std::make_unique<Model>(context.get());
  auto tick = [&] {
    m->clk = 1;
    m->eval();
    m->clk = 0;
    m->eval();
  };
  m->clk = 0, m->rst = 1, m->in_valid = 0, m->in_last = 0, m->score = 0;
  tick(), tick();
  m->rst = 0;
  std::vector<RowResult> out(rows.size());
  size_t in_row = 0, in_i = 0, out_row = 0;
  int64_t budget = 64;
  for (const auto& r : rows) budget += 4 * static_cast<int64_t>(r.size()) + 64;
  for (int64_t cycle = 0; cycle < budget && out_row < rows.size(); ++cycle) {
    bool offering = in_row < rows.size();
    m->in_valid = offering;
    m->in_last = offering && in_i + 1 == rows[in_row].size();
    m->score = offering ? rows[in_row][in_i] : 0;
    m->eval();
    bool taken = offering && m->in_ready;
    tick();
    if (taken) {
      if (in_i == 0) out[in_row].first_in = cycle;
      if (++in_i == rows[in_row].size()) ++in_row, in_i = 0;
    }
    if (m->out_valid) {
      out[out_row].p.push_back(static_cast<uint16_t>(m->p));
      if (m->out_last) out[out_row].overflow = m->out_overflow, out[out_row++].last_out = cycle;
    }
  }
  m->final();
  return out;
}

// Cycles from a row's first score in to its last probability out, by row length, for
// the cost report: DAPA_HW_COSIM_DIR/<design>.json.
void record_rows(const std::string& design, const Rows& rows, const std::vector<RowResult>& out) {
  std::string path = std::string(DAPA_HW_COSIM_DIR) + "/" + design + ".json";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << "cannot write " << path;
  std::fprintf(f, "{\"design\": \"%s\", \"row_cycles\": {", design.c_str());
  const char* separator = "";
  for (size_t n : {64, 256, 1024}) {
    size_t r = 0;
    while (r < rows.size() && rows[r].size() != n) ++r;
    ASSERT_LT(r, rows.size()) << "no row of " << n;
    std::fprintf(f, "%s\"%zu\": %lld", separator, n,
                 static_cast<long long>(out[r].last_out - out[r].first_in + 1));
    separator = ", ";
  }
  std::fprintf(f, "}}\n");
  std::fclose(f);
}

template <class Model>
void cosimulate_rows(const std::string& design, const ExpWord& exp_word) {
  Rows rows = test_rows(mixed_lengths());
  rows.push_back(test_rows({kSoftmaxRowBuffer + 6}).back());  // cut, flagged
  rows.back().back() = INT16_MAX;
  rows.push_back({-7, 3, 3});  // and the unit is clean for the next row
  const int shift = score_shift(golden());
  std::vector<RowResult> out = stream_rows<Model>(rows);
  for (size_t r = 0; r < rows.size(); ++r) {
    int n = std::min(static_cast<int>(rows[r].size()), kSoftmaxRowBuffer);
    ASSERT_EQ(out[r].p, softmax_row_words(exp_word, rows[r].data(), n, shift)) << "row " << r;
    ASSERT_EQ(out[r].overflow, rows[r].size() > static_cast<size_t>(kSoftmaxRowBuffer)) << r;
    EXPECT_LE(out[r].last_out - out[r].first_in, 3 * n + 32) << "row " << r << " of " << n;
  }
  record_rows(design, rows, out);
}

TEST(SoftmaxRowCosim, DapaRowUnitIsBitExact) {
  FixedTable f = golden();
  cosimulate_rows<Vsoftmax_dapa>("softmax_row_dapa", [&](int16_t z) { return f.forward(z); });
}

TEST(SoftmaxRowCosim, DirectExpRowUnitIsBitExact) {
  cosimulate_rows<Vsoftmax_direct>("softmax_row_direct", direct_exp(golden()));
}

}  // namespace
}  // namespace dapa
