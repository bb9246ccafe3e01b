// DAPA sites of a model; see dapa_sites.h.
#include "nn/dapa_sites.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "autograd/variable.h"

namespace dapa {

Sites table_sites(Module& model) {
  Sites sites;
  for (auto& [name, act] : model.named_activations())
    if (auto* t = dynamic_cast<TableActivation*>(act)) sites.emplace_back(name, t);
  return sites;
}

std::string calibrate_sites(const Sites& sites, const std::function<int64_t(int64_t)>& run_batch,
                            int64_t batches, bool shared, const std::string& unit, double bound,
                            const std::function<void()>& pool) {
  if (batches < 1) throw std::invalid_argument("--dapa-calib-batches: expected at least 1");
  if (sites.empty()) return "";
  NoGradGuard no_grad;
  int64_t examples = 0;
  for (int64_t b = 0; b < batches; ++b) examples += run_batch(b);
  if (pool) pool();
  fit_sites(sites, shared, QuantizeOptions{bound});
  return "calibrated " + std::to_string(sites.size()) + " DAPA site(s) on " +
         std::to_string(examples) + " " + unit + (shared ? " (one shared table)" : "");
}

bool sites_recording(const Sites& sites) {
  return std::any_of(sites.begin(), sites.end(),
                     [](const auto& s) { return s.second->recording(); });
}

std::vector<Distribution> take_recordings(const Sites& sites) {
  std::vector<Distribution> taken;
  for (auto& [name, site] : sites) taken.push_back(site->take_recorded());
  return taken;
}

void pool_recordings(const Sites& sites, const std::vector<std::vector<Distribution>>& parts) {
  for (size_t i = 0; i < sites.size(); ++i) {
    Distribution pooled;
    for (const std::vector<Distribution>& part : parts) {
      if (part.size() != sites.size())
        throw std::invalid_argument("pool_recordings: a part recorded " +
                                    std::to_string(part.size()) + " sites, the model has " +
                                    std::to_string(sites.size()));
      pooled.merge(part[i]);
    }
    sites[i].second->set_recorded(std::move(pooled));
  }
}

namespace {
// A shared table's name: "shared" for the MLP activations (as files have always named
// it), "shared.softmax" for the attention softmax's exp; each pools its own sites.
std::string shared_name(const TableActivation& site) {
  return site.spec().softmax ? "shared.softmax" : "shared";
}

// The sites grouped by the shared table they would take, in order of first appearance.
std::vector<Sites> shared_groups(const Sites& sites) {
  std::vector<Sites> groups;
  for (const auto& entry : sites) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Sites& g) {
      return shared_name(*g.front().second) == shared_name(*entry.second);
    });
    if (it == groups.end())
      groups.push_back({entry});
    else
      it->push_back(entry);
  }
  return groups;
}

// What a group's sites recorded, pooled: the distribution a shared table is fitted from.
Distribution pooled_distribution(const Sites& sites) {
  Distribution pooled;
  for (auto& [name, site] : sites) pooled.merge(site->distribution());
  return pooled;
}

SiteTable site_table(const std::string& name, const TableActivation& site, Distribution d) {
  SiteTable t{name,        site.table(), d.count() > 0, std::move(d), site.fixed_table() != nullptr,
              FixedTable()};
  if (t.has_fixed) t.fixed = *site.fixed_table();
  return t;
}
}  // namespace

void fit_sites(const Sites& sites, bool shared, const QuantizeOptions& q) {
  if (!shared) {
    for (auto& [name, site] : sites) site->fit(q);
    return;
  }
  for (const Sites& group : shared_groups(sites)) {
    TableActivation* first = group.front().second;
    first->fit_from(pooled_distribution(group), q);
    for (auto& [name, site] : group)
      if (site != first) site->set_table(first->table(), first->fixed_table());
  }
}

std::vector<SiteTable> site_tables(const Sites& sites, bool shared) {
  std::vector<SiteTable> tables;
  if (shared)
    for (const Sites& group : shared_groups(sites))
      tables.push_back(site_table(shared_name(*group.front().second), *group.front().second,
                                  pooled_distribution(group)));
  else
    for (auto& [name, site] : sites)
      tables.push_back(site_table(name, *site, site->distribution()));
  return tables;
}

void apply_site_tables(const std::vector<SiteTable>& tables, const std::string& path,
                       const Sites& sites) {
  std::map<std::string, SiteTable> by_name;
  for (const SiteTable& s : tables) by_name[s.site] = s;
  std::set<std::string> shared_taken;
  for (auto& [name, site] : sites) {
    auto it = by_name.find(name);
    // What the table was fitted from goes back to the site (a resumed run saves it as
    // the uninterrupted one would); a shared table's pooled distribution to the first
    // site taking it, as site_tables pools it again in site order.
    bool own = it != by_name.end();
    if (!own) it = by_name.find(shared_name(*site));
    if (it == by_name.end())
      throw std::runtime_error(path + ": no table for site '" + name + "' (and no '" +
                               shared_name(*site) + "' one)");
    const SiteTable& t = it->second;
    if (t.table.segments() != site->table_segments())
      throw std::runtime_error(path + ": table '" + it->first + "' has " +
                               std::to_string(t.table.segments()) + " segments but --act " +
                               site->name() + " asks for " +
                               std::to_string(site->table_segments()));
    if (site->spec().fixed && !t.has_fixed && !t.has_distribution)
      throw std::runtime_error(path + ": table '" + it->first +
                               "' has neither a fixed-point table nor the distribution to "
                               "quantise one for --act " +
                               site->name());
    try {
      site->set_table(t.table, t.has_fixed ? &t.fixed : nullptr,
                      t.has_distribution ? &t.distribution : nullptr);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(path + ": table '" + it->first + "': " + e.what());
    }
    bool first_of_shared = !own && shared_taken.insert(it->first).second;
    site->set_recorded(t.has_distribution && (own || first_of_shared) ? t.distribution
                                                                      : Distribution());
  }
}

}  // namespace dapa
