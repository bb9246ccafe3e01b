// DAPA sites of a ViT; see dapa_sites.h.
#include "train/dapa_sites.h"

#include <map>
#include <stdexcept>

#include "autograd/variable.h"
#include "dapa/table_io.h"

namespace dapa {

Sites table_sites(Vit& model) {
  Sites sites;
  for (size_t i = 0; i < model.blocks.size(); ++i)
    if (auto* t = dynamic_cast<TableActivation*>(model.blocks[i]->mlp.act.get()))
      sites.emplace_back("blocks." + std::to_string(i) + ".mlp.act", t);
  return sites;
}

std::string calibrate_sites(const Sites& sites, Vit& model, DataLoader& loader, int64_t batches,
                            bool shared) {
  if (batches < 1) throw std::invalid_argument("--dapa-calib-batches: expected at least 1");
  if (sites.empty()) return "";
  NoGradGuard no_grad;
  Tensor x;
  Labels y;
  int64_t images = 0;
  for (int64_t b = 0; b < std::min(batches, loader.batches_per_epoch()); ++b) {
    loader.batch(0, b, x, y);
    model.forward(x);
    images += static_cast<int64_t>(y.size());
  }
  if (shared) {
    Distribution pooled;
    for (auto& [name, site] : sites) pooled.merge(site->distribution());
    PiecewiseLinear table = fit_dapa(pooled, sites.front().second->segments(), Target::GeluErf);
    for (auto& [name, site] : sites) site->set_table(table);
  } else {
    for (auto& [name, site] : sites) site->fit();
  }
  return "calibrated " + std::to_string(sites.size()) + " DAPA site(s) on " +
         std::to_string(images) + " training images" + (shared ? " (one shared table)" : "");
}

void save_site_tables(const std::string& path, const Sites& sites, bool shared) {
  std::vector<SiteTable> tables;
  for (auto& [name, site] : sites) {
    tables.push_back({shared ? "shared" : name, site->table(), site->distribution().count() > 0,
                      site->distribution()});
    if (shared) break;
  }
  save_tables(path, tables);
}

void load_site_tables(const std::string& path, const Sites& sites) {
  std::map<std::string, PiecewiseLinear> by_name;
  for (SiteTable& s : load_tables(path)) by_name[s.site] = s.table;
  for (auto& [name, site] : sites) {
    auto it = by_name.find(name);
    if (it == by_name.end()) it = by_name.find("shared");
    if (it == by_name.end())
      throw std::runtime_error(path + ": no table for site '" + name + "' (and no 'shared' one)");
    if (it->second.segments() != site->segments())
      throw std::runtime_error(path + ": table '" + it->first + "' has " +
                               std::to_string(it->second.segments()) + " segments but --act " +
                               site->name() + " asks for " + std::to_string(site->segments()));
    site->set_table(it->second);
  }
}

}  // namespace dapa
