// Reverse-mode autograd on a tape, small enough to read in one sitting.
//
// A Var is a tensor in the graph: a value, and a slot for the gradient filled in by
// backward() (copies of a Var share the slot). Each differentiable op (ops.cpp) computes its
// forward on Tensors, then record()s a node: its inputs, its output and its hand-written backward.
// Nodes are appended to a thread-local tape in creation order, which is a topological
// order, so backward() just walks the tape in reverse. Gradients accumulate into
// Var::grad; intermediate gradients and every saved tensor are released when the tape is.
// Nodes hold gradient slots, not values, so activations live only where saved.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace dapa {

class Var {
 public:
  // What the tape keeps of a Var: its gradient, not its value. A value lives only as
  // long as some Var handle or some backward closure that saved it.
  struct Slot {
    Tensor grad;  // undefined until a backward pass reaches this Var
    bool requires_grad = false;
  };

  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);

  bool defined() const { return slot_ != nullptr; }
  const Tensor& value() const { return value_; }
  Tensor& value() { return value_; }
  const Tensor& grad() const { return slot_->grad; }
  Tensor& grad() { return slot_->grad; }
  bool requires_grad() const { return slot_ && slot_->requires_grad; }
  const Shape& shape() const { return value_.shape(); }
  void zero_grad() { slot_->grad = Tensor(); }
  const std::shared_ptr<Slot>& slot() const { return slot_; }

 private:
  Tensor value_;
  std::shared_ptr<Slot> slot_;
};

// A backward function gets dL/d(output) and which inputs need a gradient, and returns
// dL/d(input) for each input (an undefined Tensor where not needed).
using Needs = std::vector<bool>;
using Grads = std::vector<Tensor>;
using BackwardFn = std::function<Grads(const Tensor& grad_out, const Needs& needs)>;

// Wraps an op's forward result; records a node when grad mode is on and any input
// requires a gradient, otherwise returns a constant.
Var record(const char* op, Tensor out, std::vector<Var> inputs, BackwardFn backward);

// Backpropagates from a one-element root (seed 1), or from any root with an explicit
// seed gradient of its shape. Releases the tape afterwards.
void backward(const Var& root);
void backward(const Var& root, const Tensor& seed);
// backward(root), calling leaf_done(i) as soon as watched[i]'s gradient is final (after
// the last node that adds to it), while the rest of the tape is still to go: a
// data-parallel step starts sending a layer's gradients then. Leaves the root does not
// reach are reported too (their gradient stays undefined); leaves on no node are not.
void backward(const Var& root, const std::vector<const Var*>& watched,
              const std::function<void(size_t)>& leaf_done);

// Drops every recorded node without backpropagating (e.g. after an aborted step).
void clear_tape();
size_t tape_size();

bool grad_enabled();
// Evaluation scope: ops record nothing while one is alive.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace dapa
