// The softmax row unit's golden model (dapa/softmax_row.h): the reciprocal against 1/S on
// every mantissa, rows against the float softmax of the same table values and of exp
// itself, the edge rows, and its refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "core/rng.h"
#include "dapa/softmax_row.h"
#include "dapa/softmax_table.h"
#include "test_util.h"

namespace dapa {
namespace {

// A 16-bit DAPA(16) exp table fitted on max-shifted scores -|N(0, 3^2)|.
FixedTable exp_table() {
  Rng rng(5);
  std::vector<float> z(1 << 18);
  for (float& v : z) v = -std::abs(rng.normal(0.0f, 3.0f));
  Distribution d;
  d.add(z.data(), static_cast<int64_t>(z.size()));
  SoftmaxFit f = fit_softmax_exp(d, 16, true, false, DerivativeMode::Slope);
  return quantize_table(f.table, f.distribution);
}

// n scores N(0, sd^2) in Q(score_frac).
std::vector<int16_t> random_row(Rng& rng, int n, float sd, int score_frac = kSoftmaxScoreFrac) {
  std::vector<int16_t> s(n);
  for (int16_t& w : s) w = to_fixed(rng.normal(0.0f, sd), score_frac);
  return s;
}

TEST(SoftmaxRow, SeedsAreTheMidpointReciprocals) {
  for (int i = 0; i < (1 << kReciprocalSeedBits); ++i) {
    double mid = 1 + (i + 0.5) / (1 << kReciprocalSeedBits);
    EXPECT_EQ(reciprocal_seed(i), static_cast<uint32_t>(std::lround(65536 / mid))) << i;
  }
}

// Every mantissa (sums 2^15 .. 2^16 - 1 hold each once, exactly), and the truncating
// and scaling-up paths: r 2^-16 M 2^-15 within 2^-13 of 1, measured.
TEST(SoftmaxRow, ReciprocalWithinTwoToTheMinus13OfOneOverTheSum) {
  double worst = 0;
  auto check = [&](uint32_t sum) {
    Reciprocal r = reciprocal_of(sum);
    double product = static_cast<double>(r.r) * sum / std::ldexp(1.0, 16 + r.shift);
    worst = std::max(worst, std::abs(product - 1));
  };
  for (uint32_t sum = 1; sum < (1u << 17); ++sum) check(sum);
  for (uint32_t sum = 1u << 17; sum < (1u << 31); sum += 65537u * 13u) check(sum);
  EXPECT_LT(worst, 1.0 / 8192);  // measured 7.0e-5
  EXPECT_GT(worst, 1e-6);        // a 16-bit reciprocal, not an exact one
  EXPECT_EQ(reciprocal_of(1).shift, 0);
  EXPECT_NEAR(reciprocal_of(1).r, 65536, 65536.0 / 8192);  // 1/1 in Q16
  EXPECT_EQ(reciprocal_of(1u << 20).shift, 20);
}

// The probabilities against the float softmax of the table's own values (what the unit
// computes, up to its reciprocal and rounding) and against the exact softmax of the
// dequantised scores (adds the table's error), with scores coarser than the table's input
// (shifted left), finer (rounded right) and in the default Q7.8 up to +-128.
TEST(SoftmaxRow, RowsMatchTheSoftmaxOfTheTableAndOfExp) {
  FixedTable f = exp_table();
  ASSERT_GT(f.frac_x, 4);
  ASSERT_LT(f.frac_x, 14);
  Rng rng(9);
  double worst_unit = 0, worst_exact = 0;
  for (int row = 0; row < 300; ++row) {
    const int score_frac = row % 3 == 0 ? 4 : row % 3 == 1 ? kSoftmaxScoreFrac : 14;
    int n = 1 + static_cast<int>(rng.next_u64() % 300);
    // Up to +-128 (Q7.8: differences to the maximum of 200 and more saturate), within the
    // word's range otherwise.
    float sd =
        std::min(0.5f + 4.0f * static_cast<float>(row % 8), std::ldexp(1.0f, 13 - score_frac));
    std::vector<int16_t> s = random_row(rng, n, sd, score_frac);
    std::vector<uint16_t> p = softmax_row_words(f, s.data(), n, score_frac);
    int16_t m = *std::max_element(s.begin(), s.end());
    std::vector<double> e(n), x(n);
    for (int i = 0; i < n; ++i) {
      int16_t z = saturate16(round_shift(int64_t{s[i]} - m, score_frac - f.frac_x));
      e[i] = std::max(0.0, from_fixed(f.forward(z), f.frac_y));
      x[i] = std::exp(from_fixed(s[i] - m, score_frac));
    }
    double se = std::accumulate(e.begin(), e.end(), 0.0),
           sx = std::accumulate(x.begin(), x.end(), 0.0);
    for (int i = 0; i < n; ++i) {
      double got = p[i] / 65536.0;
      worst_unit = std::max(worst_unit, std::abs(got - std::min(e[i] / se, 65535 / 65536.0)));
      worst_exact = std::max(worst_exact, std::abs(got - x[i] / sx));
    }
  }
  EXPECT_LT(worst_unit, 1e-4);   // the reciprocal's error on p <= 1, a rounding; measured 6.5e-5
  EXPECT_LT(worst_exact, 1e-2);  // plus the table's error on exp; measured 4.3e-3
  EXPECT_GT(worst_exact, worst_unit);
}

TEST(SoftmaxRow, EdgeRows) {
  FixedTable f = exp_table();
  int16_t one = 100;
  EXPECT_EQ(softmax_row_words(f, &one, 1), std::vector<uint16_t>{65535});  // 1 saturates
  std::vector<int16_t> equal(64, -500);
  for (uint16_t w : softmax_row_words(f, equal.data(), 64)) EXPECT_NEAR(w, 1024, 1);
  // The extreme words: s - m saturates to -32768 and is clamped into the domain.
  std::vector<int16_t> extremes = {INT16_MIN, INT16_MAX, 0};
  std::vector<uint16_t> p = softmax_row_words(f, extremes.data(), 3);
  EXPECT_EQ(p[1], 65535);
  EXPECT_LE(p[0], 1);
  EXPECT_LE(p[2], 1);
}

TEST(SoftmaxRow, RefusesEmptyOrLongRowsAndExpsNotPositiveAtZero) {
  FixedTable f = exp_table();
  int16_t s = 0;
  auto message = [&](const ExpWord& e, int n) {
    return test::thrown_message<std::invalid_argument>([&] { softmax_row_words(e, &s, n, 0); });
  };
  ExpWord table = [&](int16_t z) { return f.forward(z); };
  EXPECT_EQ(message(table, 0), "softmax row of 0 scores: expected 1 to 65536");
  EXPECT_EQ(message(table, 65537), "softmax row of 65537 scores: expected 1 to 65536");
  EXPECT_EQ(message([](int16_t) -> int16_t { return 0; }, 1),
            "softmax row: the exp word at 0 is 0, expected positive");
  EXPECT_EQ(test::thrown_message<std::invalid_argument>([&] { softmax_row_words(f, &s, 1, 16); }),
            "softmax row: score format Q(16), expected 0 to 15 fractional bits");
  EXPECT_EQ(
      test::thrown_message<std::invalid_argument>([&] { softmax_row_words(table, &s, 1, 16); }),
      "softmax row: score shift 16, expected -15 to 15");
  EXPECT_NO_THROW(softmax_row_words(table, &s, 1, -15));
  EXPECT_THROW(reciprocal_of(0), std::invalid_argument);
}

}  // namespace
}  // namespace dapa
