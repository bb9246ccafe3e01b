// HDF5 checkpoints, readable with h5py:
//   /model/<state_dict name>              parameters, PyTorch names and shapes
//   /optimizer/<buffer>/<name>            optimiser state (AdamW: m, v; SGD: velocity)
//   root attributes: format_version, step, epoch, optimizer_steps, model, config (JSON)
//   /rng                                  the RNG state (32 bytes)
// Written atomically (temporary file, then rename): a kill at any moment leaves the
// previous checkpoint intact.
#pragma once

#include <functional>
#include <string>

#include "core/h5.h"
#include "core/rng.h"
#include "nn/module.h"
#include "nn/optim.h"

namespace dapa {

struct CheckpointMeta {
  int64_t step = 0;   // optimiser steps done
  int64_t epoch = 0;  // epoch the next step belongs to
  Rng::State rng{};
  std::string model;   // e.g. vit-nano
  std::string config;  // the run's configuration as JSON
};

// `extra` may add more groups to the file before it is renamed into place (train_vit
// puts the DAPA tables under /dapa), so that they are replaced atomically with the rest.
void save_checkpoint(const std::string& path, Module& model, Optimizer* optimizer,
                     const CheckpointMeta& meta,
                     const std::function<void(H5Store&)>& extra = nullptr);

// Loads weights (and optimiser state when `optimizer` is given) after checking that
// every parameter is present with the model's shape; on any mismatch throws
// std::runtime_error naming the file and the parameter, and changes nothing.
CheckpointMeta load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer);

// Just the metadata (to rebuild the model a checkpoint was made with).
CheckpointMeta read_checkpoint_meta(const std::string& path);

}  // namespace dapa
