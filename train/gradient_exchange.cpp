// Gradients sent bucket by bucket during backward; see gradient_exchange.h.
#include "train/gradient_exchange.h"

#include <algorithm>
#include <cstring>

#include "train/comm.h"

namespace dapa {

GradientExchange::GradientExchange(const std::vector<ParamGroup>& groups, int64_t local_parts,
                                   int64_t bucket_floats)
    : groups_(groups), slots_(groups.size()) {
  for (size_t i = groups.size(); i-- > 0;) {
    if (buckets_.empty() || bucket_floats_.back() >= bucket_floats) {
      buckets_.emplace_back();
      bucket_floats_.push_back(0);
    }
    const auto bucket = static_cast<int64_t>(buckets_.size()) - 1;
    slots_[i] = {bucket, bucket_floats_.back()};
    buckets_.back().push_back(i);
    bucket_floats_.back() += 1 + groups[i].param->value().numel();
  }
  for (int64_t local = 0; local < local_parts; ++local) {
    sent_.emplace_back(), received_.emplace_back();
    for (int64_t floats : bucket_floats_) {
      sent_.back().push_back(Tensor::empty({floats}));
      received_.back().push_back(Tensor::empty({floats * comm::size()}));
    }
  }
  waiting_.resize(buckets_.size());
}

void GradientExchange::begin_part(int64_t local) {
  part_ = local;
  next_bucket_ = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) waiting_[b] = static_cast<int>(buckets_[b].size());
  for (const Slot& slot : slots_) sent_[part_][slot.bucket].data()[slot.offset] = 0.0f;
}

void GradientExchange::gradient_done(size_t param) {
  const Slot& slot = slots_[param];
  const Tensor& grad = groups_[param].param->grad();
  if (grad.defined()) {
    float* at = sent_[part_][slot.bucket].data() + slot.offset;
    at[0] = 1.0f;
    const Tensor c = grad.contiguous();
    std::memcpy(at + 1, c.data(), static_cast<size_t>(c.numel()) * sizeof(float));
  }
  --waiting_[slot.bucket];
  send_ready();
  comm::progress();
}

void GradientExchange::end_part() {
  std::fill(waiting_.begin(), waiting_.end(), 0);
  send_ready();
}

void GradientExchange::send_ready() {
  for (; next_bucket_ < buckets_.size() && waiting_[next_bucket_] == 0; ++next_bucket_)
    comm::start_allgather(sent_[part_][next_bucket_].data(), bucket_floats_[next_bucket_],
                          received_[part_][next_bucket_].data(), "the step's gradients");
}

Tensor GradientExchange::gradient(int rank, int64_t local, size_t param) const {
  const Slot& slot = slots_[param];
  const Tensor& message = received_[local][slot.bucket];
  const int64_t at = rank * bucket_floats_[slot.bucket] + slot.offset;
  if (message.data()[at] == 0.0f) return Tensor();
  const Tensor& value = groups_[param].param->value();
  return message.slice(0, at + 1, at + 1 + value.numel()).reshape(value.shape());
}

}  // namespace dapa
