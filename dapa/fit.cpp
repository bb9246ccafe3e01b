// Fitting DAPA and PWL tables, and their error metrics; see fit.h.
#include "dapa/fit.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "dapa/metrics.h"

namespace dapa {

namespace {
// Weighted least-squares line through points (x_i, y_i) with weights w_i, computed on
// centred x for stability. With (nearly) one distinct x the slope is undetermined: the
// tangent of the target at the weighted mean is used instead.
struct LineFit {
  double w = 0, wx = 0, wy = 0;  // first pass: sums for the means
  std::vector<double> xs, ys, ws;
  void add(double x, double y, double weight) {
    if (weight <= 0) return;
    xs.push_back(x), ys.push_back(y), ws.push_back(weight);
    w += weight, wx += weight * x, wy += weight * y;
  }
  // Returns slope and intercept; `tangent` gives (slope, value) at a point.
  template <class Tangent>
  std::pair<double, double> solve(Tangent tangent) const {
    double mx = wx / w, my = wy / w, sxx = 0, sxy = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      sxx += ws[i] * (xs[i] - mx) * (xs[i] - mx);
      sxy += ws[i] * (xs[i] - mx) * (ys[i] - my);
    }
    double spread = sxx / w;
    if (spread <= 1e-18 * std::max(1.0, mx * mx)) {
      auto [s, v] = tangent(mx);
      return {s, v - s * mx};
    }
    double slope = sxy / sxx;
    return {slope, my - slope * mx};
  }
};
}  // namespace

std::string mode_name(DerivativeMode m) {
  return m == DerivativeMode::Slope ? "slope" : "fitted";
}

DerivativeMode parse_mode(const std::string& name) {
  if (name == "slope") return DerivativeMode::Slope;
  if (name == "fitted") return DerivativeMode::Fitted;
  throw std::invalid_argument("unknown derivative mode '" + name + "' (expected slope or fitted)");
}

int PiecewiseLinear::segment_index(double x) const {
  return static_cast<int>(std::upper_bound(breakpoints.begin(), breakpoints.end(), x) -
                          breakpoints.begin());
}

double PiecewiseLinear::value(double x) const {
  x = clamp(x);
  int k = segment_index(x);
  return slope[k] * x + intercept[k];
}

double PiecewiseLinear::derivative(double x) const {
  if (x < domain_lo || x > domain_hi) return 0.0;
  int k = segment_index(x);
  return mode == DerivativeMode::Slope ? slope[k] : dslope[k] * x + dintercept[k];
}

void PiecewiseLinear::validate() const {
  size_t n = slope.size();
  if (n < 1) throw std::invalid_argument("table has no segments");
  if (breakpoints.size() + 1 != n || intercept.size() != n || dslope.size() != n ||
      dintercept.size() != n)
    throw std::invalid_argument("table sizes disagree: " + std::to_string(n) + " segments need " +
                                std::to_string(n - 1) + " breakpoints and " + std::to_string(n) +
                                " coefficients each");
  for (const auto* v : {&breakpoints, &slope, &intercept, &dslope, &dintercept})
    for (double x : *v)
      if (!std::isfinite(x)) throw std::invalid_argument("table holds a NaN or infinite value");
  if (bounded() && !(std::isfinite(domain_lo) && std::isfinite(domain_hi) && domain_lo < domain_hi))
    throw std::invalid_argument("table domain [" + std::to_string(domain_lo) + ", " +
                                std::to_string(domain_hi) +
                                "] is not a finite, non-empty range (or unbounded on both sides)");
  for (size_t i = 1; i < breakpoints.size(); ++i)
    if (!(breakpoints[i] > breakpoints[i - 1]))
      throw std::invalid_argument("breakpoints are not strictly increasing (at " +
                                  std::to_string(i) + ")");
}

PiecewiseLinear fit_dapa(const Distribution& d, int segments, Target t, DerivativeMode mode) {
  if (segments < 1 || segments > 4096)
    throw std::invalid_argument("DAPA needs 1 to 4096 segments, got " + std::to_string(segments));
  if (d.count() == 0) throw std::invalid_argument("DAPA fit: the distribution holds no values");
  std::vector<double> breakpoints;
  for (int i = 1; i < segments; ++i) {
    double q = d.quantile(static_cast<double>(i) / segments);
    if (!breakpoints.empty() && !(q > breakpoints.back()))
      throw std::invalid_argument(
          "DAPA fit: the distribution is too narrow for " + std::to_string(segments) +
          " segments (quantiles " + std::to_string(i - 1) + "/" + std::to_string(segments) +
          " and " + std::to_string(i) + "/" + std::to_string(segments) + " coincide at " +
          std::to_string(q) + "); use fewer segments or more calibration data");
    breakpoints.push_back(q);
  }
  return fit_lines(d, breakpoints, t, mode);
}

