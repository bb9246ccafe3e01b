// Piecewise-linear approximations of an activation and how to fit them.
//
// DAPA(N) (the paper's method): the N-1 breakpoints are the quantiles i/N of the
// observed distribution, so every segment holds the same probability mass and segments
// are short where data is dense; the outer segments run to minus and plus infinity.
// Each segment is the least-squares line of the target weighted by the density, the
// line that minimises the distribution-weighted MSE inside it; segments need not join.
//
// PWL(N) (the usual baseline): N equal-width segments over a fixed range, each the
// unweighted least-squares line, and constant tails outside (for GELU: 0 on the left,
// the identity on the right).
//
// The derivative is piecewise too: `slope` mode uses each segment's slope (the exact
// derivative of the approximation: backward needs only the segment index), `fitted`
// mode a second density-weighted line per segment fitted to the target's derivative.
#pragma once

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "core/functions.h"
#include "dapa/distribution.h"

namespace dapa {

// A table's target is any registered elementwise function (core/functions.h): fits use
// its double-precision reference, PWL's tails its asymptotes.
using Target = const ElementwiseFunction&;
enum class DerivativeMode { Slope, Fitted };

std::string mode_name(DerivativeMode m);  // "slope", "fitted"
DerivativeMode parse_mode(const std::string& name);

struct PiecewiseLinear {
  const ElementwiseFunction* target = &find_function("gelu");
  DerivativeMode mode = DerivativeMode::Slope;
  std::vector<double> breakpoints;         // N - 1, strictly increasing
  std::vector<double> slope, intercept;    // N: segment k is slope[k] x + intercept[k]
  std::vector<double> dslope, dintercept;  // N: the fitted derivative lines
  // The inputs the table takes: x outside [domain_lo, domain_hi] is clamped into it, so
  // the derivative is 0 there. Unbounded on both sides unless set (GELU's outer segments
  // run on to infinity), or a finite range (a softmax's exp table: [lo, 0], see
  // dapa/softmax_table.h).
  double domain_lo = -std::numeric_limits<double>::infinity();
  double domain_hi = std::numeric_limits<double>::infinity();

  bool bounded() const {
    return domain_lo > -std::numeric_limits<double>::infinity() ||
           domain_hi < std::numeric_limits<double>::infinity();
  }
  double clamp(double x) const { return std::clamp(x, domain_lo, domain_hi); }

  int segments() const { return static_cast<int>(slope.size()); }
  // k with breakpoints[k-1] <= x < breakpoints[k] (0 below the first, N-1 above the last).
  int segment_index(double x) const;
  double value(double x) const;       // of the clamped x
  double derivative(double x) const;  // by `mode`; 0 outside the domain
  // Throws std::invalid_argument naming the problem: sizes, order, NaN or Inf, an empty
  // or NaN domain.
  void validate() const;
};

// DAPA(segments) from a distribution; both derivative modes are fitted, `mode` picks
// which one derivative() uses. Throws std::invalid_argument when the distribution is
// empty or too narrow for distinct quantile breakpoints.
PiecewiseLinear fit_dapa(const Distribution& d, int segments, Target t,
                         DerivativeMode mode = DerivativeMode::Slope);
// The density-weighted lines (value and fitted derivative) on given breakpoints.
PiecewiseLinear fit_lines(const Distribution& d, const std::vector<double>& breakpoints, Target t,
                          DerivativeMode mode = DerivativeMode::Slope);
// DAPA(N) refined (`dapa:N:refined`): equal-mass breakpoints minimise the DWMSE only
// when the target's curvature is even over the data; this moves them, starting from
// f's, to lower the DWMSE itself (coordinate descent: each breakpoint in turn goes where
// its two segments, each with its own least-squares line, err least), until no single
// move helps or after max_sweeps sweeps. Breakpoints end halfway between histogram bins;
// the DWMSE never rises. Throws std::invalid_argument when the distribution has fewer
// occupied bins than segments.
PiecewiseLinear refine_breakpoints(const PiecewiseLinear& f, const Distribution& d,
                                   int max_sweeps = 200);
// PWL(segments) on [lo, hi] with constant tails.
PiecewiseLinear fit_pwl(int segments, Target t, double lo = -4.0, double hi = 4.0,
                        DerivativeMode mode = DerivativeMode::Slope);

// DSP-free tables: every slope a sum of at most two signed powers of two, 2^-14 and up,
// so that a * x is two shifts and an add. Given the breakpoints, a segment's DWMSE with
// its best intercept is a parabola in the slope centred on the least-squares slope, so
// the best restricted slope is simply the nearest such value; the intercepts are refitted
// (density-weighted) for it. Slope mode only (the fitted derivative needs a multiplier).
PiecewiseLinear restrict_to_shift_add(const PiecewiseLinear& t, const Distribution& d);
// The nearest value s1 2^e1 + s2 2^e2 (s in {-1, 0, 1}, min_exp <= e <= max_exp, at
// most `limit` in magnitude) to v.
double nearest_two_term(double v, int min_exp, int max_exp, double limit = 1e300);

// Mean squared error over a uniform grid on [lo, hi] (of the value, or of the derivative).
double mse_uniform(const PiecewiseLinear& f, double lo, double hi, bool derivative = false,
                   int points = 100001);
// Distribution-weighted MSE: sum over histogram bins of p(x) (f(x) - g(x))^2.
double dwmse(const PiecewiseLinear& f, const Distribution& d, bool derivative = false);

}  // namespace dapa
