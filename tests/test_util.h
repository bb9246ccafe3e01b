// Shared test helpers: tensor comparison with a relative tolerance, the path of the
// committed golden fixtures, and the message a call throws.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/tensor.h"

namespace dapa::test {

// The message of the E that f() throws, or "" when it throws none (any other exception
// propagates and fails the test).
template <class E = std::exception, class F>
std::string thrown_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

inline std::string golden_path(const std::string& file) {
  return std::string(DAPA_GOLDEN_DIR) + "/" + file;
}

// |a - b| <= rtol * |b| + atol, with atol = rtol * max(1, max |b|) * 0.1 so that
// elements near zero in a large-valued tensor are judged on the tensor's scale.
inline ::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected,
                                                double rtol = 1e-4) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure()
           << "shape " << shape_str(actual.shape()) << " != " << shape_str(expected.shape());
  std::vector<float> a = actual.to_vector(), b = expected.to_vector();
  double scale = 1.0;
  for (float v : b) scale = std::max(scale, std::abs(static_cast<double>(v)));
  double atol = 0.1 * rtol * scale;
  for (size_t i = 0; i < a.size(); ++i) {
    double diff = std::abs(static_cast<double>(a[i]) - b[i]);
    if (!(diff <= atol + rtol * std::abs(static_cast<double>(b[i]))))
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs expected "
                                           << b[i] << " (diff " << diff << ")";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace dapa::test
