// What keeps the processes of a data-parallel run (train/comm.h) one model: the same
// parameters from the start, a cheap periodic check that they stay the same, and DAPA
// calibration in parts, pooled across processes as micro_batches.h pools refits.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bytes.h"
#include "nn/dapa_sites.h"
#include "nn/optim.h"
#include "train/trainer.h"

namespace dapa {

// The first of the parts of a batch in `parts` parts that `rank` computes: rank r
// computes parts first_part(parts, r) to first_part(parts, r + 1) - 1.
int64_t first_part(int64_t parts, int rank);

// Rank 0's parameter values on every rank.
void broadcast_parameters(const std::vector<ParamGroup>& groups);

// A 64-bit hash of the parameters' bits (FNV-1a).
uint64_t parameter_hash(const std::vector<ParamGroup>& groups);
// Throws std::runtime_error naming the step and the ranks' hashes when the ranks'
// parameters differ (a rank diverged: another binary, CPU or data file).
void check_replicas_agree(const std::vector<ParamGroup>& groups, int64_t step);

// Calibration in parts: runs this process's parts of the `parts` parts of the loaded
// batch forward (the whole batch, recorded as one, when there is one part on one
// process), appending each part's recordings to `records`.
void record_batch_parts(Task& task, const Sites& sites, int64_t parts,
                        std::vector<std::vector<Distribution>>& records);
// After `batches` batches: each site's distribution as the merge, in (batch, part)
// order, of every process's recordings.
void pool_batch_parts(const Sites& sites, const std::vector<std::vector<Distribution>>& records,
                      int64_t batches, int64_t parts);

// Recordings (one distribution per site) in a message.
void put_records(ByteWriter& out, const std::vector<Distribution>& records);
std::vector<Distribution> get_records(ByteReader& in);

}  // namespace dapa
