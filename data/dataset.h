// Image classification data sets in one HDF5 file:
//   /train/images uint8 (N, H, W) or (N, C, H, W)   /train/labels uint8 (N)
//   /test/images, /test/labels                       likewise
//   root attributes: source (string), classes, mean and std (per channel, of the
//   training images scaled to [0, 1]), format_version.
// prepare_dataset() writes it from IDX files; load_dataset() reads and validates it;
// DataLoader serves shuffled, normalised batches.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/idx.h"

namespace dapa {

struct ImageSplit {
  std::string name;             // "train" or "test": the group in the file
  std::vector<uint8_t> images;  // (n, channels, height, width); empty when streamed
  Labels labels;                // (n)
  int64_t n = 0;
};

struct Dataset {
  std::string path, source;
  int64_t channels = 1, height = 0, width = 0, classes = 0;
  std::vector<double> mean, std;  // per channel
  ImageSplit train, test;
  std::shared_ptr<class H5Store> file;  // open while images are streamed from it
  int64_t image_size() const { return channels * height * width; }
};

// Checks an image/label IDX pair (counts agree, labels below `classes`) and writes the
// data set file atomically. `source` is recorded as an attribute.
void prepare_dataset(const IdxArray& train_images, const IdxArray& train_labels,
                     const IdxArray& test_images, const IdxArray& test_labels, int64_t classes,
                     const std::string& source, const std::string& out_path);

// Reads and validates a data set file; throws DataError naming the file and the problem.
// By default only labels and statistics are read and each batch's images are read from
// the file when served (small devices: the images never all sit in memory); with
// `preload` all images are read up front.
Dataset load_dataset(const std::string& path, bool preload = false);

// Keeps the first n images of a split (n <= 0 keeps all): quick runs and small devices.
void limit_split(ImageSplit& split, int64_t n, int64_t image_size);

// Seeded batches over one split. The order of epoch e is a permutation drawn from
// (seed, e) alone, so any (epoch, batch) can be served again after a resume.
class DataLoader {
 public:
  DataLoader(const Dataset& data, const ImageSplit& split, int64_t batch, bool shuffle,
             uint64_t seed);
  int64_t batches_per_epoch() const { return (split_.n + batch_ - 1) / batch_; }
  int64_t size() const { return split_.n; }
  // Batch `index` of `epoch`: images (B, C, H, W) normalised with the stored mean and
  // std, and labels. The last batch of an epoch may be smaller.
  void batch(int64_t epoch, int64_t index, Tensor& images, Labels& labels);

 private:
  const Dataset& data_;
  const ImageSplit& split_;
  int64_t batch_;
  bool shuffle_;
  uint64_t seed_;
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;
  std::vector<uint8_t> bytes_;  // the batch's raw images
};

}  // namespace dapa
