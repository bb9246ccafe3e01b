// Checkpoints; see checkpoint.h.
#include "nn/checkpoint.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "core/h5.h"

namespace dapa {

namespace {
constexpr int64_t kFormatVersion = 1;
constexpr int64_t kMaxSteps = int64_t{1} << 50;

std::vector<uint8_t> rng_bytes(const Rng::State& s) {
  std::vector<uint8_t> out(32);
  for (int w = 0; w < 4; ++w)
    for (int b = 0; b < 8; ++b) out[w * 8 + b] = static_cast<uint8_t>(s[w] >> (8 * b));
  return out;
}

Rng::State rng_state(const std::vector<uint8_t>& bytes) {
  Rng::State s{};
  for (int w = 0; w < 4; ++w)
    for (int b = 0; b < 8; ++b) s[w] |= static_cast<uint64_t>(bytes[w * 8 + b]) << (8 * b);
  return s;
}

CheckpointMeta read_meta(const H5Store& s) {
  if (!s.has_attr("/", "format_version") || !s.exists("model"))
    throw std::runtime_error(s.path() + ": not a checkpoint (no /model or format_version)");
  int64_t version = s.read_attr_int("/", "format_version", 0, 1000);
  if (version != kFormatVersion)
    throw std::runtime_error(s.path() + ": checkpoint format " + std::to_string(version) +
                             " is not supported (expected " + std::to_string(kFormatVersion) + ")");
  CheckpointMeta m;
  m.step = s.read_attr_int("/", "step", 0, kMaxSteps);
  m.epoch = s.read_attr_int("/", "epoch", 0, kMaxSteps);
  m.model = s.read_attr_string("/", "model");
  m.config = s.read_attr_string("/", "config");
  Shape shape;
  std::vector<uint8_t> bytes = s.read_bytes("rng", &shape);
  if (bytes.size() != 32) throw std::runtime_error(s.path() + ": /rng must hold 32 bytes");
  m.rng = rng_state(bytes);
  return m;
}

Tensor read_checked(const H5Store& s, const std::string& name, const Shape& expect) {
  if (!s.exists(name))
    throw std::runtime_error(s.path() + ": missing '" + name +
                             "' (checkpoint from another model configuration?)");
  Shape shape = s.dataset_shape(name);  // checked before reading anything
  if (shape != expect)
    throw std::runtime_error(s.path() + ": '" + name + "' has shape " + shape_str(shape) +
                             " but the model expects " + shape_str(expect) +
                             " (checkpoint from another model configuration?)");
  Tensor t = s.read_tensor(name);
  const float* v = t.data();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(v[i]))
      throw std::runtime_error(s.path() + ": '" + name + "' holds a non-finite value (NaN or " +
                               "infinity) at index " + std::to_string(i) +
                               "; the checkpoint is unusable");
  return t;
}
}  // namespace

void save_checkpoint(const std::string& path, Module& model, Optimizer* optimizer,
                     const CheckpointMeta& meta, const std::function<void(H5Store&)>& extra) {
  write_h5_atomically(path, [&](H5Store& s) {
    if (extra) extra(s);
    for (auto& [name, p] : model.named_parameters()) s.write_tensor("model/" + name, p->value());
    if (optimizer) {
      for (auto& [buffer, tensors] : optimizer->state_buffers())
        for (size_t i = 0; i < tensors->size(); ++i)
          s.write_tensor("optimizer/" + buffer + "/" + optimizer->groups()[i].name, (*tensors)[i]);
      s.write_attr("/", "optimizer_steps", static_cast<double>(optimizer->steps()));
    }
    s.write_bytes("rng", rng_bytes(meta.rng), {32});
    s.write_attr("/", "format_version", static_cast<double>(kFormatVersion));
    s.write_attr("/", "step", static_cast<double>(meta.step));
    s.write_attr("/", "epoch", static_cast<double>(meta.epoch));
    s.write_attr("/", "model", meta.model);
    s.write_attr("/", "config", meta.config);
  });
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  try {
    return read_meta(H5Store(path, H5Store::Mode::Read));
  } catch (const H5Error& e) {
    throw std::runtime_error(e.what());
  }
}

CheckpointMeta load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer) {
  try {
    H5Store s(path, H5Store::Mode::Read);
    CheckpointMeta meta = read_meta(s);
    // Read and check everything first, then copy: a bad file changes nothing.
    std::vector<std::pair<Var*, Tensor>> weights;
    for (auto& [name, p] : model.named_parameters())
      weights.emplace_back(p, read_checked(s, "model/" + name, p->shape()));
    std::vector<std::pair<Tensor*, Tensor>> state;
    if (optimizer) {
      if (!s.exists("optimizer"))
        throw std::runtime_error(path + ": holds no optimiser state (cannot resume from it)");
      for (auto& [buffer, tensors] : optimizer->state_buffers())
        for (size_t i = 0; i < tensors->size(); ++i)
          state.emplace_back(
              &(*tensors)[i],
              read_checked(s, "optimizer/" + buffer + "/" + optimizer->groups()[i].name,
                           (*tensors)[i].shape()));
    }
    for (auto& [p, t] : weights) p->value().copy_from(t);
    for (auto& [dst, t] : state) dst->copy_from(t);
    if (optimizer) optimizer->set_steps(s.read_attr_int("/", "optimizer_steps", 0, kMaxSteps));
    return meta;
  } catch (const H5Error& e) {
    throw std::runtime_error(e.what());
  }
}

}  // namespace dapa
