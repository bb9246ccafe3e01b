// Streaming histogram; see distribution.h.
#include "dapa/distribution.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/bytes.h"
#include "core/h5.h"

namespace dapa {

Distribution::Distribution(int64_t bins) : counts_(bins, 0) {
  if (bins < 2 || bins % 2 != 0)
    throw std::invalid_argument("Distribution: bins must be even and at least 2, got " +
                                std::to_string(bins));
}

int64_t Distribution::bin_of(double x) const {
  auto i = static_cast<int64_t>(std::floor((x - lo_) / width_));
  return std::clamp<int64_t>(i, 0, bins() - 1);
}

void Distribution::cover(double lo, double hi) {
  const int64_t n = bins();
  if (width_ == 0.0) {
    // First data: a range a little wider than what was seen; a single value gets a
    // unit-wide range around it so that the width is never zero.
    double span = hi - lo;
    double pad = span > 0 ? 0.05 * span : std::max(1.0, std::abs(lo)) * 0.5;
    lo_ = lo - pad;
    width_ = (span + 2 * pad) / n;
    return;
  }
  while (lo < lo_ || hi >= lo_ + n * width_) {
    // Double the width. Growing to the right keeps lo; growing to the left moves lo
    // down by the old span, so the old range becomes the upper half of the new one.
    // Either way old bins 2j and 2j+1 become one new bin: counts stay exact.
    bool left = lo < lo_;
    std::vector<int64_t> merged(n, 0);
    int64_t offset = left ? n / 2 : 0;  // new bins that lie below the old range
    for (int64_t j = 0; j < n / 2; ++j) merged[offset + j] = counts_[2 * j] + counts_[2 * j + 1];
    if (left) lo_ -= n * width_;
    width_ *= 2;
    counts_.swap(merged);
  }
}

void Distribution::add(const float* x, int64_t n) {
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(x[i])) {
      lo = std::min(lo, static_cast<double>(x[i]));
      hi = std::max(hi, static_cast<double>(x[i]));
    }
  if (lo > hi) {  // nothing finite
    nonfinite_ += n;
    return;
  }
  cover(lo, hi);
  if (total_ == 0) min_ = lo, max_ = hi;
  min_ = std::min(min_, lo);
  max_ = std::max(max_, hi);
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i];
    if (!std::isfinite(v)) {
      ++nonfinite_;
      continue;
    }
    ++counts_[bin_of(v)];
    ++total_;
    sum_ += v;
    sum_sq_ += v * v;
  }
}

void Distribution::add(const Tensor& t) {
  Tensor c = t.contiguous();
  add(c.data(), c.numel());
}

void Distribution::merge(const Distribution& other) {
  if (other.bins() != bins())
    throw std::invalid_argument("Distribution::merge: bin counts differ (" +
                                std::to_string(bins()) + " and " + std::to_string(other.bins()) +
                                ")");
  if (other.total_ == 0) {
    nonfinite_ += other.nonfinite_;
    return;
  }
  if (total_ == 0) {
    // Nothing binned here yet: take the other's grid as it is, so that pooling one part
    // gives that part back bit for bit (a fresh grid would be padded and coarser).
    int64_t nonfinite = nonfinite_;
    *this = other;
    nonfinite_ += nonfinite;
    return;
  }
  cover(other.lo_, other.lo_ + other.bins() * other.width_ * (1 - 1e-12));
  // Each of the other's bins goes, whole, to the bin holding its centre. When the other
  // grid is finer this moves mass by at most half of our bin width.
  for (int64_t i = 0; i < other.bins(); ++i)
    if (other.counts_[i]) counts_[bin_of(other.bin_center(i))] += other.counts_[i];
  if (total_ == 0) min_ = other.min_, max_ = other.max_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  total_ += other.total_;
  nonfinite_ += other.nonfinite_;
  sum_ += other.sum_;
  sum_sq_ += other.sum_sq_;
}

