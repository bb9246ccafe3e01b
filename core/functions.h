// The one registry of elementwise functions: GELU (erf and tanh forms), ReLU, SiLU, exp.
// An entry holds a function's name, its vectorised float kernels (value; value with
// derivative) and its double-precision reference (value, derivative). Everything else is
// derived from the table: the activations in nn/, the autograd op, DAPA's fit targets,
// CLI help and errors, and the generic op tests and PyTorch fixtures. Adding a function
// is one entry in functions.cpp and its PyTorch name in tests/golden/make_golden.py.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dapa {

// y = slope x + intercept.
struct Line {
  double slope, intercept;
};

struct ElementwiseFunction {
  std::string name;  // "gelu": CLI names, table files, fixture groups
  // Kernels over n contiguous floats. Elements are independent, so any split of a range
  // (threads) gives the same bits.
  void (*value)(const float* x, float* y, int64_t n);
  void (*value_and_derivative)(const float* x, float* y, float* dy, int64_t n);
  // The double-precision truth: DAPA fits to it, tests compare the kernels against it.
  double (*reference)(double x);
  double (*reference_derivative)(double x);
  std::vector<double> kinks;  // where the derivative jumps (ReLU: 0)
  // The kernels give the same bits on every CPU (plain arithmetic without contraction,
  // tests/golden/function_outputs.txt). A kernel built on, say, Eigen's vectorised tanh
  // would not: its NEON form rounds differently.
  bool portable_bits;
  // The line the function approaches far out on each side (GELU: 0 left, x right); PWL
  // tables use it beyond their range. None (exp on the right): tables stay flat there.
  std::optional<Line> left_asymptote, right_asymptote;
};

// An elementwise function on a run of contiguous floats, with no threads of its own:
// what a fused kernel calls from inside its parallel loop (attention_with_exp).
class RowFunction {
 public:
  virtual ~RowFunction() = default;
  virtual void value(const float* x, float* y, int64_t n) const = 0;
  virtual void value_and_derivative(const float* x, float* y, float* dy, int64_t n) const = 0;
};

// A registered function's kernels as a RowFunction.
class FunctionRows final : public RowFunction {
 public:
  explicit FunctionRows(const ElementwiseFunction& f) : f_(&f) {}
  void value(const float* x, float* y, int64_t n) const override { f_->value(x, y, n); }
  void value_and_derivative(const float* x, float* y, float* dy, int64_t n) const override {
    f_->value_and_derivative(x, y, dy, n);
  }

 private:
  const ElementwiseFunction* f_;
};

// A kernel object as a RowFunction, owning a share of it (a backward closure then keeps
// the table its forward ran): needs run_rows(const Kernel&, x, y, dy, n), dy null for
// values alone (dapa/kernel.h: TableRows; dapa/fixed_point.h: FixedRows).
template <class Kernel>
class KernelRows final : public RowFunction {
 public:
  explicit KernelRows(std::shared_ptr<const Kernel> k) : k_(std::move(k)) {}
  void value(const float* x, float* y, int64_t n) const override {
    run_rows(*k_, x, y, nullptr, n);
  }
  void value_and_derivative(const float* x, float* y, float* dy, int64_t n) const override {
    run_rows(*k_, x, y, dy, n);
  }

 private:
  std::shared_ptr<const Kernel> k_;
};

// Every registered function, in a fixed order.
const std::vector<ElementwiseFunction>& elementwise_functions();
// The function of that name; throws std::invalid_argument naming the known ones.
const ElementwiseFunction& find_function(const std::string& name);
// "gelu, gelu-tanh, relu, silu, exp": for help texts and errors.
std::string function_names();

// f(x) elementwise, any layout in, contiguous out; threaded when large.
Tensor apply(const ElementwiseFunction& f, const Tensor& x);
// f(x) and f'(x) in one pass, for backward passes that need both.
struct ValueAndDerivative {
  Tensor value, derivative;
};
ValueAndDerivative apply_with_derivative(const ElementwiseFunction& f, const Tensor& x);

// y = f(x) on a run of n values on this thread, block by block, each block's successor
// prefetched: for x that is not in cache (a layer's activations, formed long before).
void value_prefetched(const RowFunction& f, const float* x, float* y, int64_t n);

// x <- f(x) and, when g is defined, g <- g * f'(x), elementwise in one threaded pass
// through blocks that stay in L1: for a backward that needs f(x) as a matrix and f'(x)
// only as a factor of the gradient, neither becomes a tensor of its own. The bits are
// f's value_and_derivative and a float multiply, as unfused. x and g: contiguous, one shape.
void value_in_place_scaling_gradient(const RowFunction& f, Tensor& x, Tensor& g);
// The same on a run of n values on this thread (g null: values alone), for work inside
// another op's parallel region (a product's RowWork).
void value_in_place_scaling_gradient(const RowFunction& f, float* x, float* g, int64_t n);

}  // namespace dapa
