// Writes the fuzzers' seed corpora (committed in tests/fuzz/corpus/): one small valid
// file of each kind each harness reads, made by the project's own writers.
//   fuzz_make_seeds tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/h5.h"
#include "dapa/distribution.h"
#include "dapa/fit.h"
#include "dapa/fixed_point.h"
#include "dapa/table_io.h"
#include "data/dataset.h"
#include "data/text.h"
#include "data/tokenizer.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/vit.h"

namespace fs = std::filesystem;
using namespace dapa;

namespace {
IdxArray images(int64_t n, int64_t h, int64_t w) {
  IdxArray a{{n, h, w}, {}};
  for (int64_t i = 0; i < n * h * w; ++i) a.data.push_back(static_cast<uint8_t>(i * 37 % 251));
  return a;
}

IdxArray labels(int64_t n) {
  IdxArray a{{n}, {}};
  for (int64_t i = 0; i < n; ++i) a.data.push_back(static_cast<uint8_t>(i % 3));
  return a;
}

std::vector<SiteTable> tables() {
  Distribution d(256);  // few bins: a small seed
  for (int i = 0; i < 4000; ++i) {
    float x = static_cast<float>(i % 401) / 100.0f - 2.0f;
    d.add(&x, 1);
  }
  SiteTable dapa_site{"blocks.0.mlp.act",
                      fit_dapa(d, 4, find_function("gelu"), DerivativeMode::Slope),
                      true,
                      d,
                      false,
                      FixedTable()};
  dapa_site.fixed = quantize_table(dapa_site.table, d, QuantizeOptions());
  dapa_site.has_fixed = true;
  SiteTable pwl_site{
      "shared", fit_pwl(4, find_function("gelu-tanh")), false, Distribution(), false, FixedTable()};
  return {dapa_site, pwl_site};
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  fs::path root = argv[1];
  for (const char* d : {"idx", "dataset", "checkpoint", "table_h5", "table_json", "text"})
    fs::create_directories(root / d);
  write_idx((root / "idx/images.idx").string(), images(3, 4, 4));
  write_idx((root / "idx/images.idx.gz").string(), images(3, 4, 4));
  write_idx((root / "idx/labels.idx.gz").string(), labels(5));
  prepare_dataset(images(6, 8, 8), labels(6), images(2, 8, 8), labels(2), 3, "seed",
                  (root / "dataset/small.h5").string());

  VitConfig c;
  c.model = "fuzz", c.height = 8, c.width = 8, c.dim = 8, c.depth = 1, c.heads = 2;
  c.mlp_hidden = 16, c.classes = 3;
  Rng rng(1);
  Vit model(c, rng);
  AdamW optimizer(param_groups(model), 0.05f);
  CheckpointMeta meta{3, 1, rng.state(), "fuzz", "{\"recipe\": {}}"};
  std::vector<SiteTable> sites = tables();
  save_checkpoint((root / "checkpoint/small.h5").string(), model, &optimizer, meta);
  save_checkpoint((root / "table_h5/checkpoint_with_tables.h5").string(), model, nullptr, meta,
                  [&](H5Store& h5) { write_tables(h5, "dapa", sites); });
  save_tables((root / "table_h5/tables.h5").string(), sites);
  save_tables((root / "table_json/tables.json").string(), sites);
  std::vector<TextDocument> docs;
  for (int i = 1; i <= 10; ++i)
    docs.push_back({"d" + std::to_string(i), "text " + std::to_string(i)});
  prepare_text(docs, "seed", (root / "text/tokens.h5").string(), *make_tokenizer("byte"));
  std::ofstream((root / "text/brown.txt").string())
      << "\n\n\tThe/at jury/nn said/vbd ``/`` no/at ''/'' ,/, (/( so/rb )/) ./.\n";
  std::printf("fuzz_make_seeds: wrote the corpora under %s\n", root.c_str());
  return 0;
}
