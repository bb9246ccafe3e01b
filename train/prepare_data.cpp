// prepare_data: converts IDX image/label files (gzip or raw) into the HDF5 data set
// file that train_vit reads (format in data/dataset.h).
//   prepare_data --fashion-mnist --out data/fashion-mnist.h5
//   prepare_data --train-images A --train-labels B --test-images C --test-labels D
//                --classes 10 --out FILE.h5
#include <CLI/CLI.hpp>

#include "train/cli.h"

#include <cstdio>

#include "data/dataset.h"

int main(int argc, char** argv) {
  CLI::App app{"Convert IDX image/label pairs into one HDF5 data set for train_vit."};
  std::string out, train_images, train_labels, test_images, test_labels;
  std::string fmnist_dir = "/usr/share/datasets/fashion-mnist";
  bool fashion_mnist = false;
  int64_t classes = 10;
  app.add_option("--out", out, "HDF5 file to write (replaced atomically)")->required();
  auto* fm = app.add_flag("--fashion-mnist", fashion_mnist,
                          "take Fashion-MNIST from Debian's dataset-fashion-mnist package");
  app.add_option("--fashion-mnist-dir", fmnist_dir, "where the package's files are")
      ->capture_default_str();
  auto* a = app.add_option("--train-images", train_images, "IDX training images (.gz or raw)");
  auto* b = app.add_option("--train-labels", train_labels, "IDX training labels");
  auto* c = app.add_option("--test-images", test_images, "IDX test images");
  auto* d = app.add_option("--test-labels", test_labels, "IDX test labels");
  app.add_option("--classes", classes, "number of classes; labels must be below it")
      ->check(CLI::Range(2, 256))
      ->capture_default_str();
  for (auto* opt : {a, b, c, d}) opt->excludes(fm);
  dapa::cli::one_line_errors(app, "prepare_data");
  CLI11_PARSE(app, argc, argv);
  std::string source = "idx";
  if (fashion_mnist) {
    train_images = fmnist_dir + "/train-images-idx3-ubyte.gz";
    train_labels = fmnist_dir + "/train-labels-idx1-ubyte.gz";
    test_images = fmnist_dir + "/t10k-images-idx3-ubyte.gz";
    test_labels = fmnist_dir + "/t10k-labels-idx1-ubyte.gz";
    source = "fashion-mnist (" + fmnist_dir + ")";
  } else if (train_images.empty() || train_labels.empty() || test_images.empty() ||
             test_labels.empty()) {
    std::fprintf(stderr,
                 "prepare_data: give --fashion-mnist, or all of --train-images, --train-labels, "
                 "--test-images and --test-labels\n");
    return 2;
  }
  try {
    dapa::IdxArray tri = dapa::read_idx(train_images), trl = dapa::read_idx(train_labels);
    dapa::IdxArray tei = dapa::read_idx(test_images), tel = dapa::read_idx(test_labels);
    dapa::prepare_dataset(tri, trl, tei, tel, classes, source, out);
    std::printf("prepare_data: wrote %s (%lld training and %lld test images of %s)\n", out.c_str(),
                static_cast<long long>(tri.shape[0]), static_cast<long long>(tei.shape[0]),
                dapa::shape_str(dapa::Shape(tri.shape.begin() + 1, tri.shape.end())).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prepare_data: %s\n", e.what());
    dapa::cli::exit_after_error(1);
  }
}
