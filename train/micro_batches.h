// A step's gradient over micro-batches (--micro-batches P; P = 1, the default, is the
// whole batch in one forward and backward): the loaded batch in P contiguous parts
// (Task::part_loss), each part's forward and backward alone, so only one part's
// activations are alive at a time. Part k's gradient (of its mean loss) is weighted by
// its share n_k / n of the batch's examples and the weighted gradients are summed part
// by part in order: the batch's mean gradient, up to rounding.
//
// Data-parallel training (mpirun -np K, train/comm.h) computes the same parts on K
// processes, rank r the P/K consecutive parts from r P / K. In the exact mode every
// rank receives every part's gradient and sums them in part order with the same
// function (add_part_gradient): the same bits as one process with --micro-batches P.
// The gradients leave during each part's backward (train/gradient_exchange.h).
// Memory: P gradients per rank; traffic: each rank sends its P/K part gradients to
// every other rank. The native mode sums a rank's own parts, then MPI_Allreduce sums
// the ranks (one gradient of memory and about 2 gradients of traffic per rank, in an
// order MPI chooses: not the same bits). Either way the parts' DAPA recordings (refit
// steps) are exchanged and pooled in part order, so every rank fits the same tables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/dapa_sites.h"
#include "nn/optim.h"
#include "train/trainer.h"

namespace dapa {

enum class Allreduce { Exact, Native };
// "exact" or "native"; throws std::invalid_argument naming --allreduce otherwise.
Allreduce parse_allreduce(const std::string& name);

// sum (first part: sum = weight * grad; with weight 1, grad itself) += weight * grad,
// elementwise. An undefined grad (the part did not reach the parameter) adds nothing.
void add_part_gradient(Tensor& sum, const Tensor& grad, float weight);

// Forward and backward of this process's parts of the `parts` parts of the loaded
// batch of `examples` examples (all of them on one process), combined across processes
// as above; leaves each parameter's grad as the weighted sum, and pools the sites'
// recordings part by part when they record in more than one part. Returns the batch's
// mean loss (the parts' losses weighted alike); a part whose loss is NaN or infinite
// stops the step on every rank: the first such loss is returned, gradients undefined.
// Seconds this process has spent in the steps' exchanges (waiting for the other ranks
// included) since it started: the communication share of a data-parallel step.
double exchange_seconds();

// The exact mode sends gradients during backward in messages of about bucket_floats
// floats per rank (train/gradient_exchange.h; --bucket-mb, RunOptions).
float micro_batch_backward(Task& task, Optimizer& opt, const Sites& sites, int64_t parts,
                           int64_t examples, Allreduce mode, int64_t bucket_floats);

}  // namespace dapa
