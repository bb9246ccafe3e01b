// The exact mode's gradient exchange (micro_batches.h), overlapped with backward. Each
// of this rank's parts sends its gradients in buckets of consecutive parameters, taken in
// the reverse of the parameter order (about the order backward finishes them); a bucket
// leaves as soon as backward has finished all of its parameters (backward's leaf_done),
// while the layers below are still being differentiated. Buckets leave in bucket order on
// every rank, whatever order backward finishes them in, so the ranks' collectives match.
//
// Memory: a part's gradient once to send and once per rank received, as the exchange of
// whole gradients needs. Traffic: the same, in messages of about a bucket per
// rank (--bucket-mb).
#pragma once

#include <cstdint>
#include <vector>

#include "nn/optim.h"

namespace dapa {

class GradientExchange {
 public:
  // For `local_parts` parts per rank, every rank the same number. A bucket is closed
  // once it holds bucket_floats floats: large enough that a message's fixed cost does
  // not matter, small enough that the first one leaves early (--bucket-mb).
  GradientExchange(const std::vector<ParamGroup>& groups, int64_t local_parts,
                   int64_t bucket_floats);

  // Part `local` (0 to local_parts - 1 in order) begins: its gradients go into fresh
  // buckets.
  void begin_part(int64_t local);
  // Parameter `param`'s gradient is final for this part (backward's leaf_done): sends
  // every bucket that is complete now, in order.
  void gradient_done(size_t param);
  // The part's backward is through (or there was none: a part with no examples or a
  // non-finite loss): sends the buckets still waiting.
  void end_part();

  // After comm::finish_exchanges(): rank `rank`'s part `local`'s gradient of parameter
  // `param` (a view of the received message), undefined where that part had none.
  Tensor gradient(int rank, int64_t local, size_t param) const;

 private:
  struct Slot {              // where a parameter's gradient lies in its bucket's message
    int64_t bucket, offset;  // a flag float (1: defined) at offset, the floats after it
  };
  void send_ready();

  const std::vector<ParamGroup>& groups_;
  std::vector<Slot> slots_;                           // by parameter
  std::vector<std::vector<size_t>> buckets_;          // parameters per bucket
  std::vector<int64_t> bucket_floats_;                // message floats per rank
  std::vector<std::vector<Tensor>> sent_, received_;  // [local part][bucket]
  std::vector<int> waiting_;                          // parameters of each bucket not yet final
  int64_t part_ = -1;
  size_t next_bucket_ = 0;  // the first bucket of the current part not yet sent
};

}  // namespace dapa
