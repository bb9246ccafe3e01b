// The DAPA activation sites of a ViT (one per block's MLP, named like their module,
// "blocks.3.mlp.act"): calibration at initialisation, and their tables in files.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "dapa/table_io.h"
#include "data/dataset.h"
#include "nn/table_activation.h"
#include "nn/vit.h"

namespace dapa {

using Sites = std::vector<std::pair<std::string, TableActivation*>>;

// The model's table activations (empty for gelu, relu, ...).
Sites table_sites(Vit& model);

// Runs `batches` training batches through the model without gradients while the sites
// record their inputs, then fits each site's table (or, `shared`, one table from the
// pooled distribution for all). Returns a one-line summary.
// `bound`: the fixed-point DWMSE bound for `:fixed` sites.
std::string calibrate_sites(const Sites& sites, Vit& model, DataLoader& loader, int64_t batches,
                            bool shared, double bound = QuantizeOptions().bound);

// Each site's table from its recorded distribution, or (shared) one table from the
// pooled distribution for all.
void fit_sites(const Sites& sites, bool shared, const QuantizeOptions& q = {});

// The sites' tables as written to files (one named "shared" with the pooled
// distribution when `shared`), and back: each site takes its table or the shared one;
// throws naming `source` and what is missing or disagrees with `--act`.
std::vector<SiteTable> site_tables(const Sites& sites, bool shared);
void apply_site_tables(const std::vector<SiteTable>& tables, const std::string& source,
                       const Sites& sites);

}  // namespace dapa