PiecewiseLinear fit_lines(const Distribution& d, const std::vector<double>& breakpoints, Target t,
                          DerivativeMode mode) {
  if (d.count() == 0) throw std::invalid_argument("DAPA fit: the distribution holds no values");
  PiecewiseLinear f;
  f.target = &t;
  f.mode = mode;
  f.breakpoints = breakpoints;
  int segments = static_cast<int>(breakpoints.size()) + 1;
  std::vector<LineFit> value_fit(segments), deriv_fit(segments);
  for (int64_t i = 0; i < d.bins(); ++i) {
    double p = d.bin_mass(i);
    if (p <= 0) continue;
    double x = d.bin_center(i);
    int k = f.segment_index(x);
    value_fit[k].add(x, t.reference(x), p);
    deriv_fit[k].add(x, t.reference_derivative(x), p);
  }
  for (int k = 0; k < segments; ++k) {
    if (value_fit[k].w <= 0) {  // a segment no bin centre fell into: tangent at its middle
      double lo = k > 0 ? f.breakpoints[k - 1] : f.breakpoints[k] - 1.0;
      double hi = k < segments - 1 ? f.breakpoints[k] : f.breakpoints[k - 1] + 1.0;
      value_fit[k].add(0.5 * (lo + hi), t.reference(0.5 * (lo + hi)), 1.0);
      deriv_fit[k].add(0.5 * (lo + hi), t.reference_derivative(0.5 * (lo + hi)), 1.0);
    }
    auto [a, b] = value_fit[k].solve([&t](double x) {
      return std::pair{t.reference_derivative(x), t.reference(x)};
    });
    auto [da, db] = deriv_fit[k].solve([&t](double x) {
      double h = 1e-4 * std::max(1.0, std::abs(x));  // slope of f' by central difference
      return std::pair{(t.reference_derivative(x + h) - t.reference_derivative(x - h)) / (2 * h),
                       t.reference_derivative(x)};
    });
    f.slope.push_back(a), f.intercept.push_back(b);
    f.dslope.push_back(da), f.dintercept.push_back(db);
  }
  f.validate();
  return f;
}

PiecewiseLinear refine_breakpoints(const PiecewiseLinear& f, const Distribution& d,
                                   int max_sweeps) {
  f.validate();
  if (d.count() == 0) throw std::invalid_argument("refine: the distribution holds no values");
  // The occupied bins, and prefix sums over them of the weighted moments, so that any run
  // of bins [a, b) gets its least-squares line's error in O(1).
  std::vector<double> xs, P{0}, X{0}, Y{0}, XX{0}, XY{0}, YY{0};
  for (int64_t i = 0; i < d.bins(); ++i) {
    double p = d.bin_mass(i);
    if (p <= 0) continue;
    double x = d.bin_center(i), y = f.target->reference(x);
    xs.push_back(x);
    P.push_back(P.back() + p), X.push_back(X.back() + p * x), Y.push_back(Y.back() + p * y);
    XX.push_back(XX.back() + p * x * x), XY.push_back(XY.back() + p * x * y);
    YY.push_back(YY.back() + p * y * y);
  }
  int n = f.segments();
  auto m = static_cast<int64_t>(xs.size());
  if (m < n)
    throw std::invalid_argument("refine: " + std::to_string(n) + " segments need as many " +
                                "occupied histogram bins, the distribution has " +
                                std::to_string(m));
  auto line_error = [&](int64_t a, int64_t b) {  // DWMSE of bins [a, b) on their best line
    double w = P[b] - P[a], sx = X[b] - X[a], sy = Y[b] - Y[a];
    double vxx = XX[b] - XX[a] - sx * sx / w, vxy = XY[b] - XY[a] - sx * sy / w;
    double vyy = YY[b] - YY[a] - sy * sy / w;
    return std::max(0.0, vxx > 1e-300 ? vyy - vxy * vxy / vxx : vyy);
  };
  // bound[k]: the first bin of segment k (bound[0] = 0, bound[n] = m), every segment
  // holding at least one occupied bin.
  std::vector<int64_t> bound(n + 1, m);
  bound[0] = 0;
  for (int k = 1; k < n; ++k) {
    bound[k] = std::lower_bound(xs.begin(), xs.end(), f.breakpoints[k - 1]) - xs.begin();
    bound[k] = std::clamp(bound[k], bound[k - 1] + 1, m - (n - k));
  }
  // Coordinate descent: move each breakpoint to where the two segments it separates,
  // each with its own best line, have the least error. No step raises the DWMSE, so the
  // sweeps stop at a table no single breakpoint move improves.
  for (int sweep = 0; sweep < max_sweeps; ++sweep) {
    bool moved = false;
    for (int k = 1; k < n; ++k) {
      int64_t best = bound[k];
      double best_error = line_error(bound[k - 1], best) + line_error(best, bound[k + 1]);
      for (int64_t c = bound[k - 1] + 1; c < bound[k + 1]; ++c) {
        double e = line_error(bound[k - 1], c) + line_error(c, bound[k + 1]);
        if (e < best_error * (1 - 1e-12)) best = c, best_error = e;
      }
      moved |= best != bound[k];
      bound[k] = best;
    }
    if (!moved) break;
  }
  std::vector<double> breakpoints;  // halfway between the last bin of one segment and the next
  for (int k = 1; k < n; ++k) breakpoints.push_back(0.5 * (xs[bound[k] - 1] + xs[bound[k]]));
  return fit_lines(d, breakpoints, *f.target, f.mode);
}

