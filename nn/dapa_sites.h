// The DAPA activation sites of a model (its table activations, named like their
// module: "blocks.3.mlp.act", and "blocks.3.attn.softmax" for a table softmax's exp):
// calibration at initialisation, and their tables in files. Shared tables pool the sites
// of one kind: "shared" for the MLP activations, "shared.softmax" for the softmaxes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <functional>

#include "dapa/table_io.h"
#include "nn/module.h"
#include "nn/table_activation.h"

namespace dapa {

using Sites = std::vector<std::pair<std::string, TableActivation*>>;

// The model's table activations (empty for gelu, relu, ...).
Sites table_sites(Module& model);

// Runs batches 0 .. batches-1 through the model without gradients (run_batch(b) runs
// batch b's forward and returns how many examples it held) while the sites record their
// inputs, then fits each site's table (or, `shared`, one table from the pooled
// distribution for all sites of a kind). Returns a one-line summary counting the examples as `unit`
// ("training images"). `bound`: the fixed-point DWMSE bound for `:fixed` sites.
// `pool`, when given, runs after the batches and before the fit: it may replace what
// the sites recorded (recordings taken in parts, pooled across processes).
std::string calibrate_sites(const Sites& sites, const std::function<int64_t(int64_t)>& run_batch,
                            int64_t batches, bool shared, const std::string& unit,
                            double bound = QuantizeOptions().bound,
                            const std::function<void()>& pool = nullptr);

// Each site's table from its recorded distribution, or (shared) one table per kind from
// the pooled distribution of its sites.
void fit_sites(const Sites& sites, bool shared, const QuantizeOptions& q = {});

// Recording in parts (a batch's micro-batches, on one process or on several): what each
// site recorded since the last take, its distribution emptied; and each site's
// distribution as the merge, in part order, of its recordings (parts[p][i]: site i's
// in part p), so that the pooled distribution does not depend on where parts ran.
bool sites_recording(const Sites& sites);
std::vector<Distribution> take_recordings(const Sites& sites);
void pool_recordings(const Sites& sites, const std::vector<std::vector<Distribution>>& parts);

// The sites' tables as written to files (one per kind, "shared" or "shared.softmax", with
// the pooled distribution when `shared`), and back: each site takes its table or its
// kind's shared one, and the distribution it was fitted from (a shared one: the first
// site of the kind); throws naming `source` and what is missing or disagrees with
// `--act`.
std::vector<SiteTable> site_tables(const Sites& sites, bool shared);
void apply_site_tables(const std::vector<SiteTable>& tables, const std::string& source,
                       const Sites& sites);

}  // namespace dapa
