// Gradients over micro-batches and processes; see micro_batches.h.
#include "train/micro_batches.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "autograd/profile.h"
#include "core/bytes.h"
#include "train/comm.h"
#include "train/data_parallel.h"
#include "train/gradient_exchange.h"

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

// With an exchange (the exact mode across ranks) the gradients leave during backward and
// the part keeps none.
Part run_part(Task& task, Optimizer& opt, const Sites& sites, int64_t part, int64_t parts,
              bool take_records, GradientExchange* exchange) {
  Part p;
  opt.zero_grad();  // before the forward: the last step's gradients are not held through it
  Var loss = task.part_loss(part, parts, &p.examples);
  if (take_records) p.records = take_recordings(sites);
  if (p.examples == 0) return p;  // a short last batch with fewer rows than parts
  p.loss = loss.value().item();
  if (!std::isfinite(p.loss)) {
    clear_tape();
    return p;
  }
  if (exchange) {
    std::vector<const Var*> params;
    for (const ParamGroup& g : opt.groups()) params.push_back(g.param);
    backward(loss, params, [&](size_t i) {
      ExchangeTimer timer;
      exchange->gradient_done(i);
    });
    return p;
  }
  backward(loss);
  for (const ParamGroup& g : opt.groups()) p.grads.push_back(g.param->grad());
  return p;
}

// What the other ranks need of a part besides its gradients (GradientExchange's in the
// exact mode, the allreduced sum in the native one): examples, loss, each site's
// recording.
std::vector<char> part_bytes(const Part& p) {
  ByteWriter out;
  out.put(p.examples), out.put(p.loss);
  put_records(out, p.records);
  return std::move(out.bytes);
}

Part read_part(const std::vector<char>& bytes) {
  ByteReader in(bytes, "data-parallel step: a rank's part");
  Part p;
  p.examples = in.get<int64_t>(), p.loss = in.get<float>();
  p.records = get_records(in);
  return p;
}

// Every rank's parts, in part order: rank r sent its parts as one message of
// (size, bytes) pairs.
std::vector<std::vector<char>> exchange_parts(const std::vector<std::vector<char>>& mine) {
  ByteWriter message;
  for (const std::vector<char>& part : mine) message.put_bytes(part);
  std::vector<std::vector<char>> all;
  for (const std::vector<char>& from_rank :
       comm::allgather(message.bytes, "the step's losses and recordings")) {
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
                           int64_t examples, Allreduce mode, int64_t bucket_floats) {
  const std::vector<ParamGroup>& groups = opt.groups();
  const bool distributed = comm::size() > 1;
  const bool take_records = (parts > 1 || distributed) && sites_recording(sites);
  const int64_t first = first_part(parts, comm::rank());
  const int64_t local_parts = first_part(parts, comm::rank() + 1) - first;
  // The exact mode across ranks sends each part's gradients as backward finishes them;
  // otherwise this rank's parts are summed here (the native mode then allreduces).
  std::unique_ptr<GradientExchange> exchange;
  if (distributed && mode == Allreduce::Exact)
    exchange = std::make_unique<GradientExchange>(groups, local_parts, bucket_floats);
  std::vector<Tensor> sums(groups.size());
  std::vector<std::vector<char>> mine;  // this rank's parts for the others
  std::vector<Part> done;               // every part, in part order
  for (int64_t local = 0; local < local_parts; ++local) {
    if (exchange) exchange->begin_part(local);
    Part p = run_part(task, opt, sites, first + local, parts, take_records, exchange.get());
    if (exchange) exchange->end_part();
    if (!distributed && p.examples > 0 && !std::isfinite(p.loss)) return p.loss;
    const float share = static_cast<float>(static_cast<double>(p.examples) / examples);
    for (size_t i = 0; i < groups.size() && i < p.grads.size(); ++i)
      add_part_gradient(sums[i], p.grads[i], share);
    p.grads.clear();
    if (distributed) mine.push_back(part_bytes(p));
    if (!distributed) done.push_back(std::move(p));
  }
  if (distributed) {
    ExchangeTimer timer;
    for (const std::vector<char>& bytes : exchange_parts(mine)) done.push_back(read_part(bytes));
    comm::finish_exchanges();
  }
  double loss = 0;
  std::vector<std::vector<Distribution>> records;
  for (size_t k = 0; k < done.size(); ++k) {
    Part& p = done[k];
    records.push_back(std::move(p.records));
    if (p.examples == 0) continue;
    if (!std::isfinite(p.loss)) {
      opt.zero_grad();
      return p.loss;
    }
    const double share = static_cast<double>(p.examples) / static_cast<double>(examples);
    loss += share * p.loss;
    // Part k came from rank k / local_parts (every rank computes as many parts).
    if (exchange)
      for (size_t i = 0; i < groups.size(); ++i)
        add_part_gradient(sums[i],
                          exchange->gradient(static_cast<int>(k / local_parts), k % local_parts, i),
                          static_cast<float>(share));
  }
  if (distributed && !exchange) {
    ExchangeTimer timer;
    allreduce_gradients(sums, groups);
  }
  if (take_records) pool_recordings(sites, records);
  for (size_t i = 0; i < groups.size(); ++i) groups[i].param->grad() = std::move(sums[i]);
  return static_cast<float>(loss);
}

}  // namespace dapa
