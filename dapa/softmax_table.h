// Tables for the exp inside an attention softmax. What enters it are max-shifted scores
// z = s - max(row) <= 0, so an exp table is bounded to a domain [lo, 0] and inputs below
// lo are clamped to it. lo is the kSoftmaxTailMass quantile of the calibration scores,
// but no lower than kSoftmaxFloor: below that exp(z) is under half an ulp of the row
// maximum's exp(0) = 1, invisible in a float32 row sum (trained language models put
// 0.01% of their scores below -60, where a table would only waste segments). DAPA,
// DAPA refined and PWL are fitted on the scores inside the domain; the DWMSE of a
// table, like its fixed-point formats, is taken on the scores clamped as it sees them.
//
// A softmax table must keep the row sum positive and the order of the scores: it is
// checked to approximate exp, to be bounded to [lo, 0] with lo < 0, to have no
// breakpoint above 0, to be non-decreasing within every segment, and to be positive at
// 0 (so the row's maximum entry alone makes the sum positive). DAPA's segments need not
// join, so a table may step down at a breakpoint; that is allowed.
#pragma once

#include "dapa/distribution.h"
#include "dapa/fit.h"
#include "dapa/fixed_point.h"

namespace dapa {

inline constexpr double kSoftmaxTailMass = 1e-4;
inline constexpr double kSoftmaxFloor = -16.635532333438686;  // log(2^-24)

// The domain's lower end for max-shifted scores `d`: its kSoftmaxTailMass quantile or
// kSoftmaxFloor, whichever is higher, below 0. Throws std::invalid_argument when d is
// empty or holds nothing below 0.
double softmax_domain_lo(const Distribution& d);

struct SoftmaxFit {
  PiecewiseLinear table;      // bounded to [lo, 0]
  Distribution distribution;  // the scores inside the domain: what the lines were fitted on
};
// DAPA(segments) (or, `dapa` false, PWL(segments) on the domain) of exp for the scores
// `d`, refined if asked; throws std::invalid_argument like fit_dapa.
SoftmaxFit fit_softmax_exp(const Distribution& d, int segments, bool dapa, bool refined,
                           DerivativeMode mode);

// Throws std::invalid_argument saying which rule above the table breaks.
void check_softmax_table(const PiecewiseLinear& t);
void check_softmax_table(const FixedTable& f);  // its words: positive at 0, domain ends at 0

}  // namespace dapa
