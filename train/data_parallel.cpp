// Keeping a data-parallel run's processes one model; see data_parallel.h.
#include "train/data_parallel.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "autograd/variable.h"
#include "train/comm.h"

namespace dapa {

int64_t first_part(int64_t parts, int rank) {
  return parts * rank / comm::size();
}

void broadcast_parameters(const std::vector<ParamGroup>& groups) {
  if (comm::size() == 1) return;
  ByteWriter out;
  for (const ParamGroup& g : groups) {
    Tensor v = g.param->value().contiguous();
    out.put_raw(v.data(), v.numel() * sizeof(float));
  }
  comm::broadcast(out.bytes, "the parameters");
  ByteReader in(out.bytes, "rank 0's parameters");
  for (const ParamGroup& g : groups) {
    Tensor& v = g.param->value();
    if (!v.is_contiguous())
      throw std::logic_error("broadcast_parameters: parameter " + g.name + " is not contiguous");
    std::memcpy(v.data(), in.need(v.numel() * sizeof(float)), v.numel() * sizeof(float));
  }
}

uint64_t parameter_hash(const std::vector<ParamGroup>& groups) {
  uint64_t h = 1469598103934665603ull;
  for (const ParamGroup& g : groups) {
    Tensor v = g.param->value().contiguous();
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    for (size_t i = 0, n = v.numel() * sizeof(float); i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

void check_replicas_agree(const std::vector<ParamGroup>& groups, int64_t step) {
  if (comm::size() == 1) return;
  ByteWriter mine;
  mine.put(parameter_hash(groups));
  std::vector<std::vector<char>> all = comm::allgather(mine.bytes, "the parameter hashes");
  std::string hashes;
  bool differ = false;
  for (size_t r = 0; r < all.size(); ++r) {
    const auto h = ByteReader(all[r], "a rank's parameter hash").get<uint64_t>();
    char text[48];
    std::snprintf(text, sizeof text, "%srank %zu %016llx", r ? ", " : "", r,
                  static_cast<unsigned long long>(h));
    hashes += text;
    differ = differ || all[r] != all[0];
  }
  if (differ)
    throw std::runtime_error("the ranks' parameters differ after step " + std::to_string(step) +
                             " (" + hashes +
                             "): every rank must run the same binary on the same data file");
}

void put_records(ByteWriter& out, const std::vector<Distribution>& records) {
  out.put(static_cast<int64_t>(records.size()));
  for (const Distribution& d : records) out.put_bytes(d.to_bytes());
}

std::vector<Distribution> get_records(ByteReader& in) {
  std::vector<Distribution> records;
  for (auto i = in.get<int64_t>(); i > 0; --i) {
    std::vector<char> bytes = in.get_bytes();
    records.push_back(Distribution::from_bytes(bytes.data(), bytes.size()));
  }
  return records;
}

void record_batch_parts(Task& task, const Sites& sites, int64_t parts,
                        std::vector<std::vector<Distribution>>& records) {
  if (parts == 1 && comm::size() == 1) {  // the whole batch, recorded as it always was
    task.loss();
    return;
  }
  for (int64_t part = first_part(parts, comm::rank()); part < first_part(parts, comm::rank() + 1);
       ++part) {
    int64_t examples = 0;
    task.part_loss(part, parts, &examples);
    records.push_back(take_recordings(sites));
  }
}

void pool_batch_parts(const Sites& sites, const std::vector<std::vector<Distribution>>& records,
                      int64_t batches, int64_t parts) {
  if (parts == 1 && comm::size() == 1) return;
  ByteWriter mine;
  for (const std::vector<Distribution>& r : records) put_records(mine, r);
  std::vector<std::vector<std::vector<Distribution>>> by_rank;  // [rank][batch * its parts]
  for (const std::vector<char>& bytes : comm::allgather(mine.bytes, "the DAPA calibration")) {
    ByteReader in(bytes, "a rank's DAPA calibration");
    by_rank.emplace_back();
    while (!in.done()) by_rank.back().push_back(get_records(in));
  }
  std::vector<std::vector<Distribution>> ordered;  // [batch * parts + part]
  for (int64_t b = 0; b < batches; ++b)
    for (size_t r = 0; r < by_rank.size(); ++r) {
      const auto held = static_cast<int64_t>(by_rank[r].size()) / batches;
      for (int64_t j = 0; j < held; ++j) ordered.push_back(by_rank[r][b * held + j]);
    }
  if (static_cast<int64_t>(ordered.size()) != batches * parts)
    throw std::runtime_error("DAPA calibration: the ranks recorded " +
                             std::to_string(ordered.size()) + " parts, expected " +
                             std::to_string(batches * parts));
  pool_recordings(sites, ordered);
}

}  // namespace dapa
