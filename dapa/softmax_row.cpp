// The softmax row unit's golden model; see softmax_row.h.
#include "dapa/softmax_row.h"

#include <stdexcept>
#include <string>

#include "dapa/softmax_table.h"

namespace dapa {

uint32_t reciprocal_seed(int i) {
  // 2^16 / ((2^(bits+1) + 2i + 1) / 2^(bits+1)), rounded to nearest: (2 num + den) / 2 den.
  const uint64_t num = uint64_t{1} << (16 + kReciprocalSeedBits + 1);
  const uint64_t den =
      (uint64_t{1} << (kReciprocalSeedBits + 1)) + 2 * static_cast<uint64_t>(i) + 1;
  return static_cast<uint32_t>((2 * num + den) / (2 * den));
}

Reciprocal reciprocal_of(uint32_t sum) {
  if (sum == 0) throw std::invalid_argument("reciprocal_of: the row sum is 0");
  int b = 32;
  while (!(sum >> (b - 1) & 1)) --b;  // bit length: the unit's priority encoder
  const uint64_t m = b > 16 ? sum >> (b - 16) : uint64_t{sum} << (16 - b);  // Q15, [2^15, 2^16)
  const int index =
      static_cast<int>(m >> (15 - kReciprocalSeedBits)) & ((1 << kReciprocalSeedBits) - 1);
  const int64_t r0 = reciprocal_seed(index);                                    // Q16
  const int64_t two_minus = (int64_t{1} << 32) - static_cast<int64_t>(m) * r0;  // Q31, ~ 1
  const int64_t t = round_shift(two_minus, 16);                                 // Q15
  return {static_cast<uint32_t>(round_shift(r0 * t, 15)), b - 1};
}

uint16_t probability_word(int16_t e, const Reciprocal& r) {
  int64_t p = round_shift(int64_t{e} * r.r, r.shift);
  return static_cast<uint16_t>(p > 65535 ? 65535 : p);
}

std::vector<uint16_t> softmax_row_words(const ExpWord& exp_word, const int16_t* s, int n,
                                        int score_shift) {
  if (n < 1 || n > kSoftmaxRowMax)
    throw std::invalid_argument("softmax row of " + std::to_string(n) + " scores: expected 1 to " +
                                std::to_string(kSoftmaxRowMax));
  if (score_shift < -15 || score_shift > 15)  // two formats of 0 to 15 fractional bits
    throw std::invalid_argument("softmax row: score shift " + std::to_string(score_shift) +
                                ", expected -15 to 15");
  if (exp_word(0) <= 0)
    throw std::invalid_argument("softmax row: the exp word at 0 is " + std::to_string(exp_word(0)) +
                                ", expected positive");
  int16_t m = INT16_MIN;
  for (int i = 0; i < n; ++i) m = std::max(m, s[i]);
  std::vector<int16_t> e(n);
  uint32_t sum = 0;
  for (int i = 0; i < n; ++i) {
    int16_t v = exp_word(saturate16(round_shift(int64_t{s[i]} - m, score_shift)));
    e[i] = v > 0 ? v : 0;
    sum += static_cast<uint32_t>(e[i]);
  }
  Reciprocal r = reciprocal_of(sum);
  std::vector<uint16_t> p(n);
  for (int i = 0; i < n; ++i) p[i] = probability_word(e[i], r);
  return p;
}

std::vector<uint16_t> softmax_row_words(const FixedTable& exp_table, const int16_t* s, int n,
                                        int score_frac) {
  check_softmax_table(exp_table);
  if (score_frac < 0 || score_frac > 15)
    throw std::invalid_argument("softmax row: score format Q(" + std::to_string(score_frac) +
                                "), expected 0 to 15 fractional bits");
  return softmax_row_words([&](int16_t z) { return exp_table.forward(z); }, s, n,
                           score_frac - exp_table.frac_x);
}

}  // namespace dapa
