// The distribution of the values entering an activation site, collected while data
// streams through: a fixed number of equal-width bins (64k by default) over a range
// that grows on the fly. Growing doubles the bin width and merges bins pairwise, so
// counts stay exact; the range only ever covers what was seen, to within a factor 2.
// From it: the empirical density (probability per bin), the CDF and quantiles
// (linear within a bin), and summary statistics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dapa {

class H5Store;

class Distribution {
 public:
  explicit Distribution(int64_t bins = 65536);

  void add(const float* x, int64_t n);  // NaN and Inf are counted apart, not binned
  void add(const Tensor& t);
  // The pooled distribution of two sites. Into an empty distribution, the other one
  // exactly (its grid and counts).
  void merge(const Distribution& other);
  // What a table bounded to [lo, hi] sees: every value outside moved to the nearer end
  // (each bin, whole, to the bin of its clamped centre). Throws std::invalid_argument
  // for an empty or NaN range.
  Distribution clamped(double lo, double hi) const { return restricted(lo, hi, true); }
  // The values inside [lo, hi] alone (bins by their centre), as for a fit that leaves the
  // tails out. Throws like clamped().
  Distribution within(double lo, double hi) const { return restricted(lo, hi, false); }

  int64_t bins() const { return static_cast<int64_t>(counts_.size()); }
  int64_t count() const { return total_; }  // binned values
  int64_t nonfinite() const { return nonfinite_; }
  double min() const { return min_; }  // exact extremes seen
  double max() const { return max_; }
  double mean() const;
  double stddev() const;
  double lo() const { return lo_; }  // histogram range [lo, lo + bins * width)
  double width() const { return width_; }
  double bin_center(int64_t i) const { return lo_ + (i + 0.5) * width_; }
  double bin_mass(int64_t i) const;  // probability of bin i
  const std::vector<int64_t>& counts() const { return counts_; }

  double cdf(double x) const;       // P(X <= x)
  double quantile(double p) const;  // smallest x with cdf(x) >= p, p in [0, 1]

  void save(H5Store& store, const std::string& group) const;
  // The whole state as bytes and back, bit for bit (data-parallel runs pool their
  // ranks' recordings). from_bytes throws std::invalid_argument for bytes to_bytes did
  // not make.
  std::vector<char> to_bytes() const;
  static Distribution from_bytes(const char* data, size_t size);
  static Distribution load(const H5Store& store, const std::string& group);

 private:
  void cover(double lo, double hi);  // grow the range until [lo, hi] fits
  int64_t bin_of(double x) const;
  Distribution restricted(double lo, double hi, bool clamp) const;

  std::vector<int64_t> counts_;
  double lo_ = 0.0, width_ = 0.0;  // width 0: empty, no range yet
  int64_t total_ = 0, nonfinite_ = 0;
  double min_ = 0.0, max_ = 0.0, sum_ = 0.0, sum_sq_ = 0.0;
};

}  // namespace dapa
