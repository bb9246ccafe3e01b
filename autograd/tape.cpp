// The tape and the backward pass; see variable.h.
#include <stdexcept>
#include <unordered_map>

#include "autograd/profile.h"
#include "autograd/variable.h"
#include "core/kernels.h"

namespace dapa {

namespace {
struct Node {
  const char* op;
  std::vector<std::shared_ptr<Var::Slot>> inputs;
  std::vector<Shape> input_shapes;
  std::shared_ptr<Var::Slot> output;
  BackwardFn backward;
};

thread_local std::vector<Node> tape;
thread_local bool enabled = true;

void accumulate(Var::Slot& v, const Shape& shape, Tensor g, const char* op) {
  if (g.shape() != shape)
    shape_error(std::string("backward of ") + op, shape, g.shape(),
                "gradient shape differs from its input's");
  if (!v.grad.defined()) {
    // Take ownership only of storage no one else holds: a backward may return the same
    // tensor for two inputs (add), and later accumulation updates grads in place.
    v.grad = g.unique_storage() && g.is_contiguous() ? std::move(g) : g.clone();
  } else {
    add_inplace(v.grad, g);
  }
}
}  // namespace

Var::Var(Tensor value, bool requires_grad)
    : value_(std::move(value)), slot_(std::make_shared<Slot>()) {
  slot_->requires_grad = requires_grad;
}

Var record(const char* op, Tensor out, std::vector<Var> inputs, BackwardFn backward) {
  if (profiling()) {
    std::vector<Shape> shapes;
    for (const Var& v : inputs) shapes.push_back(v.shape());
    profile_forward(op, shapes, out.shape());
  }
  bool needs_grad = false;
  if (enabled)
    for (const Var& v : inputs) needs_grad = needs_grad || v.requires_grad();
  Var y(std::move(out), needs_grad);
  if (needs_grad) {
    Node node{op, {}, {}, y.slot(), std::move(backward)};
    for (const Var& v : inputs) {
      node.inputs.push_back(v.slot());
      node.input_shapes.push_back(v.shape());
    }
    tape.push_back(std::move(node));
  }
  return y;
}

namespace {
// The seed of a one-element root: 1.
Tensor unit_seed(const Var& root) {
  if (!root.defined() || root.value().numel() != 1)
    throw std::invalid_argument("backward: root must have one element (got shape " +
                                shape_str(root.defined() ? root.shape() : Shape{}) +
                                "); pass a seed gradient for other shapes");
  return Tensor::ones(root.shape());
}

// The reverse walk. done_at[n] lists the watched leaves whose last contribution comes
// from node n (their first use on the tape): leaf_done reports them once n is through.
void walk(const Var& root, const Tensor& seed, const std::vector<std::vector<size_t>>& done_at,
          const std::function<void(size_t)>& leaf_done) {
  if (!root.requires_grad())
    throw std::invalid_argument(
        "backward: the root does not depend on anything that requires grad");
  accumulate(*root.slot(), root.shape(), seed, "root");
  for (size_t n = tape.size(); n-- > 0;) {
    Node& node = tape[n];
    if (node.output->grad.defined()) {  // else not on a path from the root
      const double start = profiling() ? profile_clock() : 0;
      Needs needs(node.inputs.size());
      for (size_t i = 0; i < needs.size(); ++i) needs[i] = node.inputs[i]->requires_grad;
      Grads grads = node.backward(node.output->grad, needs);
      node.backward = nullptr;       // its saved tensors are not needed any more
      node.output->grad = Tensor();  // intermediate gradient consumed: free it now
      for (size_t i = 0; i < needs.size(); ++i)
        if (needs[i] && i < grads.size() && grads[i].defined())
          accumulate(*node.inputs[i], node.input_shapes[i], std::move(grads[i]), node.op);
      if (profiling()) profile_backward(node.op, profile_clock() - start);
    }
    if (!done_at.empty())
      for (size_t leaf : done_at[n]) leaf_done(leaf);
  }
  tape.clear();
  if (profiling()) profile_mark();
}
}  // namespace

void backward(const Var& root) {
  walk(root, unit_seed(root), {}, nullptr);
}

void backward(const Var& root, const Tensor& seed) {
  walk(root, seed, {}, nullptr);
}

void backward(const Var& root, const std::vector<const Var*>& watched,
              const std::function<void(size_t)>& leaf_done) {
  std::unordered_map<const Var::Slot*, size_t> index;
  for (size_t i = 0; i < watched.size(); ++i) index.emplace(watched[i]->slot().get(), i);
  // Nodes come in creation order, so a leaf's first use is the last one backward meets.
  std::vector<std::vector<size_t>> done_at(tape.size());
  std::vector<bool> seen(watched.size(), false);
  for (size_t n = 0; n < tape.size(); ++n)
    for (const std::shared_ptr<Var::Slot>& input : tape[n].inputs) {
      auto it = index.find(input.get());
      if (it != index.end() && !seen[it->second]) {
        seen[it->second] = true;
        done_at[n].push_back(it->second);
      }
    }
  walk(root, unit_seed(root), done_at, leaf_done);
}

void clear_tape() {
  tape.clear();
}
size_t tape_size() {
  return tape.size();
}

bool grad_enabled() {
  return enabled;
}
NoGradGuard::NoGradGuard() : previous_(enabled) {
  enabled = false;
}
NoGradGuard::~NoGradGuard() {
  enabled = previous_;
}

}  // namespace dapa