Distribution Distribution::restricted(double lo, double hi, bool clamp) const {
  if (!(lo < hi))
    throw std::invalid_argument("Distribution: empty range [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  Distribution r(bins());
  r.nonfinite_ = nonfinite_;
  if (total_ == 0 || (!clamp && (max_ < lo || min_ > hi))) return r;
  r.min_ = std::clamp(min_, lo, hi), r.max_ = std::clamp(max_, lo, hi);
  r.cover(r.min_, r.max_);
  for (int64_t i = 0; i < bins(); ++i) {
    double x = bin_center(i);
    if (!counts_[i] || (!clamp && (x < lo || x > hi))) continue;
    x = std::clamp(x, r.min_, r.max_);
    r.counts_[r.bin_of(x)] += counts_[i];
    r.total_ += counts_[i];
    r.sum_ += x * counts_[i];
    r.sum_sq_ += x * x * counts_[i];
  }
  return r;
}

// Layout: bins, total, nonfinite, lo, width, min, max, sum, sum_sq, then the non-empty
// bins as (index, count) pairs and their number first. Mostly few bins are non-empty.
std::vector<char> Distribution::to_bytes() const {
  ByteWriter out;
  out.put(bins()), out.put(total_), out.put(nonfinite_);
  for (double v : {lo_, width_, min_, max_, sum_, sum_sq_}) out.put(v);
  out.put(static_cast<int64_t>(bins() - std::count(counts_.begin(), counts_.end(), 0)));
  for (int64_t i = 0; i < bins(); ++i)
    if (counts_[i]) out.put(i), out.put(counts_[i]);
  return std::move(out.bytes);
}

Distribution Distribution::from_bytes(const char* data, size_t size) {
  ByteReader in(data, size, "Distribution::from_bytes");
  Distribution d(in.get<int64_t>());
  d.total_ = in.get<int64_t>(), d.nonfinite_ = in.get<int64_t>();
  for (double* v : {&d.lo_, &d.width_, &d.min_, &d.max_, &d.sum_, &d.sum_sq_})
    *v = in.get<double>();
  int64_t filled = in.get<int64_t>(), binned = 0;
  for (int64_t k = 0; k < filled; ++k) {
    int64_t i = in.get<int64_t>(), c = in.get<int64_t>();
    if (i < 0 || i >= d.bins() || c <= 0)
      throw std::invalid_argument("Distribution::from_bytes: bin " + std::to_string(i) + " count " +
                                  std::to_string(c) + " out of range");
    d.counts_[i] = c, binned += c;
  }
  if (!in.done() || binned != d.total_)
    throw std::invalid_argument("Distribution::from_bytes: the bytes do not hold one distribution");
  return d;
}

double Distribution::mean() const {
  return total_ ? sum_ / total_ : 0.0;
}

double Distribution::stddev() const {
  if (total_ < 2) return 0.0;
  double m = mean();
  return std::sqrt(std::max(0.0, sum_sq_ / total_ - m * m));
}

double Distribution::bin_mass(int64_t i) const {
  return total_ ? static_cast<double>(counts_[i]) / total_ : 0.0;
}

double Distribution::cdf(double x) const {
  if (total_ == 0) throw std::logic_error("Distribution::cdf: no data");
  if (x < lo_) return 0.0;
  if (x >= lo_ + bins() * width_) return 1.0;
  int64_t i = bin_of(x);
  int64_t below = 0;
  for (int64_t j = 0; j < i; ++j) below += counts_[j];
  double frac = (x - (lo_ + i * width_)) / width_;  // uniform within the bin
  return (below + frac * counts_[i]) / static_cast<double>(total_);
}

double Distribution::quantile(double p) const {
  if (total_ == 0) throw std::logic_error("Distribution::quantile: no data");
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument("Distribution::quantile: p must be in [0, 1]");
  if (p <= 0.0) return min_;
  if (p >= 1.0) return max_;
  double target = p * total_;
  double acc = 0.0;
  for (int64_t i = 0; i < bins(); ++i) {
    if (counts_[i] == 0) continue;
    if (acc + counts_[i] >= target) {
      double frac = (target - acc) / counts_[i];
      double x = lo_ + (i + frac) * width_;
      return std::clamp(x, min_, max_);
    }
    acc += counts_[i];
  }
  return max_;
}

void Distribution::save(H5Store& s, const std::string& group) const {
  Tensor c = Tensor::empty({bins()});
  for (int64_t i = 0; i < bins(); ++i) c.data()[i] = static_cast<float>(counts_[i]);
  // Counts up to 2^24 are exact in float32; larger ones keep 7 significant digits,
  // which is all a density needs.
  s.write_tensor(group + "/counts", c);
  s.write_attr(group + "/counts", "lo", lo_);
  s.write_attr(group + "/counts", "width", width_);
  s.write_attr(group + "/counts", "total", static_cast<double>(total_));
  s.write_attr(group + "/counts", "nonfinite", static_cast<double>(nonfinite_));
  s.write_attr(group + "/counts", "min", min_);
  s.write_attr(group + "/counts", "max", max_);
  s.write_attr(group + "/counts", "sum", sum_);
  s.write_attr(group + "/counts", "sum_sq", sum_sq_);
}

Distribution Distribution::load(const H5Store& s, const std::string& group) {
  std::string name = group + "/counts";
  Tensor c = s.read_tensor(name);
  if (c.ndim() != 1 || c.numel() < 2 || c.numel() % 2)
    throw std::runtime_error(s.path() + ": '" + name + "' must be a 1-D even-sized histogram");
  Distribution d(c.numel());
  int64_t sum = 0;
  for (int64_t i = 0; i < c.numel(); ++i) {
    float v = c.data()[i];
    if (!(v >= 0 && v <= 1e15f))  // NaN fails too; 1e15 keeps the sum far from overflow
      throw std::runtime_error(s.path() + ": '" + name +
                               "' holds a negative, huge or non-finite count");
    d.counts_[i] = static_cast<int64_t>(std::llround(v));
    sum += d.counts_[i];
  }
  d.lo_ = s.read_attr_double(name, "lo");
  d.width_ = s.read_attr_double(name, "width");
  d.total_ = sum;
  d.nonfinite_ = s.read_attr_int(name, "nonfinite", 0, int64_t{1} << 60);
  d.min_ = s.read_attr_double(name, "min");
  d.max_ = s.read_attr_double(name, "max");
  d.sum_ = s.read_attr_double(name, "sum");
  d.sum_sq_ = s.read_attr_double(name, "sum_sq");
  bool finite = std::isfinite(d.lo_) && std::isfinite(d.width_) && std::isfinite(d.min_) &&
                std::isfinite(d.max_) && std::isfinite(d.sum_) && std::isfinite(d.sum_sq_);
  if (!finite || !(d.width_ >= 0) || (sum > 0 && d.width_ == 0))
    throw std::runtime_error(s.path() + ": '" + name + "' has an invalid range");
  return d;
}

}  // namespace dapa