PiecewiseLinear fit_pwl(int segments, Target t, double lo, double hi, DerivativeMode mode) {
  if (segments < 1 || segments > 4096)
    throw std::invalid_argument("PWL needs 1 to 4096 segments, got " + std::to_string(segments));
  if (!(lo < hi)) throw std::invalid_argument("PWL needs lo < hi");
  PiecewiseLinear f;
  f.target = &t;
  f.mode = mode;
  // The tails: the function's asymptote on that side (GELU: 0 left, x right), or flat at
  // the function's value at the end of the range when it has none (exp on the right);
  // their derivative lines are the constant slope.
  auto add_tail = [&](const std::optional<Line>& asymptote, double end) {
    Line l = asymptote ? *asymptote : Line{0.0, t.reference(end)};
    f.slope.push_back(l.slope), f.intercept.push_back(l.intercept);
    f.dslope.push_back(0), f.dintercept.push_back(l.slope);
  };
  f.breakpoints.push_back(lo);
  add_tail(t.left_asymptote, lo);
  const int samples = 2001;  // per segment: the continuous least squares to 1e-7
  double step = (hi - lo) / segments;
  for (int k = 0; k < segments; ++k) {
    double a = lo + k * step, b = a + step;
    LineFit vf, df;
    for (int s = 0; s < samples; ++s) {
      double x = a + (b - a) * (s + 0.5) / samples;
      vf.add(x, t.reference(x), 1.0);
      df.add(x, t.reference_derivative(x), 1.0);
    }
    auto [s1, i1] = vf.solve([&t](double x) {
      return std::pair{t.reference_derivative(x), t.reference(x)};
    });
    auto [s2, i2] = df.solve([&t](double x) { return std::pair{0.0, t.reference_derivative(x)}; });
    f.slope.push_back(s1), f.intercept.push_back(i1), f.dslope.push_back(s2),
        f.dintercept.push_back(i2);
    f.breakpoints.push_back(b);
  }
  f.breakpoints.back() = hi;
  add_tail(t.right_asymptote, hi);
  f.validate();
  return f;
}

double nearest_two_term(double v, int min_exp, int max_exp, double limit) {
  double best = 0;
  std::vector<double> terms = {0.0};
  for (int e = min_exp; e <= max_exp; ++e) terms.push_back(std::ldexp(1.0, e));
  for (double t1 : terms)
    for (double t2 : terms)
      for (double s1 : {-1.0, 1.0})
        for (double s2 : {-1.0, 1.0}) {
          double c = s1 * t1 + s2 * t2;
          if (std::abs(c) <= limit && std::abs(c - v) < std::abs(best - v)) best = c;
        }
  return best;
}

PiecewiseLinear restrict_to_shift_add(const PiecewiseLinear& t, const Distribution& d) {
  t.validate();
  if (t.mode != DerivativeMode::Slope)
    throw std::invalid_argument("shift-add tables need the slope derivative mode");
  if (d.count() == 0) throw std::invalid_argument("shift-add: the distribution holds no values");
  PiecewiseLinear r = t;
  std::vector<double> w(t.segments()), wx(t.segments()), wy(t.segments());
  for (int64_t i = 0; i < d.bins(); ++i) {
    double p = d.bin_mass(i);
    if (p <= 0) continue;
    double x = d.bin_center(i);
    int k = t.segment_index(x);
    w[k] += p, wx[k] += p * x, wy[k] += p * t.target->reference(x);
  }
  for (int k = 0; k < t.segments(); ++k) {
    double a = nearest_two_term(t.slope[k], -14, 2);
    // Keep the line through the segment's weighted mean (or its old value at the middle
    // of an empty segment).
    double mx = w[k] > 0 ? wx[k] / w[k] : 0.0, my = w[k] > 0 ? wy[k] / w[k] : 0.0;
    if (w[k] <= 0) {
      double lo = k > 0 ? t.breakpoints[k - 1] : t.breakpoints.front() - 1.0;
      double hi = k < t.segments() - 1 ? t.breakpoints[k] : t.breakpoints.back() + 1.0;
      mx = 0.5 * (lo + hi), my = t.slope[k] * mx + t.intercept[k];
    }
    r.slope[k] = a, r.intercept[k] = my - a * mx;
    r.dslope[k] = 0, r.dintercept[k] = a;  // the derivative is the slope
  }
  r.validate();
  return r;
}

double mse_uniform(const PiecewiseLinear& f, double lo, double hi, bool derivative, int points) {
  return metrics::mse_uniform(f, lo, hi, derivative, points);
}

double dwmse(const PiecewiseLinear& f, const Distribution& d, bool derivative) {
  return metrics::dwmse(f, d, derivative);
}

}  // namespace dapa
