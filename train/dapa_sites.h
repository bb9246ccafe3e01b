// The DAPA activation sites of a ViT (one per block's MLP, named like their module,
// "blocks.3.mlp.act"): calibration at initialisation, and their tables in files.
#pragma once

#include <string>
#include <utility>
#include <vector>

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
std::string calibrate_sites(const Sites& sites, Vit& model, DataLoader& loader, int64_t batches,
                            bool shared);

void save_site_tables(const std::string& path, const Sites& sites, bool shared);
// Sets each site's table from a file holding one per site or one named "shared";
// throws naming the file and what is missing or disagrees with `--act`.
void load_site_tables(const std::string& path, const Sites& sites);

}  // namespace dapa
