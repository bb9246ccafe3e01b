// Gradients over micro-batches and processes; see micro_batches.h.
#include "train/micro_batches.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "autograd/profile.h"
#include "core/bytes.h"
#include "train/comm.h"
#include "train/data_parallel.h"

namespace dapa {

Allreduce parse_allreduce(const std::string& name) {
  if (name == "exact") return Allreduce::Exact;
  if (name == "native") return Allreduce::Native;
  throw std::invalid_argument("--allreduce: unknown '" + name + "' (expected exact or native)");
}

void add_part_gradient(Tensor& sum, const Tensor& grad, float weight) {
  if (!grad.defined()) return;
  if (!sum.defined() && weight == 1.0f) {  // a whole batch: 1 * grad is grad, no copy
    sum = grad;
    return;
  }
  if (!sum.defined()) {
    sum = Tensor::empty(grad.shape());
    sum.array() = grad.array() * weight;
    return;
  }
  sum.array() += grad.array() * weight;
}

namespace {

double g_exchange_seconds = 0;

// Adds the scope's time to g_exchange_seconds, and to the op profile.
class ExchangeTimer {
 public:
  ExchangeTimer() : profile_("gradient exchange"), start_(std::chrono::steady_clock::now()) {}
  ~ExchangeTimer() {
    g_exchange_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  ProfileScope profile_;
  std::chrono::steady_clock::time_point start_;
};

// One part's forward and backward on this process.
struct Part {
  int64_t examples = 0;
  float loss = 0;
  std::vector<Tensor> grads;          // one per parameter (undefined: not reached)
  std::vector<Distribution> records;  // one per site, when recordings are taken
};

Part run_part(Task& task, Optimizer& opt, const Sites& sites, int64_t part, int64_t parts,
              bool take_records) {
  Part p;
  Var loss = task.part_loss(part, parts, &p.examples);
  if (take_records) p.records = take_recordings(sites);
  if (p.examples == 0) return p;  // a short last batch with fewer rows than parts
  p.loss = loss.value().item();
  opt.zero_grad();
  if (!std::isfinite(p.loss)) {
    clear_tape();
    return p;
  }
  backward(loss);
  for (const ParamGroup& g : opt.groups()) p.grads.push_back(g.param->grad());
  return p;
}

// A part as bytes for the other ranks: examples, loss, each site's recording, and (the
// exact mode) each parameter's gradient, a defined flag and its floats.
std::vector<char> part_bytes(const Part& p, bool with_grads) {
  ByteWriter out;
  out.put(p.examples), out.put(p.loss);
  put_records(out, p.records);
  out.put(static_cast<int64_t>(with_grads ? p.grads.size() : 0));
  if (with_grads)
    for (const Tensor& g : p.grads) {
      out.put(static_cast<char>(g.defined()));
      if (!g.defined()) continue;
      Tensor c = g.contiguous();
      out.put_raw(c.data(), c.numel() * sizeof(float));
    }
  return std::move(out.bytes);
}

Part read_part(const std::vector<char>& bytes, const std::vector<ParamGroup>& groups) {
  ByteReader in(bytes, "data-parallel step: a rank's part");
  Part p;
  p.examples = in.get<int64_t>(), p.loss = in.get<float>();
  p.records = get_records(in);
  const auto grads = in.get<int64_t>();
  if (grads != 0 && grads != static_cast<int64_t>(groups.size()))
    throw std::runtime_error("data-parallel step: a rank sent " + std::to_string(grads) +
                             " gradients for " + std::to_string(groups.size()) + " parameters");
  for (int64_t i = 0; i < grads; ++i) {
    if (!in.get<char>()) {
      p.grads.emplace_back();
      continue;
    }
    Tensor g = Tensor::empty(groups[i].param->value().shape());
    std::memcpy(g.data(), in.need(g.numel() * sizeof(float)), g.numel() * sizeof(float));
    p.grads.push_back(std::move(g));
  }
  return p;
}

// Every rank's parts, in part order: rank r sent its parts as one message of
// (size, bytes) pairs.
std::vector<std::vector<char>> exchange_parts(const std::vector<std::vector<char>>& mine) {
  ByteWriter message;
  for (const std::vector<char>& part : mine) message.put_bytes(part);
  std::vector<std::vector<char>> all;
  for (const std::vector<char>& from_rank :
       comm::allgather(message.bytes, "the step's gradients")) {
    ByteReader in(from_rank, "data-parallel step: a rank's parts");
    while (!in.done()) all.push_back(in.get_bytes());
  }
  return all;
}

// The ranks' gradient sums summed by MPI (the native mode); a parameter keeps no
// gradient when no rank has one.
void allreduce_gradients(std::vector<Tensor>& sums, const std::vector<ParamGroup>& groups) {
  int64_t total = 0;
  for (const ParamGroup& g : groups) total += g.param->value().numel() + 1;
  std::vector<float> flat(static_cast<size_t>(total), 0.0f);
  float* at = flat.data();
  for (size_t i = 0; i < groups.size(); ++i) {
    const int64_t n = groups[i].param->value().numel();
    at[0] = sums[i].defined() ? 1.0f : 0.0f;
    if (sums[i].defined()) std::memcpy(at + 1, sums[i].contiguous().data(), n * sizeof(float));
    at += n + 1;
  }
  comm::allreduce_sum(flat.data(), total, "the step's gradients");
  at = flat.data();
  for (size_t i = 0; i < groups.size(); ++i) {
    const int64_t n = groups[i].param->value().numel();
    sums[i] = Tensor();
    if (at[0] > 0) {
      sums[i] = Tensor::empty(groups[i].param->value().shape());
      std::memcpy(sums[i].data(), at + 1, n * sizeof(float));
    }
    at += n + 1;
  }
}

}  // namespace

double exchange_seconds() {
  return g_exchange_seconds;
}

float micro_batch_backward(Task& task, Optimizer& opt, const Sites& sites, int64_t parts,
                           int64_t examples, Allreduce mode) {
  const std::vector<ParamGroup>& groups = opt.groups();
  const bool distributed = comm::size() > 1;
  const bool take_records = (parts > 1 || distributed) && sites_recording(sites);
  const bool exact = !distributed || mode == Allreduce::Exact;
  const int64_t first = first_part(parts, comm::rank());
  const int64_t last = first_part(parts, comm::rank() + 1);
  std::vector<Tensor> sums(groups.size());
  // This rank's parts: summed now on one process (and in the native mode), kept for the
  // other ranks in the exact mode.
  std::vector<std::vector<char>> mine;
  std::vector<Part> done;
  for (int64_t part = first; part < last; ++part) {
    Part p = run_part(task, opt, sites, part, parts, take_records);
    if (!distributed && p.examples > 0 && !std::isfinite(p.loss)) return p.loss;
    const float share = static_cast<float>(static_cast<double>(p.examples) / examples);
    if (!exact || !distributed)
      for (size_t i = 0; i < groups.size() && i < p.grads.size(); ++i)
        add_part_gradient(sums[i], p.grads[i], share);
    if (distributed) {
      mine.push_back(part_bytes(p, exact));
    } else {
      p.grads.clear();
      done.push_back(std::move(p));
    }
  }
  if (distributed) {
    ExchangeTimer timer;
    done.clear();
    for (const std::vector<char>& bytes : exchange_parts(mine))
      done.push_back(read_part(bytes, groups));
  }
  double loss = 0;
  std::vector<std::vector<Distribution>> records;
  for (Part& p : done) {
    records.push_back(std::move(p.records));
    if (p.examples == 0) continue;
    if (!std::isfinite(p.loss)) {
      opt.zero_grad();
      return p.loss;
    }
    const double share = static_cast<double>(p.examples) / static_cast<double>(examples);
    loss += share * p.loss;
    if (distributed && exact)
      for (size_t i = 0; i < groups.size() && i < p.grads.size(); ++i)
        add_part_gradient(sums[i], p.grads[i], static_cast<float>(share));
  }
  if (distributed && !exact) {
    ExchangeTimer timer;
    allreduce_gradients(sums, groups);
  }
  if (take_records) pool_recordings(sites, records);
  for (size_t i = 0; i < groups.size(); ++i) groups[i].param->grad() = std::move(sums[i]);
  return static_cast<float>(loss);
}

}  // namespace dapa
